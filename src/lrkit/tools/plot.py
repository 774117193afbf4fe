"""Draw schedules: sampled values, and a matplotlib figure with phase boundaries marked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lrkit.extras import require
from lrkit.schedules import Schedule


def default_steps(schedules: Sequence[Schedule], fallback: int = 1000) -> int:
    """A horizon that shows every schedule's phases: 10% past the last breakpoint."""
    ends = [b for s in schedules for b in s.breakpoints()]
    return max(1, math.ceil(round(1.1 * max(ends), 6))) if ends else fallback


def sample(schedule: Schedule, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(t, schedule(t))`` for ``t = 0 .. steps`` (inclusive)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"sample: `steps` must be a positive integer, got {steps!r}")
    t = np.arange(steps + 1, dtype=np.float64)
    return t, schedule(t)


def plot_schedules(
    schedules: Sequence[Schedule],
    output: str | Path,
    *,
    steps: int | None = None,
    log: bool = False,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Draw ``schedules`` on one figure and write it to ``output`` (PNG, SVG or PDF).

    Each curve is labelled with its spec; dotted lines mark phase boundaries.
    The PNG is 1200 px wide.
    """
    if not schedules:
        raise ValueError("plot_schedules: `schedules` must not be empty")
    labels = list(labels) if labels is not None else [str(s) for s in schedules]
    if len(labels) != len(schedules):
        raise ValueError(
            f"plot_schedules: `labels` must have one entry per schedule "
            f"({len(schedules)}), got {len(labels)}"
        )
    output = Path(output)
    if output.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"plot_schedules: `output` must end in .png, .svg or .pdf, got {output}")
    steps = steps if steps is not None else default_steps(schedules)
    mpl = require("matplotlib")
    mpl.use("Agg")
    plt = require("matplotlib.pyplot")
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120)
    try:
        for schedule, label in zip(schedules, labels):
            t, v = sample(schedule, steps)
            (line,) = ax.plot(t, v, label=_shorten(label), linewidth=1.8)
            for b in schedule.breakpoints():
                if 0 < b < steps:
                    ax.axvline(b, color=line.get_color(), linestyle=":", linewidth=0.9, alpha=0.7)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("step t (optimizer updates applied)")
        ax.set_ylabel("value (x base lr)")
        ax.set_xlim(0, steps)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        ax.set_title(title or (_shorten(labels[0], 90) if len(labels) == 1 else "lrkit schedules"))
        fig.tight_layout()
        output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(output)
    finally:
        plt.close(fig)
    return output


def _shorten(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
