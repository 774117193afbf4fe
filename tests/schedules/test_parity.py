"""Families whose formula comes from another library, against that library's numbers.

Each anchor is driven the way its users drive it (``step()`` after each
update) and read from the optimizer's param groups; the native schedule is
evaluated at the same step count (Note [step convention]).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from lrkit.schedules import (
    REX,
    WSD,
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
    Piecewise,
    Polynomial,
    RAdamWarmup,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
    Tanh,
    UntunedWarmup,
    Warmup,
    WarmupCosine,
)

BASES = (0.1, 0.03)  # two param groups with different lrs


def _optimizer(betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in BASES]
    if betas is not None:
        return torch.optim.Adam(groups, betas=betas)
    return torch.optim.SGD(groups, momentum=0.9)


def _trace(make: Callable[[torch.optim.Optimizer], Any], steps: int, **opt: Any) -> np.ndarray:
    """lr of every group before update 0, 1, ..., steps-1: shape (steps, groups)."""
    optimizer = _optimizer(**opt)
    scheduler = make(optimizer)
    rows = []
    for _ in range(steps):
        rows.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return np.array(rows)


def _native(schedule: Schedule, steps: int) -> np.ndarray:
    values = schedule(np.arange(steps))
    return values[:, None] * np.array(BASES)[None, :]


def _assert_parity(anchor: np.ndarray, native: np.ndarray, rtol: float = 1e-12) -> None:
    np.testing.assert_allclose(native, anchor, rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("seed", range(6))
def test_torch_step_multistep_exponential(seed: int) -> None:
    r = np.random.default_rng(seed)
    every, gamma = int(r.integers(1, 40)), float(r.uniform(0.05, 0.99))
    sched = torch.optim.lr_scheduler
    _assert_parity(
        _trace(lambda o: sched.StepLR(o, every, gamma), 300), _native(StepDecay(every, gamma), 300)
    )
    milestones = sorted(int(m) for m in r.integers(1, 250, size=4))
    _assert_parity(
        _trace(lambda o: sched.MultiStepLR(o, milestones, gamma), 300),
        _native(MultiStep(milestones, gamma), 300),
    )
    g = float(r.uniform(0.9, 0.999))
    _assert_parity(
        _trace(lambda o: sched.ExponentialLR(o, g), 300), _native(Exponential(g), 300), rtol=1e-11
    )


@pytest.mark.parametrize("seed", range(6))
def test_torch_linear_polynomial_cosine(seed: int) -> None:
    r = np.random.default_rng(seed)
    n = int(r.integers(5, 200))
    start, end = float(r.uniform(0.05, 1.0)), float(r.uniform(0.05, 1.0))
    sched = torch.optim.lr_scheduler
    _assert_parity(
        _trace(lambda o: sched.LinearLR(o, start, end, total_iters=n), n + 50),
        _native(Linear(n, start=start, end=end), n + 50),
    )
    power = float(r.uniform(0.5, 3.0))
    _assert_parity(
        _trace(lambda o: sched.PolynomialLR(o, total_iters=n, power=power), n + 50),
        _native(Polynomial(n, power=power), n + 50),
    )
    # torch's CosineAnnealingLR is recursive: its closed form holds up to T_max,
    # after which it turns back up (lrkit holds the floor, Note [step convention]).
    eta_min = 0.01
    anchor = _trace(lambda o: sched.CosineAnnealingLR(o, T_max=n, eta_min=eta_min), n + 1)
    native = np.stack([Cosine(n, end=eta_min / b)(np.arange(n + 1)) * b for b in BASES], axis=1)
    _assert_parity(anchor, native, rtol=1e-10)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("seed", range(3))
def test_torch_cyclic(mode: str, seed: int) -> None:
    r = np.random.default_rng(seed)
    up, down = int(r.integers(1, 30)), int(r.integers(1, 30))
    gamma = float(r.uniform(0.95, 1.0))
    high = 0.1
    low = float(r.uniform(0.0, 0.09))
    anchor = _trace(
        lambda o: torch.optim.lr_scheduler.CyclicLR(
            o,
            base_lr=low,
            max_lr=high,
            step_size_up=up,
            step_size_down=down,
            mode=mode,
            gamma=gamma,
            cycle_momentum=False,
        ),
        400,
    )
    native = Cyclic(up, down, low=low / high, high=1.0, mode=mode, gamma=gamma)(np.arange(400))
    np.testing.assert_allclose(anchor[:, 0], native * high, rtol=1e-12)


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_torch_one_cycle_through_piecewise(three_phase: bool, anneal: str) -> None:
    """torch's OneCycleLR is a piecewise interpolation with knots at pct*T - 1 and T - 1."""
    total, pct, div, final_div = 97, 0.3, 25.0, 1e4
    anchor = _trace(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o,
            max_lr=list(BASES),
            total_steps=total,
            pct_start=pct,
            anneal_strategy=anneal,
            div_factor=div,
            final_div_factor=final_div,
            three_phase=three_phase,
        ),
        total,
    )
    init, low = 1 / div, 1 / div / final_div
    if three_phase:
        knots = (0.0, pct * total - 1, 2 * pct * total - 2, total - 1.0)
        values = (init, 1.0, init, low)
    else:
        knots, values = (0.0, pct * total - 1, total - 1.0), (init, 1.0, low)
    shape = "cosine" if anneal == "cos" else "linear"
    _assert_parity(anchor, _native(Piecewise(knots, values, shape), total), rtol=1e-11)


