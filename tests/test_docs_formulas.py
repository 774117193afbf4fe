"""The formulas of docs/schedules.md's table are the ones the code computes.

Each case names the formula as the page writes it (the test fails if the page
changes it) and evaluates the family at steps across its phases against that
formula written in Python. The guides check their own formulas in their code
blocks (tests/test_docs.py runs them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from lrkit.schedules import (
    REX,
    Constant,
    Exponential,
    InverseSqrt,
    InverseTime,
    Linear,
    Noam,
    Polynomial,
    Schedule,
    StepDecay,
    TimeBased,
    UntunedWarmup,
)

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "schedules.md").read_text()
STEPS = [0, 1, 7, 50, 99, 100, 101, 250, 1000, 5000]

CASES: list[tuple[str, Schedule, Callable[[float], float]]] = [
    ("`value`", Constant(0.3), lambda t: 0.3),
    ("`gamma ** floor(t / every)`", StepDecay(every=30, gamma=0.5), lambda t: 0.5 ** (t // 30)),
    ("`gamma ** (t / decay_steps)`", Exponential(0.9, 25), lambda t: 0.9 ** (t / 25)),
    ("`1 / (1 + decay * t / decay_steps)`", InverseTime(0.5, 10), lambda t: 1 / (1 + 0.5 * t / 10)),
    (
        "`lr_k = lr_{k-1} / (1 + decay k)`",
        TimeBased(0.01),
        lambda t: math.prod(1 / (1 + 0.01 * k) for k in range(1, int(t) + 1)),
    ),
    (
        "`(start - end)(1 - t/steps) ** power + end`",
        Polynomial(steps=100, power=3.0, end=0.1, start=0.9),
        lambda t: (0.9 - 0.1) * (1 - min(t, 100) / 100) ** 3.0 + 0.1,
    ),
    (
        "warmup then `sqrt(timescale / (t - warmup + timescale))`",
        InverseSqrt(warmup=50),
        lambda t: t / 50 if t < 50 else math.sqrt(50 / (t - 50 + 50)),
    ),
    (
        "`d_model**-0.5 min(n**-0.5, n warmup**-1.5)`, `n = t + 1`",
        Noam(d_model=64, warmup=40),
        lambda t: 64**-0.5 * min((t + 1) ** -0.5, (t + 1) * 40**-1.5),
    ),
    (
        "`min(1, (t+1)/tau)`",
        UntunedWarmup(Constant(), beta2=0.99),
        lambda t: min(1.0, (t + 1) / 199),  # tau = int(2 / (1 - 0.99)) = 199 in floats
    ),
    (
        "`1 - exp(-(t+1)/tau)`",
        UntunedWarmup(Constant(), beta2=0.99, shape="exponential"),
        lambda t: 1 - math.exp(-(t + 1) / int(1 / (1 - 0.99))),
    ),
    (
        "`(1 - x) / (1 - x/2)`",
        REX(steps=100),
        lambda t: (1 - min(t, 100) / 100) / (1 - min(t, 100) / 200),
    ),
    (
        "Goodfellow's decay to a floor, `end = 0.01 start` usual",
        Linear(steps=100, start=1.0, end=0.01),
        lambda t: (1 - min(t, 100) / 100) * 1.0 + min(t, 100) / 100 * 0.01,
    ),
]


@pytest.mark.parametrize("written, schedule, formula", CASES, ids=[str(c[1]) for c in CASES])
def test_the_table_formula_is_what_the_schedule_computes(
    written: str, schedule: Schedule, formula: Callable[[float], float]
) -> None:
    assert written in PAGE, f"docs/schedules.md no longer says {written}"
    for t in STEPS:
        assert schedule(t) == pytest.approx(formula(t), rel=1e-12, abs=1e-15), t
