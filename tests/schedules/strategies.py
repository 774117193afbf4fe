"""Hypothesis strategies for valid schedules, generated from the declared parameters."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from lrkit.schedules import (
    Constant,
    Cosine,
    Join,
    Linear,
    Piecewise,
    Schedule,
    StepDecay,
    get,
    list_schedules,
)
from lrkit.schedules.params import param_of
from lrkit.validation import Param

SIMPLE = [Constant(0.5), Linear(50, 0.2, 1.0), Cosine(30, end=0.1), StepDecay(10, 0.5)]


def for_param(p: Param) -> st.SearchStrategy[Any]:
    if p.kind in ("ints", "floats"):
        elem = for_param(dataclasses.replace(p, kind=p.kind[:-1], nullable=False))
        lists = st.lists(elem, min_size=max(p.min_len, 1), max_size=5)
        base: st.SearchStrategy[Any] = lists.map(sorted) if p.increasing else lists
    elif p.kind == "schedules":
        base = st.lists(st.sampled_from(SIMPLE), min_size=max(p.min_len, 1), max_size=3)
    elif p.kind == "schedule":
        base = st.sampled_from(SIMPLE)
    elif p.kind == "bool":
        base = st.booleans()
    elif p.kind == "str":
        base = st.sampled_from(p.choices or ())
    elif p.kind == "int":
        lo = int(p.lo) if p.lo is not None else 0
        base = st.integers(lo, min(int(p.hi) if p.hi is not None else lo + 400, lo + 400))
    else:
        lo = p.lo if p.lo is not None else -8.0
        hi = p.hi if p.hi is not None else lo + 3.0
        base = st.floats(lo, hi, exclude_min=p.lo_open, exclude_max=p.hi_open, allow_nan=False)
    return st.one_of(st.none(), base) if p.nullable else base


@st.composite
def join(draw: st.DrawFn) -> Schedule:
    phases = draw(st.lists(st.sampled_from(SIMPLE), min_size=1, max_size=4))
    cuts = draw(
        st.lists(
            st.integers(1, 300), min_size=len(phases) - 1, max_size=len(phases) - 1, unique=True
        )
    )
    return Join(tuple(phases), tuple(sorted(cuts)))


@st.composite
def piecewise(draw: st.DrawFn) -> Schedule:
    n = draw(st.integers(1, 5))
    knots = sorted(draw(st.lists(st.floats(0, 300), min_size=n, max_size=n)))
    values = draw(st.lists(st.floats(0, 2), min_size=n, max_size=n))
    shape = draw(st.sampled_from(["constant", "linear", "cosine", "1-sqrt"]))
    return Piecewise(tuple(knots), tuple(values), shape)


SPECIAL = {"join": join(), "piecewise": piecewise()}


def of(name: str) -> st.SearchStrategy[Schedule]:
    """Valid instances of the schedule registered as ``name``."""
    if name in SPECIAL:
        return SPECIAL[name]
    cls = get(name)
    fields = {f.name: for_param(param_of(f)) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    def build(kwargs: dict[str, Any]) -> Schedule | None:
        try:
            return cls(**kwargs)
        except (TypeError, ValueError):
            return None

    return st.fixed_dictionaries(fields).map(build).filter(lambda s: s is not None)  # type: ignore[return-value]


ANY = st.sampled_from(list_schedules()).flatmap(of)
