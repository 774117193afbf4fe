"""Shared helpers for registry-driven tests: every registered schedule's example,
and alternative values for each of its declared arguments."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from lrkit.schedules import Constant, Linear, Schedule, get, list_schedules
from lrkit.schedules.params import param_of

NAMES = list_schedules()
EXAMPLES = {name: get(name).example() for name in NAMES}

# steps at which every example is compared: edges, fractions, far past the end
GRID = np.concatenate(
    [np.arange(0, 3001, dtype=np.float64), [0.5, 9.99, 10.5, 99.5, 1e4, 12345.5, 1e6, 1e9]]
)


def alternatives(p: Any, value: Any) -> list[Any]:
    """Plausible other values for an argument declared by ``p`` (some may be invalid)."""
    out: list[Any] = [None] if p.nullable and value is not None else []
    if p.kind == "int":
        base = 5 if value is None else value
        out += [base + 1, base * 2, max(base // 2, 1), base - 1, 3, 17]
    elif p.kind == "float":
        base = 0.5 if value is None else value
        out += [base * 0.5, base * 1.5, base + 0.1, base - 0.1, 0.3, 0.9, 2.0, -1.0]
    elif p.kind == "bool":
        out += [not value]
    elif p.kind == "str":
        out += [c for c in p.choices if c != value]
    elif p.kind == "schedule":
        out += [Constant(0.5), Linear(steps=50, start=0.2, end=0.9)]
    elif p.kind in ("ints", "floats"):
        scalar = dataclasses.replace(p, kind=p.kind[:-1], nullable=False)
        for i, v in enumerate(value):
            for alt in alternatives(scalar, v):
                out.append((*value[:i], alt, *value[i + 1 :]))
        out += [value[:-1], (*value, value[-1])]
    elif p.kind == "schedules":
        for i in range(len(value)):
            out.append((*value[:i], Constant(0.3), *value[i + 1 :]))
    return out


def variants(schedule: Schedule, field: str) -> list[Schedule]:
    """Valid schedules that differ from ``schedule`` in ``field`` only."""
    f = next(f for f in dataclasses.fields(schedule) if f.name == field)  # type: ignore[arg-type]
    out = []
    for alt in alternatives(param_of(f), getattr(schedule, field)):
        try:
            out.append(dataclasses.replace(schedule, **{field: alt}))  # type: ignore[type-var]
        except (TypeError, ValueError):
            continue
    return out
