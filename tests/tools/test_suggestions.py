"""The suggestion methods on known curves, and Note [suggestion smoothing]: the same
curve gives the same suggestion whichever start_lr and num_steps sampled it."""

from __future__ import annotations

import numpy as np
import pytest

from lrkit.tools import suggestions
from lrkit.tools.suggestions import SUGGESTIONS, centered, ema


def _curve(lrs: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A range-test-like loss: flat, a fall centred on 1e-2.5, a rise past 1e-1."""
    x = np.log10(lrs)
    loss = 2 - np.tanh(2 * (x + 2.5)) + np.where(x > -1, 5 * (x + 1) ** 2, 0)
    return loss + noise * np.random.default_rng(seed).standard_normal(len(lrs))


def test_each_method_reads_the_curve() -> None:
    lrs = np.geomspace(1e-6, 1.0, 150)
    loss = _curve(lrs)
    lowest = lrs[np.argmin(centered(lrs, loss))]
    assert 10**-1.3 < lowest < 10**-0.9
    assert suggestions.minimum(lrs, loss) == pytest.approx(lowest / 1.5)
    ema_window = ema(loss, 0.98)[15:145]  # fastai's: without the first 10% and last 5
    assert suggestions.minimum_tenth(lrs, loss) == pytest.approx(
        lrs[15 + np.argmin(ema_window)] / 10
    )
    assert 10**-3.5 < suggestions.steepest(lrs, loss) < 10**-1.5
    assert suggestions.valley(lrs, loss) < lowest
    for method in SUGGESTIONS.values():
        assert method(lrs[:2], loss[:2]) is None


def test_the_default_does_not_move_with_start_lr_or_num_steps() -> None:
    """Note [suggestion smoothing]: sampled from 1e-7, 1e-6 or 1e-5, with 100 or 150
    steps, a noisy curve gives the same default suggestion within a tenth of a decade;
    fastai's EMA readings move further."""
    spread = {}
    for name in ("minimum", "minimum_tenth", "valley"):
        picks = []
        for start, steps in ((1e-7, 100), (1e-6, 100), (1e-5, 100), (1e-6, 150)):
            lrs = np.geomspace(start, 1.0, steps)
            picks.append(SUGGESTIONS[name](lrs, _curve(lrs, noise=0.05)))
        spread[name] = np.log10(max(picks) / min(picks))
    assert spread["minimum"] < 0.1, spread
    assert spread["minimum"] < min(spread["minimum_tenth"], spread["valley"]), spread


def test_centered_smoothing_does_not_lag_where_the_ema_does() -> None:
    lrs = np.geomspace(1e-7, 10, 100)
    loss = _curve(lrs)
    true = lrs[np.argmin(loss)]  # where the rise begins, at 1e-1
    lag = np.log10(lrs[np.argmin(ema(loss, 0.98))] / true)
    shift = np.log10(lrs[np.argmin(centered(lrs, loss))] / true)
    assert lag > 0.4  # the EMA's minimum comes half a decade into the rise
    assert -0.3 < shift <= 0  # the centered one stays on the floor of the curve
    np.testing.assert_allclose(centered(lrs, np.full(100, 3.0)), 3.0)
    np.testing.assert_allclose(ema([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])  # bias-corrected
