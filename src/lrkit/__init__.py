"""lrkit: the learning rate, from schedule to optimizer to the tools to choose them.

``import lrkit`` and :mod:`lrkit.schedules` need only NumPy. Names that need an
optional dependency (matplotlib, torch) are imported on first use, and a
missing dependency raises an ``ImportError`` that says what to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lrkit import schedules
from lrkit.schedules import Schedule, parse

if TYPE_CHECKING:  # the lazy names below, for type checkers and the API reference
    from lrkit.checkpoint import load_checkpoint, save_checkpoint
    from lrkit.horizon import HorizonWarning, check_horizon, steps_per_epoch, training_steps
    from lrkit.lr_scheduler import ScheduledLR
    from lrkit.scaling import scale_lr
    from lrkit.tools.plot import plot_schedules, sample
    from lrkit.tools.range_test import RangeTestResult, range_test

__version__ = "0.1.0"
"""The version of this lrkit."""

# name -> module that defines it, imported on first attribute access
_LAZY = {
    "ScheduledLR": "lrkit.lr_scheduler",
    "save_checkpoint": "lrkit.checkpoint",
    "load_checkpoint": "lrkit.checkpoint",
    "plot_schedules": "lrkit.tools.plot",
    "sample": "lrkit.tools.plot",
    "steps_per_epoch": "lrkit.horizon",
    "training_steps": "lrkit.horizon",
    "check_horizon": "lrkit.horizon",
    "HorizonWarning": "lrkit.horizon",
    "scale_lr": "lrkit.scaling",
    "range_test": "lrkit.tools.range_test",
    "RangeTestResult": "lrkit.tools.range_test",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lrkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "HorizonWarning",
    "RangeTestResult",
    "Schedule",
    "ScheduledLR",
    "__version__",
    "check_horizon",
    "load_checkpoint",
    "parse",
    "plot_schedules",
    "range_test",
    "sample",
    "save_checkpoint",
    "scale_lr",
    "schedules",
    "steps_per_epoch",
    "training_steps",
]
