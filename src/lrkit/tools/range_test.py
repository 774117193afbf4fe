"""The LR range test (Smith, 2017; fastai's ``lr_find``): sweep the lr, watch the loss.

The lr grows from ``start_lr`` to ``end_lr`` over ``num_steps`` updates,
exponentially (default) or linearly. Update ``k`` runs at ``lrs[k]`` and
records the loss of its batch, computed before the update (as fastai and
torch-lr-finder do). The loss is smoothed with a bias-corrected exponential
average; the sweep stops early when the smoothed loss exceeds
``diverge_factor`` times its best value, or when a loss is not finite.

Suggestions, computed on the smoothed curve without its first 10% and last
5 points (where the average has not settled and the blow-up starts):

* ``valley`` (default, fastai's): the longest stretch over which the loss
  keeps decreasing, then a point two thirds of the way down it;
* ``steepest``: the lr where the loss falls fastest per unit of log lr,
  before its minimum (past it, a diverging loss may swing down again);
* ``minimum``: a tenth of the lr with the lowest loss.

Model and optimizer state (weights, buffers, moments, lrs, train/eval mode)
are restored afterwards, whatever happened in between.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrkit.schedules.params import Param, normalize
from lrkit.tools.figure import saved_figure

SUGGESTIONS = ("valley", "steepest", "minimum")
ARGUMENTS = {
    "start_lr": Param(kind="float", lo=0.0, lo_open=True),
    "end_lr": Param(kind="float", lo=0.0, lo_open=True),
    "num_steps": Param(kind="int", lo=2),
    "mode": Param(kind="str", choices=("exp", "linear")),
    "smoothing": Param(kind="float", lo=0.0, hi=1.0, hi_open=True),
    "diverge_factor": Param(kind="float", lo=1.0, lo_open=True),
    "accumulation_steps": Param(kind="int", lo=1),
    "method": Param(kind="str", choices=SUGGESTIONS),
}
Progress = Callable[[Iterable[int], int], Iterable[int]]


@dataclasses.dataclass(frozen=True)
class RangeTestResult:
    """What a range test saw: the lr of each update, its loss (raw and smoothed), suggestions."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    suggested_lr: float | None  # by `method`; None when too few points were recorded
    method: str
    valley_lr: float | None
    steepest_lr: float | None
    minimum_lr: float | None
    stop_reason: str  # "completed", "diverged" or "non-finite loss"
    num_steps: int  # the updates asked for; len(lrs) were recorded

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def plot(self, output: str | Path, *, title: str = "LR range test") -> Path:
        """Draw loss against lr (log axis for an exponential sweep), suggestions marked."""
        return plot_range_test(self, output, title=title)


def range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], Tensor],
    data: Iterable[Any],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    accumulation_steps: int = 1,
    method: str = "valley",
    progress: Progress | None = None,
) -> RangeTestResult:
    """Run an LR range test and restore ``model`` and ``optimizer`` afterwards.

    ``data`` yields ``(inputs, targets)`` batches (cycled when exhausted) and
    the loss of a batch is ``loss_fn(model(inputs), targets)``. Every param
    group keeps its lr ratio to the first group, whose lr is swept. Each
    update averages the gradients of ``accumulation_steps`` batches.
    """
    given = {
        "start_lr": start_lr,
        "end_lr": end_lr,
        "num_steps": num_steps,
        "mode": mode,
        "smoothing": smoothing,
        "diverge_factor": diverge_factor,
        "accumulation_steps": accumulation_steps,
        "method": method,
    }
    checked = {k: normalize("range_test", k, ARGUMENTS[k], v) for k, v in given.items()}
    if not checked["end_lr"] > checked["start_lr"]:
        raise ValueError(
            f"range_test: `end_lr` must be greater than `start_lr` ({start_lr}), got {end_lr}"
        )
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "range_test: `optimizer` must be a torch.optim.Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    start_lr, end_lr, num_steps = checked["start_lr"], checked["end_lr"], checked["num_steps"]
    smoothing, method = checked["smoothing"], checked["method"]

    sweep = sweep_lrs(start_lr, end_lr, num_steps, checked["mode"])
    saved = _snapshot(model, optimizer)
    try:
        lrs, losses, reason = _sweep(
            model,
            optimizer,
            loss_fn,
            _cycle(data),
            sweep,
            checked["accumulation_steps"],
            smoothing,
            checked["diverge_factor"],
            progress,
        )
    finally:
        _restore(model, optimizer, saved)
    smoothed = smooth(losses, smoothing)
    picks = suggest(np.asarray(lrs), smoothed)
    return RangeTestResult(
        lrs=tuple(lrs),
        losses=tuple(losses),
        smoothed=tuple(float(v) for v in smoothed),
        suggested_lr=picks[method],
        method=method,
        valley_lr=picks["valley"],
        steepest_lr=picks["steepest"],
        minimum_lr=picks["minimum"],
        stop_reason=reason,
        num_steps=num_steps,
    )


def sweep_lrs(start_lr: float, end_lr: float, num_steps: int, mode: str) -> np.ndarray:
    """The lr of each update: geometric (``exp``) or arithmetic (``linear``), both ends included."""
    if mode == "exp":
        return np.geomspace(start_lr, end_lr, num_steps)
    return np.linspace(start_lr, end_lr, num_steps)


def smooth(losses: Iterable[float], beta: float) -> np.ndarray:
    """Exponential moving average with bias correction: ``avg_k / (1 - beta^(k+1))``."""
    out, avg = [], 0.0
    for k, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (k + 1)))
    return np.asarray(out, dtype=np.float64)


