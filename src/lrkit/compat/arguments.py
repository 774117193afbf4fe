"""The argument checks and helpers lrkit's compat schedulers share.

Each takes the owner's name, so a message names the class as the user wrote
it: ``StepLR: `step_size` must be a positive integer, got 0``.
"""

from __future__ import annotations

from typing import Any

import torch

from lrkit.schedules import Constant, Scale, Schedule, Sum
from lrkit.validation import Param, normalize


def check(owner: str, name: str, value: Any, **spec: Any) -> Any:
    """``value`` normalised against ``Param(**spec)``, or a message naming ``owner``."""
    return normalize(owner, name, Param(**spec), value)


def check_optimizer(owner: str, optimizer: Any) -> torch.optim.Optimizer:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{owner}: `optimizer` must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    return optimizer


def check_last_epoch(owner: str, value: Any) -> int:
    return int(check(owner, "last_epoch", value, kind="int", lo=-1))


def per_group(
    owner: str, name: str, optimizer: torch.optim.Optimizer, value: Any, **spec: Any
) -> list[float]:
    """One float per param group from a scalar or a list (torch's ``_format_param``)."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{owner}: `{name}` has {len(value)} values but the optimizer has {n} param groups"
            )
        return [
            float(check(owner, f"{name}[{i}]", one_number(owner, f"{name}[{i}]", v), **spec))
            for i, v in enumerate(value)
        ]
    return [float(check(owner, name, one_number(owner, name, value), **spec))] * n


def one_number(owner: str, name: str, value: Any) -> Any:
    """A one-element tensor as its float (torch accepts them); anything else as it is."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            raise ValueError(
                f"{owner}: `{name}` must be a number or a one-element tensor, "
                f"got a tensor of shape {list(value.shape)}"
            )
        return float(value.detach().reshape(()).cpu())
    return value


def set_momentum(group: dict[str, Any], use_beta1: bool, value: float) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def momentum_kind(owner: str, optimizer: torch.optim.Optimizer) -> bool:
    """``True`` if the optimizer's momentum is ``betas[0]`` (torch's ``use_beta1``)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{owner}: optimizer must support momentum or beta1 with `cycle_momentum` "
            "option enabled"
        )
    return "betas" in optimizer.defaults


class NativeSchedules:
    """``schedules``: each hyperparameter a compat scheduler drives, as a list of one
    native schedule per param group -- ``{"lr": [...]}``, the shape of
    :attr:`lrkit.ScheduledLR.schedules` (and of every compat module's)."""

    @property
    def schedules(self) -> dict[str, list[Schedule]]:
        return {"lr": self.lr_schedules}  # type: ignore[attr-defined]


def above(low: float, wave: Schedule, high: float, owner: str) -> Schedule:
    """``low + (high - low) * wave``: a unit wave between two absolute values."""
    if high < low:
        raise ValueError(f"{owner}: no native schedule for a wave from {low} up to {high}")
    return Sum((Constant(low), Scale(wave, high - low)))


def delegated(holder: str, name: str) -> Any:
    """An attribute kept on ``self.<holder>`` under ``name`` (the anchor's name outside)."""
    return property(
        lambda self: getattr(getattr(self, holder), name),
        lambda self, value: setattr(getattr(self, holder), name, value),
    )


def save_callable(fn: Any) -> dict[str, Any] | None:
    import types

    if isinstance(fn, Schedule):
        return {"schedule": fn.to_dict()}
    return None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)


def load_callable(fn: Any, saved: dict[str, Any] | None) -> Any:
    if saved is None:
        return fn
    if isinstance(fn, Schedule):
        if "schedule" in saved:
            return Schedule.from_dict(saved["schedule"])
        # torch's own state dict keeps the object's ``__dict__``: its fields
        return type(fn)(**{k: v for k, v in saved.items() if not k.startswith("_")})
    fn.__dict__.update(saved)
    return fn


__all__ = [
    "NativeSchedules",
    "above",
    "check",
    "check_last_epoch",
    "check_optimizer",
    "delegated",
    "load_callable",
    "momentum_kind",
    "one_number",
    "per_group",
    "save_callable",
    "set_momentum",
]
