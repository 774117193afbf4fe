"""Hand-computed values at the edges of every family: 0, boundary-1, boundary,
end, end+1 and a very large t (Note [step convention])."""

from __future__ import annotations

import itertools
import math

import pytest

from lrkit.schedules import (
    REX,
    WSD,
    Clip,
    Constant,
    Cosine,
    CosineRestarts,
    Cyclic,
    Exponential,
    InverseSqrt,
    InverseTime,
    Join,
    Linear,
    Multiplicative,
    MultiStep,
    Noam,
    OneCycle,
    Piecewise,
    Polynomial,
    Product,
    RAdamWarmup,
    Repeat,
    Restarts,
    Scale,
    Schedule,
    StepDecay,
    Sum,
    Tanh,
    TimeBased,
    UntunedWarmup,
    Warmup,
    WarmupCosine,
)

HUGE = 10**12
c = math.cos
pi = math.pi


def _tanh_curve(x: float) -> float:
    return 0.5 * (1 - math.tanh(-7 * (1 - x) + 3 * x))


CASES: list[tuple[Schedule, list[tuple[float, float]]]] = [
    (Constant(0.3), [(0, 0.3), (HUGE, 0.3)]),
    (
        Linear(100, 1.0, 0.01),
        [(0, 1.0), (99, 1 - 0.99 * 0.99), (100, 0.01), (101, 0.01), (HUGE, 0.01)],
    ),
    (Linear(4, 0.0, 1.0), [(0, 0.0), (1, 0.25), (3, 0.75), (4, 1.0), (5, 1.0)]),
    (StepDecay(10, 0.5), [(0, 1.0), (9, 1.0), (10, 0.5), (19.5, 0.5), (20, 0.25), (HUGE, 0.0)]),
    (
        MultiStep((3, 5, 5), 0.1),
        [(0, 1.0), (2, 1.0), (3, 0.1), (4, 0.1), (5, 0.1**3), (HUGE, 0.1**3)],
    ),
    (Exponential(0.5), [(0, 1.0), (1, 0.5), (2, 0.25), (1.5, 0.5**1.5), (HUGE, 0.0)]),
    (Exponential(0.5, 10, True), [(0, 1.0), (9, 1.0), (10, 0.5), (19, 0.5), (20, 0.25)]),
    (Exponential(2.0, 10), [(0, 1.0), (10, 2.0), (HUGE, math.inf)]),
    (
        InverseTime(0.5, 10),
        [(0, 1.0), (9, 1 / 1.45), (10, 1 / 1.5), (20, 0.5), (HUGE, 1 / (1 + 0.5e11))],
    ),
    (InverseTime(0.5, 10, True), [(9, 1.0), (10, 1 / 1.5), (19, 1 / 1.5), (20, 0.5)]),
    (
        TimeBased(0.5),
        [
            (0, 1.0),
            (1, 1 / 1.5),
            (2, 1 / 1.5 / 2.0),
            (2.9, 1 / 3.0),
            (3, 1 / 3.0 / 2.5),
            (HUGE, 0.0),
        ],
    ),
    (
        Polynomial(10, 2.0, 0.1),
        [(0, 1.0), (9, 0.1 + 0.9 * 0.01), (10, 0.1), (11, 0.1), (HUGE, 0.1)],
    ),
    (REX(10), [(0, 1.0), (5, 0.5 / 0.75), (9, 0.1 / 0.55), (10, 0.0), (HUGE, 0.0)]),
    (
        Cosine(10, end=0.1),
        [
            (0, 1.0),
            (5, 0.55),
            (9, 0.1 + 0.45 * (1 + c(0.9 * pi))),
            (10, 0.1),
            (11, 0.1),
            (HUGE, 0.1),
        ],
    ),
    (Cosine(10, exponent=2.0), [(5, 0.25), (10, 0.0)]),
    (Cosine(16, k=0.5), [(4, 0.5 * (1 + c(pi * 0.5))), (16, 0.0)]),
    (Cosine(10, start=0.0, end=1.0), [(0, 0.0), (5, 0.5), (10, 1.0)]),
    (
        CosineRestarts(10),
        [(0, 1.0), (5, 0.5), (9, 0.5 * (1 + c(0.9 * pi))), (10, 1.0), (15, 0.5), (HUGE, 1.0)],
    ),
    (
        CosineRestarts(10, 2.0),
        [
            (9, 0.5 * (1 + c(0.9 * pi))),
            (10, 1.0),
            (29, 0.5 * (1 + c(pi * 19 / 20))),
            (30, 1.0),
            (70, 1.0),
            (150, 1.0),
        ],
    ),
    (
        Restarts(10, 2.0, decay=0.5, end=0.1, cycles=2, curve=Polynomial(1, power=2.0)),
        [
            (0, 1.0),
            (5, 0.1 + 0.9 * 0.25),
            (9, 0.1 + 0.9 * 0.01),
            (10, 0.5),
            (20, 0.1 + 0.4 * 0.25),
            (29, 0.1 + 0.4 * 0.05**2),
            (30, 0.1),
            (HUGE, 0.1),
        ],
    ),
    (
        Restarts(4, k=2.0, curve=Tanh(1, end=0.0)),
        [(2, 0.5 * (1 - math.tanh(-7 * 0.75 + 3 * 0.25))), (4, 0.5 * (1 - math.tanh(-7.0)))],
    ),
    (
        CosineRestarts(10, decay=0.5, end=0.1, cycles=2),
        [
            (0, 1.0),
            (10, 0.5),
            (15, 0.3),
            (19, 0.1 + 0.2 * (1 + c(0.9 * pi))),
            (20, 0.1),
            (HUGE, 0.1),
        ],
    ),
    (Tanh(10), [(0, _tanh_curve(0)), (7, 0.5), (9, _tanh_curve(0.9)), (10, 0.0), (HUGE, 0.0)]),
    (
        Cyclic(10, low=0.0),
        [(0, 0.0), (5, 0.5), (9, 0.9), (10, 1.0), (11, 0.9), (20, 0.0), (25, 0.5), (HUGE, 0.0)],
    ),
    (Cyclic(4, 6, low=0.0), [(2, 0.5), (4, 1.0), (7, 0.5), (10, 0.0)]),
    (Cyclic(10, low=0.0, mode="triangular2"), [(10, 1.0), (30, 0.5), (50, 0.25)]),
    (Cyclic(10, low=0.0, mode="exp_range", gamma=0.9), [(10, 0.9**10), (30, 0.9**30)]),
    (
        InverseSqrt(100),
        [
            (0, 0.0),
            (99, 0.99),
            (100, 1.0),
            (101, math.sqrt(100 / 101)),
            (400, 0.5),
            (HUGE, math.sqrt(100 / (HUGE))),
        ],
    ),
    (InverseSqrt(0), [(0, 1.0), (30000, 0.5)]),
    (
        Noam(512, 4000),
        [
            (0, 512**-0.5 * 4000**-1.5),
            (3998, 512**-0.5 * 3999 * 4000**-1.5),
            (3999, (512 * 4000) ** -0.5),
            (4000, 512**-0.5 * 4001**-0.5),
        ],
    ),
    (Warmup(Constant(0.8), 10), [(0, 0.0), (5, 0.4), (9, 0.72), (10, 0.8), (HUGE, 0.8)]),
    (Warmup(Linear(10), 10), [(0, 0.0), (9, 0.9), (10, 1.0), (15, 0.5), (20, 0.0)]),
    (Warmup(Linear(10), 10, mode="multiply"), [(0, 0.0), (5, 0.25), (10, 0.0)]),
    (Warmup(Constant(), 4, shape="cosine"), [(1, 0.5 * (1 - c(pi / 4))), (2, 0.5), (4, 1.0)]),
    (Warmup(Constant(), 4, shape="1-sqrt"), [(1, 1 - math.sqrt(0.75)), (3, 0.5), (4, 1.0)]),
    (
        Piecewise((0, 4, 8), (0.0, 1.0, 0.0), "1-sqrt"),
        [(1, 1 - math.sqrt(0.75)), (3, 0.5), (5, 0.5), (7, 1 - math.sqrt(0.75))],
    ),
    (Warmup(Constant(), 4, shape="exponential", start=0.01), [(0, 0.01), (2, 0.1), (4, 1.0)]),
    # tau = int(2 / (1 - 0.99)) = 199 and int(1 / (1 - 0.99)) = 99 (float rounding, as pytorch_warmup)
    (
        UntunedWarmup(Constant(), 0.99),
        [(0, 1 / 199), (1, 2 / 199), (197, 198 / 199), (198, 1.0), (HUGE, 1.0)],
    ),
    (
        UntunedWarmup(Constant(), 0.99, "exponential"),
        [(0, 1 - math.exp(-1 / 99)), (98, 1 - math.exp(-1)), (HUGE, 1.0)],
    ),
    (RAdamWarmup(Constant(), 0.999), [(HUGE, 1.0)]),
    (
        Piecewise((0, 10, 20), (0.0, 1.0, 0.5)),
        [(0, 0.0), (9, 0.9), (10, 1.0), (15, 0.75), (20, 0.5), (HUGE, 0.5)],
    ),
    (
        Piecewise((5, 10, 10, 20), (0.2, 1.0, 0.4, 0.4), "constant"),
        [(0, 0.2), (9, 0.2), (10, 0.4), (HUGE, 0.4)],
    ),
    (Piecewise((0, 10, 10, 20), (0.0, 1.0, 0.5, 0.0)), [(9, 0.9), (10, 0.5), (15, 0.25)]),
    (
        Multiplicative(Constant(0.5), 3),
        [(0, 1.0), (1, 0.5), (2.5, 0.25), (3, 0.125), (4, 0.125), (HUGE, 0.125)],
    ),
    (
        Join((Linear(10, 0.0, 1.0), Cosine(10)), (10,)),
        [(0, 0.0), (9, 0.9), (10, 1.0), (15, 0.5), (20, 0.0), (HUGE, 0.0)],
    ),
    (Scale(Linear(10), 4.0), [(0, 4.0), (5, 2.0), (10, 0.0)]),
    (Product((Linear(10), Constant(0.5))), [(0, 0.5), (4, 0.3)]),
    (Sum((Linear(10), Constant(0.5))), [(0, 1.5), (10, 0.5)]),
    (Clip(Linear(10), 0.2, 0.7), [(0, 0.7), (5, 0.5), (9, 0.2), (HUGE, 0.2)]),
    (Clip(Linear(10), 0.2), [(0, 1.0), (9, 0.2)]),
    (Repeat(Linear(10), 5), [(0, 1.0), (4, 0.6), (5, 1.0), (7.5, 0.75), (HUGE, 1.0)]),
    (
        WarmupCosine(100, 10),
        [
            (0, 0.0),
            (9, 0.9),
            (10, 1.0),
            (55, 0.5),
            (99, 0.5 * (1 + c(pi * 89 / 90))),
            (100, 0.0),
            (101, 0.0),
            (HUGE, 0.0),
        ],
    ),
    (WarmupCosine(100, 0, end=0.2), [(0, 1.0), (50, 0.6), (100, 0.2)]),
    (
        WSD(100, 20, 10),
        [(0, 0.0), (9, 0.9), (10, 1.0), (79, 1.0), (80, 1.0), (90, 0.5), (100, 0.0), (HUGE, 0.0)],
    ),
    (
        WSD(100, 25, shape="1-sqrt", end=0.1),
        [(0, 1.0), (75, 1.0), (81.25, 0.1 + 0.9 * 0.5), (100, 0.1)],
    ),
    (WSD(100, 20, shape="cosine"), [(90, 0.5), (100, 0.0)]),
    (
        OneCycle(100, 0.3, "linear", 10.0, 100.0),
        [(0, 0.1), (15, 0.55), (30, 1.0), (65, 0.5 + 0.0005), (100, 0.001), (HUGE, 0.001)],
    ),
    (
        OneCycle(100, 0.25, "linear", 10.0, 100.0, True),
        [(0, 0.1), (25, 1.0), (50, 0.1), (75, 0.0505), (100, 0.001)],
    ),
    (
        OneCycle(100, 0.3, div_factor=10.0, final_div_factor=100.0),
        [(0, 0.1), (15, 0.55), (30, 1.0)],
    ),
]


