"""The picture of an LR range test: loss against lr, the suggestions marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lrkit.tools.figure import saved_figure

SHOWN = ("minimum", "steepest", "valley")  # the methods marked (the chosen one always is)


def plot_range_test(
    result: Any, output: str | Path | None = None, *, ax: Any = None, title: str = "LR range test"
) -> Any:
    """Loss against lr, raw (faint) and smoothed, each suggestion marked and labelled.

    Into ``ax`` (returned) when given, as in a notebook; else a new figure
    written to ``output`` (its path returned).
    """
    if ax is not None:
        _draw(result, ax, title)
        return ax
    if output is None:
        raise ValueError("plot_range_test: pass `output` (a file) or `ax` (a matplotlib Axes)")
    with saved_figure("plot_range_test", output, figsize=(10, 5), dpi=120) as (_, axes):
        _draw(result, axes, title)
    return Path(output)


def _draw(result: Any, ax: Any, title: str) -> None:
    lrs = np.asarray(result.lrs)
    if len(lrs):
        ax.plot(lrs, result.losses, color="0.7", linewidth=1, label="loss")
        ax.plot(lrs, result.smoothed, color="C0", linewidth=2, label="smoothed loss")
    geometric = len(lrs) > 2 and np.allclose(np.diff(np.log(lrs)), np.log(lrs[1] / lrs[0]))
    if geometric:
        ax.set_xscale("log")
    shown = [m for m in SHOWN if m != result.method]
    for i, name in enumerate([result.method, *shown]):
        lr = result.suggestions.get(name)
        if lr is None:
            continue
        chosen = name == result.method
        color = f"C{i + 1}"
        ax.axvline(lr, color=color, linestyle="-" if chosen else "--", linewidth=2 if chosen else 1)
        if geometric:
            y = float(np.interp(np.log(lr), np.log(lrs), result.smoothed))
            ax.plot([lr], [y], "o", color=color)
        label = f"{name}: {lr:.2e}" + ("  (suggested)" if chosen else "")
        ax.annotate(
            label,
            xy=(lr, 1 - 0.07 * (i + 1)),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            color=color,
            fontsize=9,
        )
    if len(lrs):
        smoothed = np.asarray(result.smoothed)
        low = min(smoothed.min(), float(np.percentile(result.losses, 5)))
        high = max(
            smoothed[: max(1, len(smoothed) // 10)].max(), *smoothed[: len(smoothed) // 2 + 1]
        )
        pad = 0.1 * (high - low) if high > low else 1.0
        ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"{title} ({result.stop_reason} after {len(lrs)} of {result.num_steps} steps)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left", fontsize=9)


__all__ = ["SHOWN", "plot_range_test"]