@pytest.mark.parametrize(("t0", "mult"), [(7, 1), (5, 2), (3, 3)])
def test_torch_cosine_warm_restarts_with_fractional_epochs(t0: int, mult: int) -> None:
    optimizer = _optimizer()
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, t0, mult, eta_min=0.001)
    native = [CosineRestarts(t0, float(mult), end=0.001 / b) for b in BASES]
    for epoch in np.arange(0.0, 60.0, 0.25):
        sched.step(float(epoch))
        expected = [s(float(epoch)) * b for s, b in zip(native, BASES)]
        got = [g["lr"] for g in optimizer.param_groups]
        np.testing.assert_allclose(got, expected, rtol=1e-10, err_msg=f"epoch {epoch}")


def test_torch_multiplicative() -> None:
    factor = Linear(steps=50, start=0.9, end=1.0)
    anchor = _trace(lambda o: torch.optim.lr_scheduler.MultiplicativeLR(o, factor), 120)
    _assert_parity(anchor, _native(Multiplicative(factor, steps=1000), 120), rtol=1e-12)


@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
@pytest.mark.parametrize("mode", ["min", "max"])
def test_torch_reduce_on_plateau(mode: str, threshold_mode: str) -> None:
    r = np.random.default_rng(1)
    metrics = np.cumsum(r.normal(-0.02 if mode == "min" else 0.02, 0.1, size=300))
    kwargs = dict(
        mode=mode,
        factor=0.5,
        patience=3,
        threshold=0.01,
        threshold_mode=threshold_mode,
        cooldown=2,
        eps=1e-8,
    )
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    anchor = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, min_lr=0.01, **kwargs)
    native = ReduceOnPlateau(min_scale=0.01, **kwargs)
    reductions = 0
    for m in metrics:
        anchor.step(float(m))
        before = native.scale
        assert native.step(float(m)) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
        reductions += native.scale < before
    assert reductions >= 2


def _timm_lrs(scheduler: Any, steps: int) -> np.ndarray:
    return np.array([scheduler._get_lr(t) for t in range(steps)])


@pytest.mark.parametrize(
    ("mult", "decay", "k", "limit"),
    [(1.0, 1.0, 1.0, 1), (1.0, 0.5, 1.0, 3), (2.0, 0.7, 1.5, 4), (1.5, 0.9, 0.8, 5)],
)
def test_timm_cosine(mult: float, decay: float, k: float, limit: int) -> None:
    from timm.scheduler import CosineLRScheduler

    anchor = CosineLRScheduler(
        _optimizer(),
        t_initial=20,
        lr_min=1e-4,
        cycle_mul=mult,
        cycle_decay=decay,
        cycle_limit=limit,
        k_decay=k,
        t_in_epochs=True,
    )
    native = [CosineRestarts(20, mult, decay=decay, end=1e-4 / b, k=k, cycles=limit) for b in BASES]
    lrs = _timm_lrs(anchor, 400)
    expected = np.stack([s(np.arange(400)) * b for s, b in zip(native, BASES)], axis=1)
    np.testing.assert_allclose(lrs, expected, rtol=1e-10)
    if limit == 1 and mult == 1.0:
        cosine = Cosine(20, end=1e-4 / BASES[0], k=k)
        np.testing.assert_allclose(lrs[:, 0], cosine(np.arange(400)) * BASES[0], rtol=1e-10)


@pytest.mark.parametrize(("lb", "ub"), [(-7.0, 3.0), (-3.0, 5.0)])
def test_timm_tanh(lb: float, ub: float) -> None:
    from timm.scheduler import TanhLRScheduler

    anchor = TanhLRScheduler(_optimizer(), t_initial=50, lb=lb, ub=ub, lr_min=1e-3)
    native = [Tanh(50, lower=lb, upper=ub, end=1e-3 / b) for b in BASES]
    expected = np.stack([s(np.arange(120)) * b for s, b in zip(native, BASES)], axis=1)
    np.testing.assert_allclose(_timm_lrs(anchor, 120), expected, rtol=1e-12)


