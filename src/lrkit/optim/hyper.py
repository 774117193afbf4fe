"""Hyperparameter values: what each accepts, torch's keywords, tensors in param groups.

Note [tensor hyperparameters]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
As in torch, a hyperparameter may be a one-element tensor (``lr``, each of
``betas``, ``weight_decay``, ...): it stays in the param group as given, so
ScheduledLR fills it in place and a compiled step does not recompile. The
update reads ``lr`` as a tensor on every path; every other tensor value is read
as a float at the start of the step (:func:`step_values`), which on a GPU costs
one device-to-host copy per tensor per step. A tensor of more than one element
is a ``ValueError`` with torch's wording (``Tensor lr must be 1-element``).

Note [torch keywords]
~~~~~~~~~~~~~~~~~~~~~
Every optimizer also takes torch.optim's ``foreach``, ``fused``,
``capturable`` and ``differentiable``, so that swapping the import is enough.
``fused=True`` means ``impl="fused"``, ``foreach=True`` ``impl="foreach"``,
``foreach=False`` the per-tensor loop (``impl="reference"``) and
``fused=False`` ``impl="foreach"``; with ``impl`` left at ``"auto"`` they
choose, and an ``impl`` that disagrees with them is an error. ``capturable``
and ``differentiable`` are accepted at their default, ``False``; ``True`` is a
``ValueError``: lrkit's steps read the step count on the host and run under
``no_grad``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from torch import Tensor

from lrkit.validation import Param, did_you_mean, normalize

IMPLS = ("auto", "reference", "foreach", "fused")
TORCH_KEYWORDS = ("foreach", "fused", "capturable", "differentiable")

# common constraints
LR = Param("float", lo=0.0)
NONNEG = Param("float", lo=0.0)
POSITIVE = Param("float", lo=0.0, lo_open=True)
UNIT = Param("float", lo=0.0, hi=1.0)
BETA = Param("float", lo=0.0, hi=1.0, hi_open=True)
FLAG = Param("bool")
MAX_GRAD_NORM = dataclasses.replace(POSITIVE, nullable=True)


def check_value(owner: str, name: str, spec: Param, value: Any) -> Any:
    """``normalize``, also for a one-element floating tensor, which is kept as given
    (Note [tensor hyperparameters])."""
    if not isinstance(value, Tensor):
        return normalize(owner, name, spec, value)
    if spec.kind != "float":
        raise TypeError(f"{owner}: `{name}` must be {spec.describe()}, got a tensor")
    if value.numel() != 1:
        raise ValueError(f"{owner}: Tensor {name} must be 1-element, got shape {list(value.shape)}")
    if not value.is_floating_point():
        raise TypeError(f"{owner}: `{name}` must be a floating tensor, got {value.dtype}")
    normalize(owner, name, spec, float(value.detach().reshape(()).cpu()))
    return value


def check_lr(owner: str, value: Any) -> float | Tensor:
    """A non-negative finite float, or a one-element floating tensor holding one."""
    return check_value(owner, "lr", LR, value)  # type: ignore[no-any-return]


def check_betas(owner: str, value: Any, spec: Param = BETA) -> tuple[Any, Any]:
    """A pair of numbers (or one-element tensors) each allowed by ``spec``."""
    if (
        isinstance(value, (str, bytes, Tensor))
        or not isinstance(value, Sequence)
        or len(value) != 2
    ):
        raise TypeError(f"{owner}: `betas` must be a pair of numbers, got {value!r}")
    return (
        check_value(owner, "betas[0]", spec, value[0]),
        check_value(owner, "betas[1]", spec, value[1]),
    )


def check_impl(owner: str, impl: Any) -> str:
    if not isinstance(impl, str):
        raise TypeError(
            f"{owner}: `impl` must be one of {', '.join(map(repr, IMPLS))}, got {impl!r}"
        )
    if impl not in IMPLS:
        raise ValueError(
            f"{owner}: `impl` must be one of {', '.join(map(repr, IMPLS))}, got {impl!r}"
            + did_you_mean(impl, IMPLS)
        )
    return impl


def impl_from_torch_keywords(owner: str, impl: Any, keywords: Mapping[str, Any]) -> str:
    """Note [torch keywords]: the ``impl`` that ``impl`` and torch's keywords ask for."""
    chosen = check_impl(owner, impl)
    for name in keywords:
        if name not in TORCH_KEYWORDS:
            raise TypeError(
                f"{owner}.__init__() got an unexpected keyword argument {name!r}"
                + did_you_mean(name, TORCH_KEYWORDS)
            )
    foreach, fused = keywords.get("foreach"), keywords.get("fused")
    for name in ("foreach", "fused"):
        normalize(owner, name, Param("bool", nullable=True), keywords.get(name))
    for name in ("capturable", "differentiable"):
        if normalize(owner, name, Param("bool"), keywords.get(name, False)):
            why = (
                "lrkit's steps read the step count on the host"
                if name == "capturable"
                else "lrkit's steps run under torch.no_grad()"
            )
            raise ValueError(f"{owner}: `{name}=True` is not supported: {why}")
    if foreach and fused:
        raise ValueError(f"{owner}: `fused` and `foreach` cannot be `True` together.")
    wanted: str | None = (
        "fused" if fused else "foreach" if foreach else "reference" if foreach is False
        else "foreach" if fused is False else None
    )  # fmt: skip
    if wanted is None or chosen == wanted:
        return chosen
    if chosen != "auto":
        given = ", ".join(f"{k}={keywords[k]}" for k in ("foreach", "fused") if k in keywords)
        raise ValueError(f"{owner}: `impl={chosen!r}` and `{given}` disagree; give one of them")
    return wanted


def step_values(group: dict[str, Any]) -> MutableMapping[str, Any]:
    """``group`` as the update reads it: every tensor hyperparameter but ``lr`` (and
    tensors inside tuples, ``betas``) as a float; writes go to ``group`` (Note [tensor
    hyperparameters]). The group itself when it holds no such tensor."""
    if not any(_tensor_valued(k, v) for k, v in group.items()):
        return group
    return _FloatView(group)


def _tensor_valued(key: str, value: Any) -> bool:
    if key in ("params", "lr") or key.startswith("initial_"):
        return False
    if isinstance(value, Tensor):
        return True
    return isinstance(value, tuple) and any(isinstance(v, Tensor) for v in value)


def _as_float(value: Any) -> Any:
    if isinstance(value, Tensor):
        return float(value.detach().reshape(()).cpu())
    if isinstance(value, tuple):
        return tuple(_as_float(v) for v in value)
    return value


class _FloatView(MutableMapping[str, Any]):
    """A param group whose tensor hyperparameters read as floats (writes pass through)."""

    def __init__(self, group: dict[str, Any]) -> None:
        self.group = group
        self.floats = {k: _as_float(v) for k, v in group.items() if _tensor_valued(k, v)}

    def __getitem__(self, key: str) -> Any:
        return self.floats[key] if key in self.floats else self.group[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.floats.pop(key, None)
        self.group[key] = value

    def __delitem__(self, key: str) -> None:
        self.floats.pop(key, None)
        del self.group[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.group)

    def __len__(self) -> int:
        return len(self.group)


__all__ = [
    "BETA",
    "FLAG",
    "IMPLS",
    "LR",
    "MAX_GRAD_NORM",
    "NONNEG",
    "POSITIVE",
    "TORCH_KEYWORDS",
    "UNIT",
    "check_betas",
    "check_impl",
    "check_lr",
    "check_value",
    "impl_from_torch_keywords",
    "step_values",
]
