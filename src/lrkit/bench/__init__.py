"""``lrkit bench``: which optimizer, schedule and learning rate -- answered with evidence.

A sweep is an Optuna study (``storage.py``: Note [exactly once]): a config
(:func:`read_config`) names a task, optimizers, schedules, learning rates
and seeds; :func:`run` runs every configuration once, in this process, in
local worker processes or as Ray tasks, all on one storage (an SQLite file by
default, any Optuna URL for clusters); :func:`load` reads the trials back as
rows; :func:`write_report` renders them; the presets (:data:`PRESETS`) are
studies of claims practitioners repeat.

>>> from lrkit.bench import read_config
>>> cfg = read_config({"task": "quadratic", "steps": 20, "lr": [0.01, 0.1], "seeds": 2})
>>> len(cfg.configurations())
4
"""

from __future__ import annotations

from lrkit.bench.config import Config, LRRange, TrialConfig, read_config
from lrkit.bench.engine import SweepSummary, run
from lrkit.bench.presets import PRESETS, Preset
from lrkit.bench.report import write_report
from lrkit.bench.results import Row, load

__all__ = [
    "PRESETS",
    "Config",
    "LRRange",
    "Preset",
    "Row",
    "SweepSummary",
    "TrialConfig",
    "load",
    "read_config",
    "run",
    "write_report",
]
