"""lrkit.compat.keras against Keras 3 (numpy backend): same values to float32 precision,
config round trips, and use by a Keras optimizer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from lrkit.compat import keras as compat  # noqa: E402

STEPS = np.arange(0, 600)


def _same(name: str, **kwargs: Any) -> None:
    anchor = getattr(keras.optimizers.schedules, name)(**kwargs)
    ours = getattr(compat, name)(**kwargs)
    expected = np.array([float(anchor(int(t))) for t in STEPS])
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(
        ours(STEPS), expected, rtol=2e-6, atol=1e-7 * scale, err_msg=f"{name} {kwargs}"
    )
    assert ours.get_config() == anchor.get_config()
    again = type(ours).from_config(ours.get_config())
    np.testing.assert_array_equal(again(STEPS), ours(STEPS))
    assert isinstance(ours, keras.optimizers.schedules.LearningRateSchedule)


@pytest.mark.parametrize("seed", range(4))
def test_schedules(seed: int) -> None:
    r = np.random.default_rng(seed)
    init, n = float(r.uniform(0.01, 1)), int(r.integers(5, 150))
    staircase = bool(seed % 2)
    _same(
        "ExponentialDecay",
        initial_learning_rate=init,
        decay_steps=n,
        decay_rate=float(r.uniform(0.2, 0.99)),
        staircase=staircase,
    )
    _same(
        "InverseTimeDecay",
        initial_learning_rate=init,
        decay_steps=n,
        decay_rate=float(r.uniform(0.1, 3)),
        staircase=staircase,
    )
    bounds = sorted(int(b) for b in r.choice(500, 3, replace=False))
    _same(
        "PiecewiseConstantDecay", boundaries=bounds, values=[float(v) for v in r.uniform(0, 1, 4)]
    )
    for cycle in (False, True):
        _same(
            "PolynomialDecay",
            initial_learning_rate=init,
            decay_steps=n,
            end_learning_rate=init * 0.1,
            power=float(r.uniform(0.5, 3)),
            cycle=cycle,
        )
    _same("CosineDecay", initial_learning_rate=init, decay_steps=n, alpha=float(r.uniform(0, 0.5)))
    _same(
        "CosineDecay",
        initial_learning_rate=0.0,
        decay_steps=n,
        alpha=0.1,
        warmup_target=init,
        warmup_steps=int(r.integers(1, 50)),
    )
    _same(
        "CosineDecayRestarts",
        initial_learning_rate=init,
        first_decay_steps=n,
        t_mul=float(r.choice([1.0, 2.0])),
        m_mul=float(r.uniform(0.5, 1.0)),
        alpha=float(r.uniform(0, 0.3)),
    )


def test_keras_optimizer_takes_it() -> None:
    schedule = compat.CosineDecay(0.1, 100)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)


def test_errors() -> None:
    with pytest.raises(ValueError, match="length of boundaries should be 1 less"):
        compat.PiecewiseConstantDecay([10, 20], [1.0, 0.5])
    with pytest.raises(ValueError, match="`first_decay_steps` must be > 0"):
        compat.CosineDecayRestarts(0.1, 0)
    with pytest.raises(
        TypeError, match="ExponentialDecay: `decay_steps` must be a positive integer"
    ):
        compat.ExponentialDecay(0.1, 2.5, 0.5)
