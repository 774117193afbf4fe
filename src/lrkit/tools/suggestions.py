"""How a range test's loss curve becomes a suggested learning rate.

Each method is a plain function ``(lrs, losses) -> lr`` of the recorded
curve (the loss of each update, raw); :data:`SUGGESTIONS` maps their names,
and ``range_test(method=...)`` takes a name or any such function (fastai's
``LRFinder`` suggestion functions are the model).

Note [suggestion smoothing]
~~~~~~~~~~~~~~~~~~~~~~~~~~~
The per-batch loss is noisy, so the curve is smoothed before a method reads
it. A causal moving average (the EMA the sweep uses to stop) lags: with
``beta = 0.98`` it averages about 50 updates, 4 decades of a 100-step sweep
over 8 decades, so a point on it reflects far lower lrs, and how far depends
on ``start_lr``. The methods here read :func:`centered`, a Gaussian average
over ``log10(lr)`` of width 0.2 decades: it does not lag, and it is defined
in decades, not in steps, so the same curve gives the same suggestion
whichever ``start_lr`` and ``num_steps`` sampled it. ``valley``,
``steepest`` and ``minimum_tenth`` are fastai's readings, on the EMA without
its first 10% and last 5 points, kept for comparison.

Note [default suggestion]
~~~~~~~~~~~~~~~~~~~~~~~~~
The default, ``minimum``, is two thirds of the lr at the lowest point of the
centered curve. It was chosen on eight model/optimizer pairs -- the built-in
``digits`` CNN, ``mnist1d`` MLP, ``mnist1d_cnn`` and ``char_lm`` Transformer,
each with SGD (momentum 0.9) and AdamW -- against a good range measured by
training with warmup and cosine at 3 lrs per decade from 1e-5 to 10 (2
seeds): the lrs within 5% of the best held-out metric. From three
``start_lr`` (1e-7, 1e-6, 1e-5) it lands in the good range in 19 of 24
cases, and its lr trains to within 2.2% of the best on average (9.8% at
worst); fastai's ``valley`` (lrkit's default before) lands in 5 of 24 and
trains 37% worse on average, ``steepest`` in 15 (10%), ``minimum_tenth`` in
13 (8%) (``benchmarks/range_test_rules.py``; the table is in
``docs/tools.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Suggestion = Callable[[np.ndarray, np.ndarray], float | None]
WIDTH = 0.2  # decades: the Gaussian's standard deviation in log10(lr)


def ema(losses: Sequence[float] | np.ndarray, beta: float) -> np.ndarray:
    """Exponential moving average with bias correction: ``avg_k / (1 - beta^(k+1))``."""
    out, avg = [], 0.0
    for k, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * float(loss)
        out.append(avg / (1 - beta ** (k + 1)))
    return np.asarray(out, dtype=np.float64)


def centered(lrs: np.ndarray, losses: np.ndarray, width: float = WIDTH) -> np.ndarray:
    """Note [suggestion smoothing]: a Gaussian average over ``log10(lr)``, width in decades."""
    x = np.log10(np.asarray(lrs, dtype=np.float64))
    y = np.asarray(losses, dtype=np.float64)
    weights = np.exp(-0.5 * ((x[:, None] - x[None, :]) / width) ** 2)
    smoothed: np.ndarray = (weights @ y) / weights.sum(axis=1)
    return smoothed


def minimum(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """The default (Note [default suggestion]): two thirds of the lr at the lowest point
    of the centered curve."""
    if len(lrs) < 3:
        return None
    return float(lrs[int(np.argmin(centered(lrs, losses)))]) / 1.5


def steepest(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai's ``steep``: where the smoothed (EMA) loss falls fastest per unit of log lr,
    before its minimum (past it, a diverging loss may swing down again)."""
    x, y = _ema_window(lrs, losses)
    if x is None:
        return None
    lowest = max(int(np.argmin(y)), 1)
    slopes = np.diff(y[: lowest + 1]) / np.diff(np.log(x[: lowest + 1]))
    return float(x[int(np.argmin(slopes))])


def valley(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai's valley: on the smoothed (EMA) loss, the longest decreasing subsequence,
    a point two thirds of the way down it."""
    x, y = _ema_window(lrs, losses)
    return None if x is None else float(x[_valley(y)])


def minimum_tenth(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai's ``minimum``: a tenth of the lr at the lowest point of the smoothed (EMA) loss."""
    x, y = _ema_window(lrs, losses)
    return None if x is None else float(x[int(np.argmin(y))]) / 10


def _ema_window(lrs: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """fastai's reading: the EMA (``beta=0.98``) without its first 10% and last 5 points."""
    n = len(losses)
    if n < 3:
        return None, np.empty(0)
    y = ema(losses, 0.98)
    lo, hi = (n // 10, n - 5) if n - 5 - n // 10 >= 3 else (0, n)
    return np.asarray(lrs)[lo:hi], y[lo:hi]


def _valley(losses: np.ndarray) -> int:
    """The longest decreasing subsequence, two thirds of the way down it."""
    n = len(losses)
    length = np.ones(n, dtype=np.int64)  # longest decreasing run ending at i
    best_end, best_start = 0, 0
    for i in range(1, n):
        before = length[:i][losses[:i] > losses[i]]
        if before.size:
            length[i] = before.max() + 1
        if length[i] > length[best_end]:
            best_end, best_start = i, i - int(length[i])
    sections = (best_end - best_start) / 3
    return best_start + int(sections) + int(sections / 2)


SUGGESTIONS: dict[str, Suggestion] = {
    "minimum": minimum,
    "valley": valley,
    "steepest": steepest,
    "minimum_tenth": minimum_tenth,
}
DEFAULT = "minimum"

__all__ = [
    "DEFAULT",
    "SUGGESTIONS",
    "WIDTH",
    "Suggestion",
    "centered",
    "ema",
    "minimum",
    "minimum_tenth",
    "steepest",
    "valley",
]