def _dampened(make: Callable[[torch.optim.Optimizer], Any], steps: int, beta2: float) -> np.ndarray:
    """lrs under a pytorch_warmup schedule over a constant lr, used as its docs say."""
    optimizer = _optimizer(betas=(0.9, beta2))
    warmup = make(optimizer)
    rows = []
    for _ in range(steps):
        rows.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        with warmup.dampening():
            pass
    return np.array(rows)


@pytest.mark.parametrize("beta2", [0.99, 0.999, 0.95])
def test_pytorch_warmup(beta2: float) -> None:
    import pytorch_warmup as pw

    n = 5000
    _assert_parity(
        _dampened(pw.UntunedLinearWarmup, n, beta2),
        _native(UntunedWarmup(Constant(), beta2, "linear"), n),
    )
    _assert_parity(
        _dampened(pw.UntunedExponentialWarmup, n, beta2),
        _native(UntunedWarmup(Constant(), beta2, "exponential"), n),
    )
    _assert_parity(
        _dampened(pw.RAdamWarmup, n, beta2), _native(RAdamWarmup(Constant(), beta2), n), rtol=1e-10
    )


@pytest.mark.parametrize(("steps", "end"), [(100, 0.0), (37, 0.2)])
def test_pytorch_optimizer_rex(steps: int, end: float) -> None:
    from pytorch_optimizer.lr_scheduler.rex import REXScheduler

    optimizer = _optimizer()
    sched = REXScheduler(optimizer, total_steps=steps, max_lr=0.1, min_lr=0.1 * end)
    assert optimizer.param_groups[0]["lr"] == 0.1 * end  # its first update runs at min_lr
    got = []
    for _ in range(steps + 20):  # after k step() calls its lr is s(k), k >= 1
        sched.step()
        got.append(optimizer.param_groups[0]["lr"])
    native = REX(steps, end=end)(np.arange(1, steps + 21)) * 0.1
    np.testing.assert_allclose(got, native, rtol=1e-12)


def test_transformers_inverse_sqrt_formula() -> None:
    """Hugging Face's `_get_inverse_sqrt_schedule_lr_lambda`, transcribed."""

    def hf(step: int, warmup: int, timescale: int | None) -> float:
        timescale = timescale or warmup or 10_000
        if step < warmup:
            return step / max(1, warmup)
        return 1.0 / math.sqrt((step + timescale - warmup) / timescale)

    for warmup, timescale in [(100, None), (0, None), (50, 500)]:
        s = InverseSqrt(warmup, timescale)
        for t in range(0, 3000, 7):
            assert s(t) == pytest.approx(hf(t, warmup, timescale), rel=1e-14)


@pytest.fixture(scope="module")
def keras_schedules() -> Any:
    keras = pytest.importorskip("keras")
    return keras.optimizers.schedules


def _keras_values(schedule: Any, steps: np.ndarray) -> np.ndarray:
    return np.array([float(schedule(int(t))) for t in steps])


@pytest.mark.parametrize("staircase", [False, True])
def test_keras_exponential_and_inverse_time(keras_schedules: Any, staircase: bool) -> None:
    steps = np.arange(0, 500, 3)
    anchor = keras_schedules.ExponentialDecay(0.1, 37, 0.6, staircase=staircase)
    native = Exponential(0.6, decay_steps=37, staircase=staircase)(steps) * 0.1
    np.testing.assert_allclose(_keras_values(anchor, steps), native, rtol=1e-6)
    anchor = keras_schedules.InverseTimeDecay(0.1, 37, 0.6, staircase=staircase)
    native = InverseTime(0.6, decay_steps=37, staircase=staircase)(steps) * 0.1
    np.testing.assert_allclose(_keras_values(anchor, steps), native, rtol=1e-6)


def test_keras_polynomial_and_cosine(keras_schedules: Any) -> None:
    steps = np.arange(0, 300, 1)
    anchor = keras_schedules.PolynomialDecay(0.1, 200, end_learning_rate=0.01, power=2.0)
    native = Polynomial(200, power=2.0, end=0.1)(steps) * 0.1
    np.testing.assert_allclose(_keras_values(anchor, steps), native, rtol=1e-6)
    anchor = keras_schedules.CosineDecay(0.1, 200, alpha=0.05)
    native = Cosine(200, end=0.05)(steps) * 0.1
    np.testing.assert_allclose(_keras_values(anchor, steps), native, rtol=1e-6, atol=1e-9)


def _hf_lambda(make: Callable[..., Any], **kwargs: Any) -> Callable[[int], float]:
    """The lr multiplier of a Hugging Face schedule (its LambdaLR's lambda)."""
    scheduler = make(_optimizer(), **kwargs)
    return scheduler.lr_lambdas[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("warmup", "timescale"), [(100, None), (0, None), (50, 500)])
