"""Property tests over random valid schedules of every registered family."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrkit.schedules import (
    WSD,
    Join,
    Schedule,
    SpecError,
    WarmupCosine,
    list_schedules,
    parse,
)

from . import strategies

PROFILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
STEPS = np.concatenate([np.linspace(0, 2000, 4001), [1e5, 1e7, 1e9]])


@pytest.mark.parametrize("name", list_schedules())
@PROFILE
@given(data=st.data())
def test_values_are_finite_within_bounds_and_monotone_as_declared(
    name: str, data: st.DataObject
) -> None:
    s = data.draw(strategies.of(name))
    values = s(STEPS)
    assert not np.isnan(values).any()
    lo, hi = s.bounds()
    tol = 1e-9 * max(1.0, abs(hi) if math.isfinite(hi) else 1.0)
    assert (values >= lo - tol).all() and (values <= hi + tol).all(), (str(s), lo, hi)
    direction = s.monotone()
    with np.errstate(invalid="ignore"):
        diffs = np.diff(values)  # inf - inf for unbounded growth
    diffs = diffs[np.isfinite(diffs)]
    if direction in (1, -1):
        assert (direction * diffs >= -1e-9).all(), str(s)
    elif direction == 0:
        assert np.ptp(values) <= 1e-12


@PROFILE
@given(s=strategies.ANY, t=st.floats(0, 1e7))
def test_scalar_equals_vectorised(s: Schedule, t: float) -> None:
    vector = s(np.array([t, t]))
    assert s(t) == pytest.approx(float(vector[0]), rel=1e-12, abs=1e-300)


@PROFILE
@given(s=strategies.ANY)
def test_serialisation_round_trips(s: Schedule) -> None:
    assert parse(str(s)) == s
    assert Schedule.from_dict(s.to_dict()) == s


def _continuity_gaps(s: Schedule) -> list[float]:
    # 1e-12 before each boundary: a 1-sqrt segment is continuous with infinite slope
    # at one end, so its gap there is sqrt(1e-12) times its height
    return [abs(s(b) - s(b - 1e-12)) for b in s.breakpoints() if b >= 1]


@PROFILE
@given(s=st.one_of(strategies.of("warmup_cosine"), strategies.of("wsd"), strategies.join()))
def test_join_boundaries_are_continuous_where_declared(s: Schedule) -> None:
    if isinstance(s, (WarmupCosine, WSD)):
        assert s.continuous(), "warmup+cosine and WSD declare continuity"
    if s.continuous():
        assert max(_continuity_gaps(s), default=0.0) < 1e-5
    elif isinstance(s, Join):
        # declared discontinuous: some boundary jumps, or a phase is itself discontinuous
        jumps = [abs(a - b) for a, b in s._phase_ends()]
        assert max(jumps, default=0.0) > 1e-12 or not all(p.continuous() for p in s.schedules)


SPEC_ALPHABET = "cosinelartwupmx_()[]=,.0123456789-+eE '\"; "


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.text(alphabet=SPEC_ALPHABET, max_size=60)))
def test_parser_raises_only_spec_error(text: str) -> None:
    try:
        parse(text)
    except SpecError:
        pass


@settings(max_examples=300, deadline=None)
@given(s=strategies.ANY, data=st.data())
def test_parser_on_mutated_specs(s: Schedule, data: st.DataObject) -> None:
    text = str(s)
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 3)))
    insert = data.draw(st.text(alphabet=SPEC_ALPHABET, max_size=3))
    try:
        parse(text[:i] + insert + text[j:])
    except SpecError:
        pass