@pytest.mark.parametrize(
    ("schedule", "table"), CASES, ids=lambda x: str(x)[:60] if isinstance(x, Schedule) else ""
)
def test_value_table(schedule: Schedule, table: list[tuple[float, float]]) -> None:
    for t, expected in table:
        assert schedule(t) == pytest.approx(expected, rel=1e-12, abs=1e-15), f"t={t}"


def test_radam_warmup_first_values_follow_the_rectification_term() -> None:
    beta2 = 0.999
    rho_inf = 2 / (1 - beta2) - 1

    def rho(k: int) -> float:
        return rho_inf - 2 * k * beta2**k / (1 - beta2**k)

    offset = next(k for k in range(1, 100) if rho(k) > 4)
    assert offset == 5
    for t in (0, 1, 10, 500):
        r = rho(t + offset)
        w = math.sqrt((r - 4) * (r - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * r))
        assert RAdamWarmup(Constant(), beta2)(t) == pytest.approx(w, rel=1e-12)


def test_one_cycle_momentum_moves_opposite_to_the_lr() -> None:
    s = OneCycle(100, pct_start=0.3)
    m = s.momentum(high=0.95, low=0.85)
    assert (m(0), m(30), m(100)) == pytest.approx((0.95, 0.85, 0.95))
    for a, b in [(0, 10), (10, 30), (30, 60), (60, 100)]:
        assert (s(b) - s(a)) * (m(b) - m(a)) < 0
    three = OneCycle(100, pct_start=0.25, three_phase=True).momentum()
    assert (three(25), three(50), three(100)) == pytest.approx((0.85, 0.95, 0.95))
    with pytest.raises(ValueError, match=r"OneCycle\.momentum: `low` must be a non-negative"):
        s.momentum(low=-1.0)


@pytest.mark.parametrize(
    ("curve", "end", "want"),
    [
        (Linear(50, start=0.2, end=1.0), 0.0, None),  # rises, then drops back to `end`
        (Polynomial(1, power=1.0), 0.0, -1),  # falls to `end` and stays
        (Polynomial(1, power=1.0), 2.0, 1),  # rises to `end` and stays
    ],
)
def test_one_cycle_of_restarts_is_monotone_only_when_the_drop_to_end_agrees(
    curve: Schedule, end: float, want: int | None
) -> None:
    s = Restarts(period=1, cycles=1, curve=curve, end=end)
    assert s.monotone() == want
    values = [s(t) for t in (0.0, 0.25, 0.5, 0.75, 0.999, 1.0, 5.0)]
    diffs = [b - a for a, b in itertools.pairwise(values)]
    if want is None:
        assert min(diffs) < 0 < max(diffs)
    else:
        assert all(want * d >= 0 for d in diffs)
