"""lrkit.compat.optax against optax: same values (float32, rtol 1e-6), under jax.jit,
and inside an optax optimizer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")
jnp = jax.numpy

from lrkit.compat import optax as compat  # noqa: E402
from lrkit.schedules import Schedule  # noqa: E402

STEPS = np.arange(0, 400)


JIT = {"on": True}  # jit-compile each kind once (the first seed), not every configuration


def _same(name: str, *args: Any, **kwargs: Any) -> None:
    anchor = getattr(optax, name)(*args, **kwargs)
    ours = getattr(compat, name)(*args, **kwargs)
    assert isinstance(ours, Schedule)
    expected = np.asarray(jax.vmap(anchor)(jnp.asarray(STEPS)), dtype=np.float64)
    scale = max(1e-30, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(
        ours(STEPS), expected, rtol=2e-6, atol=1e-7 * scale, err_msg=f"{name} {args} {kwargs}"
    )
    if JIT["on"]:
        jitted = np.asarray(jax.jit(ours)(jnp.asarray(STEPS)))  # a tracer inside jit
        np.testing.assert_allclose(jitted, expected, rtol=2e-6, atol=1e-7 * scale)


@pytest.mark.parametrize("seed", range(6))
def test_schedules(seed: int) -> None:
    JIT["on"] = seed == 0
    r = np.random.default_rng(seed)
    n, begin = int(r.integers(1, 200)), int(r.choice([0, int(r.integers(1, 50))]))
    init, end = float(r.uniform(0.01, 1)), float(r.uniform(0, 0.5))
    _same("constant_schedule", init)
    _same("linear_schedule", init, end, n, begin)
    _same("polynomial_schedule", init, end, float(r.uniform(0.5, 3)), n, begin)
    _same("polynomial_schedule", 0.0, end, 2.0, n)
    _same(
        "exponential_decay",
        init,
        n,
        float(r.uniform(0.1, 0.99)),
        begin,
        bool(seed % 2),
        end_value=None if seed % 3 else init * 0.2,
    )
    _same("exponential_decay", init, n, 1.05, begin, end_value=init * 3)
    _same("cosine_decay_schedule", init, n, float(r.uniform(0, 1)), float(r.uniform(0.5, 3)))
    scales = {int(b): float(s) for b, s in zip(r.integers(0, 300, 3), r.uniform(0.1, 2, 3))}
    _same("piecewise_constant_schedule", init, scales)
    _same("piecewise_interpolate_schedule", ["linear", "cosine"][seed % 2], init, scales)
    _same("linear_onecycle_schedule", n + 10, init)
    _same("cosine_onecycle_schedule", n + 10, init, pct_start=0.25)
    _same("warmup_constant_schedule", 0.0, init, n)
    _same("warmup_cosine_decay_schedule", 0.0, init, 10, n + 20, end_value=init * 0.1)
    _same("warmup_exponential_decay_schedule", 0.0, init, 10, n, 0.5, staircase=True)
    cycles = [
        dict(init_value=0.0, peak_value=init, warmup_steps=5, decay_steps=int(d))
        for d in r.integers(20, 100, 3)
    ]
    _same("sgdr_schedule", cycles)


def test_join_and_use_in_an_optax_optimizer() -> None:
    ours = compat.join_schedules(
        [compat.linear_schedule(0.0, 0.1, 20), compat.cosine_decay_schedule(0.1, 100)], [20]
    )
    anchor = optax.join_schedules(
        [optax.linear_schedule(0.0, 0.1, 20), optax.cosine_decay_schedule(0.1, 100)], [20]
    )

    def train(schedule: Any) -> np.ndarray:
        opt = optax.sgd(learning_rate=schedule)
        params = jnp.ones(3)
        state = opt.init(params)

        @jax.jit
        def step(params: Any, state: Any) -> Any:
            updates, state = opt.update(jnp.full(3, 0.5), state, params)
            return optax.apply_updates(params, updates), state

        for _ in range(50):
            params, state = step(params, state)
        return np.asarray(params)

    np.testing.assert_allclose(train(ours), train(anchor), rtol=1e-6)
    with pytest.raises(TypeError, match="lrkit joins lrkit schedules"):
        compat.join_schedules([optax.constant_schedule(0.1), ours], [10])


def test_errors() -> None:
    with pytest.raises(ValueError, match="requires positive decay_steps"):
        compat.cosine_decay_schedule(0.1, 0)
    with pytest.raises(ValueError, match="non-negative scale factors"):
        compat.piecewise_constant_schedule(0.1, {10: -1.0})
    with pytest.raises(ValueError, match="must be either 'cosine' or 'linear'"):
        compat.piecewise_interpolate_schedule("cubic", 0.1)
    with pytest.raises(
        ValueError, match="linear_schedule: `transition_begin` must be a non-negative integer"
    ):
        compat.linear_schedule(0.1, 0.0, 10, -5)