def test_transformers_inverse_sqrt(warmup: int, timescale: int | None) -> None:
    transformers = pytest.importorskip("transformers")
    hf = _hf_lambda(
        transformers.get_inverse_sqrt_schedule, num_warmup_steps=warmup, timescale=timescale
    )
    s = InverseSqrt(warmup, timescale)
    steps = np.arange(0, 5000, 7)
    np.testing.assert_allclose(s(steps), [hf(int(t)) for t in steps], rtol=1e-14)


@pytest.mark.parametrize("decay", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warmup_shape", ["linear", "cosine", "1-sqrt"])
def test_transformers_wsd(decay: str, warmup_shape: str) -> None:
    transformers = pytest.importorskip("transformers")
    hf = _hf_lambda(
        transformers.get_wsd_schedule,
        num_warmup_steps=37,
        num_decay_steps=120,
        num_training_steps=500,
        warmup_type=warmup_shape,
        decay_type=decay,
        min_lr_ratio=0.05,
    )
    s = WSD(
        500, cooldown=120, warmup=37, shape=decay, end=0.05, start=0.05, warmup_shape=warmup_shape
    )
    steps = np.arange(0, 700)  # HF holds min_lr_ratio past the horizon, as lrkit does
    np.testing.assert_allclose(s(steps), [hf(int(t)) for t in steps], rtol=1e-12, atol=1e-15)


def test_transformers_warmup_decays() -> None:
    transformers = pytest.importorskip("transformers")
    steps = np.arange(0, 401)  # up to the horizon: past it HF's cosine turns back up
    hf = _hf_lambda(
        transformers.get_cosine_schedule_with_warmup, num_warmup_steps=40, num_training_steps=400
    )
    np.testing.assert_allclose(
        WarmupCosine(400, 40)(steps), [hf(int(t)) for t in steps], atol=1e-15
    )
    hf = _hf_lambda(
        transformers.get_linear_schedule_with_warmup, num_warmup_steps=40, num_training_steps=400
    )
    linear = Warmup(Linear(360), 40)
    np.testing.assert_allclose(linear(steps), [hf(int(t)) for t in steps], atol=1e-15)
    hf = _hf_lambda(
        transformers.get_polynomial_decay_schedule_with_warmup,
        num_warmup_steps=40,
        num_training_steps=400,
        lr_end=1e-4,  # HF divides it by optimizer.defaults["lr"] (1e-3), not the group lr
        power=2.0,
    )
    poly = Warmup(Polynomial(360, power=2.0, end=1e-4 / 1e-3), 40)
    np.testing.assert_allclose(poly(steps), [hf(int(t)) for t in steps], rtol=1e-12)


@pytest.fixture(scope="module")
def optax() -> Any:
    return pytest.importorskip("optax")


def _optax_values(schedule: Any, steps: np.ndarray) -> np.ndarray:
    return np.array([float(schedule(int(t))) for t in steps])


def test_optax_cosine_and_warmup_cosine(optax: Any) -> None:
    steps = np.arange(0, 300)
    anchor = optax.cosine_decay_schedule(0.1, 200, alpha=0.05, exponent=2.0)
    native = Cosine(200, end=0.05, exponent=2.0)(steps) * 0.1
    np.testing.assert_allclose(_optax_values(anchor, steps), native, rtol=1e-6, atol=1e-8)
    anchor = optax.warmup_cosine_decay_schedule(0.01, 0.1, 20, 200, end_value=0.005)
    native = WarmupCosine(200, 20, end=0.05, start=0.1)(steps) * 0.1
    np.testing.assert_allclose(_optax_values(anchor, steps), native, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_optax_piecewise_interpolate_and_join(optax: Any, kind: str) -> None:
    steps = np.arange(0, 250)
    anchor = optax.piecewise_interpolate_schedule(kind, 0.1, {20: 0.5, 60: 3.0, 150: 0.1})
    knots, values = (0.0, 20.0, 60.0, 150.0), (0.1, 0.05, 0.15, 0.015)
    native = Piecewise(knots, values, kind)(steps)
    np.testing.assert_allclose(_optax_values(anchor, steps), native, rtol=1e-6)
    anchor = optax.join_schedules(
        [optax.linear_schedule(0.0, 0.1, 30), optax.cosine_decay_schedule(0.1, 100)], [30]
    )
    native = Join((Linear(30, 0.0, 1.0), Cosine(100)), (30,))(steps) * 0.1
    np.testing.assert_allclose(_optax_values(anchor, steps), native, rtol=1e-6, atol=1e-8)
    anchor = optax.exponential_decay(0.1, 25, 0.5, staircase=True)
    native = Exponential(0.5, 25, staircase=True)(steps) * 0.1
    np.testing.assert_allclose(_optax_values(anchor, steps), native, rtol=1e-6)
