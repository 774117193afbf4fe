"""Reading and writing a torch param group's hyperparameters by key.

The helpers every scheduler in lrkit shares (:class:`lrkit.ScheduledLR` and
the drop-in classes of ``lrkit.compat``): a key names a group entry or one
element of it (``"lr"``, ``"betas[0]"``), a tensor hyperparameter is filled
in place (no recompiles, no device sync), and the lrs are copied as torch
keeps ``_last_lr``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import torch


@functools.cache  # on every step of every scheduler: parse each key once
def group_key(key: str) -> tuple[str, int | None]:
    """``"betas[0]"`` -> ``("betas", 0)``; ``"lr"`` -> ``("lr", None)``."""
    match = re.fullmatch(r"(\w+)\[(\d)\]", key)
    return (match.group(1), int(match.group(2))) if match else (key, None)


def read(group: dict[str, Any], key: str) -> Any:
    """The value ``key`` names in ``group``."""
    name, index = group_key(key)
    value = group[name]
    return value[index] if index is not None else value


def write(group: dict[str, Any], key: str, value: float) -> None:
    """Set a hyperparameter; tensors are filled in place (no recompiles, no sync)."""
    name, index = group_key(key)
    current = group[name] if index is None else group[name][index]
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    elif index is None:
        group[name] = value
    else:
        items = list(group[name])
        items[index] = value
        group[name] = type(group[name])(items)


def as_float(value: Any) -> float:
    """A group value (a float, a 0-dim tensor, a number) as a Python float."""
    if type(value) is float:  # the common case, on every step
        return value
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def lrs(optimizer: torch.optim.Optimizer) -> list[Any]:
    """Every group's lr as torch keeps ``_last_lr``: tensors copied, never aliased."""
    return [
        g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"]
        for g in optimizer.param_groups
    ]


__all__ = ["as_float", "group_key", "lrs", "read", "write"]
