"""Bad input: a ValueError/TypeError at construction naming the class, the argument
the user passed and the constraint; never an inner class's name for a recipe."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrkit.schedules import (
    WSD,
    Clip,
    Constant,
    Cosine,
    Cyclic,
    Exponential,
    Join,
    Linear,
    Multiplicative,
    MultiStep,
    OneCycle,
    Piecewise,
    RAdamWarmup,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
    Tanh,
    Warmup,
    WarmupCosine,
)

CASES = [
    (lambda: Cosine(steps=-3), ValueError, "Cosine: `steps` must be a positive integer, got -3"),
    (lambda: Cosine(steps=0), ValueError, "Cosine: `steps` must be a positive integer, got 0"),
    (lambda: Cosine(steps=10.5), TypeError, "Cosine: `steps` must be a positive integer, got 10.5"),
    (lambda: Cosine(steps=True), TypeError, "`steps` must be a positive integer, got True"),
    (lambda: Cosine(steps="100"), TypeError, "`steps` must be a positive integer, got '100'"),
    (
        lambda: Cosine(steps=10, end=-0.1),
        ValueError,
        "Cosine: `end` must be a non-negative finite number, got -0.1",
    ),
    (
        lambda: Cosine(steps=10, end=math.nan),
        ValueError,
        "`end` must be a non-negative finite number, got nan",
    ),
    (
        lambda: Cosine(steps=10, start=math.inf),
        ValueError,
        "`start` must be a non-negative finite number, got inf",
    ),
    (lambda: Cosine(steps=10, k=0.0), ValueError, "`k` must be a positive finite number, got 0.0"),
    (
        lambda: StepDecay(10, gamma=0.0),
        ValueError,
        "StepDecay: `gamma` must be a positive finite number, got 0.0",
    ),
    (lambda: StepDecay(10, gamma=-0.5), ValueError, "`gamma` must be a positive finite number"),
    (
        lambda: Exponential(gamma=math.inf),
        ValueError,
        "Exponential: `gamma` must be a positive finite number, got inf",
    ),
    (
        lambda: MultiStep([30, 10]),
        ValueError,
        "MultiStep: `milestones` must be a list of at least 1 non-negative integers in non-decreasing order, got [30, 10]",
    ),
    (lambda: MultiStep([]), ValueError, "MultiStep: `milestones` must be a list of at least 1"),
    (lambda: MultiStep(5), TypeError, "MultiStep: `milestones` must be a list"),
    (lambda: MultiStep([1.5]), TypeError, "MultiStep: `milestones` must be a list"),
    (
        lambda: Cyclic(10, mode="triangle"),
        ValueError,
        "Cyclic: `mode` must be one of 'triangular', 'triangular2', 'exp_range', got 'triangle' (did you mean 'triangular'?)",
    ),
    (
        lambda: Cyclic(10, gamma=1.5),
        ValueError,
        "Cyclic: `gamma` must be a number in (0, 1], got 1.5",
    ),
    (
        lambda: Cyclic(10, low=0.9, high=0.5),
        ValueError,
        "Cyclic: `low` must be <= `high` (0.5), got 0.9",
    ),
    (
        lambda: Tanh(10, lower=3.0, upper=-7.0),
        ValueError,
        "Tanh: `lower` must be < `upper` (-7.0), got 3.0",
    ),
    (
        lambda: Warmup(Constant(), 10, shape="exponential"),
        ValueError,
        "Warmup: shape='exponential' needs `start` > 0, got 0.0",
    ),
    (
        lambda: Warmup("cosine", 10),
        TypeError,
        "Warmup: `schedule` must be a Schedule, got 'cosine'",
    ),
    (
        lambda: RAdamWarmup(Constant(), beta2=0.5),
        ValueError,
        "RAdamWarmup: `beta2` must be a number in (0.6, 0.999999], got 0.5",
    ),
    (
        lambda: Join([Constant(), Constant(), Constant()], [10, 10]),
        ValueError,
        "Join: `boundaries` must be strictly increasing",
    ),
    (
        lambda: Join([Constant(), Constant()], []),
        ValueError,
        "Join: `boundaries` must have one entry fewer than `schedules` (2), got 0",
    ),
    (lambda: Join([], []), ValueError, "Join: `schedules` must be a list of at least 1 Schedules"),
    (
        lambda: Join([Constant(), 0.5], [3]),
        TypeError,
        "Join: `schedules` must be a list of at least 1 Schedules",
    ),
    (
        lambda: Piecewise([0, 10], [1.0]),
        ValueError,
        "Piecewise: `steps` and `values` must have the same length, got 2 and 1",
    ),
    (lambda: Piecewise([10, 0], [1.0, 0.0]), ValueError, "Piecewise: `steps` must be a list"),
    (
        lambda: Clip(Constant(), low=0.5, high=0.1),
        ValueError,
        "Clip: `high` must be >= `low` (0.5), got 0.1",
    ),
    (
        lambda: Multiplicative(Constant(0.9), steps=10**8),
        ValueError,
        "Multiplicative: `steps` must be an integer in [1, 10000000], got 100000000",
    ),
    # recipes name their own arguments
    (
        lambda: WarmupCosine(steps=1000, warmup=2000),
        ValueError,
        "WarmupCosine: `warmup` must be less than `steps` (1000), got 2000",
    ),
    (
        lambda: WarmupCosine(steps=100, warmup=-1),
        ValueError,
        "WarmupCosine: `warmup` must be a non-negative integer, got -1",
    ),
    (
        lambda: WarmupCosine(steps=100, end=-1.0),
        ValueError,
        "WarmupCosine: `end` must be a non-negative finite number",
    ),
    (
        lambda: WSD(steps=100, cooldown=80, warmup=30),
        ValueError,
        "WSD: `warmup` + `cooldown` must be at most `steps` (100), got 30 + 80",
    ),
    (lambda: WSD(steps=100, cooldown=10, shape="sqrt"), ValueError, "WSD: `shape` must be one of"),
    (
        lambda: OneCycle(steps=100, pct_start=1.0),
        ValueError,
        "OneCycle: `pct_start` must be a number in (0, 1), got 1.0",
    ),
    (
        lambda: OneCycle(steps=100, pct_start=0.6, three_phase=True),
        ValueError,
        "OneCycle: three_phase=True needs `pct_start` < 0.5, got 0.6",
    ),
    (lambda: OneCycle(steps=100, anneal="cos"), ValueError, "did you mean 'cosine'"),
    (
        lambda: ReduceOnPlateau(factor=1.0),
        ValueError,
        "ReduceOnPlateau: `factor` must be a number in (0, 1), got 1.0",
    ),
    (
        lambda: ReduceOnPlateau(mode="minimum"),
        ValueError,
        "ReduceOnPlateau: `mode` must be one of 'min', 'max'",
    ),
    (
        lambda: ReduceOnPlateau(patience=-1),
        ValueError,
        "ReduceOnPlateau: `patience` must be a non-negative integer",
    ),
]


@pytest.mark.parametrize(("make", "exc", "message"), CASES, ids=[c[2][:50] for c in CASES])
def test_constructor_errors(make: object, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc) as info:
        make()  # type: ignore[operator]
    assert message in str(info.value)


def test_missing_required_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="steps"):
        Cosine()  # type: ignore[call-arg]


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf, 10**400])
def test_bad_scalar_steps(bad: float) -> None:
    with pytest.raises(ValueError, match=r"Cosine: step must be finite and >= 0"):
        Cosine(10)(bad)


def test_bad_array_steps() -> None:
    with pytest.raises(ValueError, match="steps must be finite and >= 0"):
        Cosine(10)(np.array([0.0, -1.0]))
    with pytest.raises(TypeError, match="steps must be numbers"):
        Cosine(10)(np.array(["a"]))
    with pytest.raises(
        TypeError, match="step must be an int, float, NumPy array or torch tensor, got str"
    ):
        Cosine(10)("5")
    with pytest.raises(TypeError):
        Cosine(10)(True)


def test_from_dict_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown schedule 'cosin' \(did you mean 'cosine'\?\)"):
        Schedule.from_dict({"type": "cosin", "steps": 10})
    with pytest.raises(
        ValueError, match=r"Cosine: unknown argument 'stesp' \(did you mean 'steps'\?\)"
    ):
        Schedule.from_dict({"type": "cosine", "stesp": 10})
    with pytest.raises(ValueError, match="unsupported schema `version` 99"):
        Schedule.from_dict({"type": "cosine", "steps": 10, "version": 99})
    with pytest.raises(ValueError, match="unsupported schema `version` True"):
        Schedule.from_dict({"type": "cosine", "steps": 10, "version": True})
    with pytest.raises(ValueError, match="missing key 'type'"):
        Schedule.from_dict({"steps": 10})
    with pytest.raises(ValueError, match="Cosine: `steps` must be a positive integer, got -1"):
        Schedule.from_dict({"type": "cosine", "steps": -1})
    with pytest.raises(ValueError, match="Linear is not a Cosine"):
        Cosine.from_dict(Linear(10).to_dict())
    with pytest.raises(TypeError, match="expected a dict"):
        Schedule.from_dict("cosine(steps=10)")  # type: ignore[arg-type]


def test_nested_dicts_round_trip_through_from_dict() -> None:
    s = Join((Linear(5, 0.0, 1.0), Warmup(Cosine(10), 3)), (5,))
    assert Schedule.from_dict(s.to_dict()) == s