def suggest(lrs: np.ndarray, smoothed: np.ndarray) -> dict[str, float | None]:
    """The three suggestions on a (smoothed) curve; None for each when fewer than 3 points."""
    n = len(smoothed)
    if n < 3:
        return dict.fromkeys(SUGGESTIONS)
    lo, hi = (n // 10, n - 5) if n - 5 - n // 10 >= 3 else (0, n)
    x, y = lrs[lo:hi], smoothed[lo:hi]
    lowest = int(np.argmin(y))
    span = max(lowest, 1) + 1  # the slopes up to the minimum (at least one)
    slopes = np.diff(y[:span]) / np.diff(np.log(x[:span]))
    return {
        "valley": float(x[_valley(y)]),
        "steepest": float(x[int(np.argmin(slopes))]),
        "minimum": float(x[lowest]) / 10,
    }


def _valley(losses: np.ndarray) -> int:
    """fastai's valley: the longest decreasing subsequence, two thirds of the way down it."""
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


def _sweep(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], Tensor],
    batches: Iterator[Any],
    sweep: np.ndarray,
    accumulation_steps: int,
    beta: float,
    diverge_factor: float,
    progress: Progress | None,
) -> tuple[list[float], list[float], str]:
    ratios = _lr_ratios(optimizer)
    model.train()
    lrs: list[float] = []
    losses: list[float] = []
    avg, best = 0.0, math.inf
    steps: Iterable[int] = range(len(sweep))
    for k in progress(steps, len(sweep)) if progress else steps:
        _set_lr(optimizer, float(sweep[k]), ratios)
        optimizer.zero_grad()
        loss = 0.0
        for _ in range(accumulation_steps):
            inputs, targets = next(batches)
            batch_loss = loss_fn(model(inputs), targets) / accumulation_steps
            batch_loss.backward()  # type: ignore[no-untyped-call]
            loss += float(batch_loss.detach())
        if not math.isfinite(loss):
            return lrs, losses, "non-finite loss"
        optimizer.step()
        lrs.append(float(sweep[k]))
        losses.append(loss)
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (k + 1))
        best = min(best, smoothed)
        if smoothed > diverge_factor * best:
            return lrs, losses, "diverged"
    return lrs, losses, "completed"


def _cycle(data: Iterable[Any]) -> Iterator[Any]:
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError("range_test: `data` yielded no batches")


def _lr_ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    base = [float(g["lr"]) for g in optimizer.param_groups]
    if base[0] == 0:
        return [1.0] * len(base)
    return [b / base[0] for b in base]


def _set_lr(optimizer: torch.optim.Optimizer, lr: float, ratios: list[float]) -> None:
    for group, ratio in zip(optimizer.param_groups, ratios):
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(lr * ratio)
        else:
            group["lr"] = lr * ratio


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[Any, ...]:
    modes = {name: m.training for name, m in model.named_modules()}
    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()), modes


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, saved: tuple[Any, ...]) -> None:
    weights, opt_state, modes = saved
    model.load_state_dict(weights)
    optimizer.load_state_dict(opt_state)
    if not opt_state["state"]:
        optimizer.state.clear()  # load_state_dict keeps state it has no entry for
    for name, m in model.named_modules():
        m.training = modes[name]


def plot_range_test(
    result: RangeTestResult, output: str | Path, *, title: str = "LR range test"
) -> Path:
    """Loss against lr, raw (faint) and smoothed, each suggestion marked and labelled."""
    with saved_figure("plot_range_test", output, figsize=(10, 5), dpi=120) as (_, ax):
        lrs = np.asarray(result.lrs)
        if len(lrs):
            ax.plot(lrs, result.losses, color="0.7", linewidth=1, label="loss")
            ax.plot(lrs, result.smoothed, color="C0", linewidth=2, label="smoothed loss")
        geometric = len(lrs) > 2 and np.allclose(np.diff(np.log(lrs)), np.log(lrs[1] / lrs[0]))
        if geometric:
            ax.set_xscale("log")
        marks = {
            "valley": result.valley_lr,
            "steepest": result.steepest_lr,
            "minimum": result.minimum_lr,
        }
        for i, (name, lr) in enumerate(marks.items()):
            if lr is None:
                continue
            chosen = name == result.method
            ax.axvline(
                lr,
                color=f"C{i + 1}",
                linestyle="-" if chosen else "--",
                linewidth=2 if chosen else 1,
            )
            y = float(np.interp(np.log(lr), np.log(lrs), result.smoothed)) if geometric else None
            if y is not None:
                ax.plot([lr], [y], "o", color=f"C{i + 1}")
            label = f"{name}: {lr:.2e}" + ("  (suggested)" if chosen else "")
            ax.annotate(
                label,
                xy=(lr, 1 - 0.07 * (i + 1)),
                xycoords=("data", "axes fraction"),
                xytext=(4, 0),
                textcoords="offset points",
                color=f"C{i + 1}",
                fontsize=9,
            )
        if len(lrs):
            finite = np.asarray(result.smoothed)
            low = min(finite.min(), float(np.percentile(result.losses, 5)))
            high = finite[: max(1, len(finite) // 10)].max()
            pad = 0.1 * (high - low) if high > low else 1.0
            ax.set_ylim(low - pad, max(high, *finite[: len(finite) // 2 + 1]) + pad)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title(f"{title} ({result.stop_reason} after {len(lrs)} of {result.num_steps} steps)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower left", fontsize=9)
    return Path(output)
