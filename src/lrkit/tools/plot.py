"""Draw schedules: sampled values, and a matplotlib figure with phase boundaries marked."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lrkit.schedules import Schedule
from lrkit.tools.figure import saved_figure
from lrkit.tools.sources import Curve, schedule_curve, steps_past


def default_steps(schedules: Sequence[Schedule], fallback: int = 1000) -> int:
    """A horizon that shows every schedule's phases: 10% past the last breakpoint."""
    return steps_past([b for s in schedules for b in s.breakpoints()], fallback)


def _check_steps(owner: str, steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{owner}: `steps` must be a positive integer, got {steps!r}")
    return steps


def sample(schedule: Schedule, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(t, schedule(t))`` for ``t = 0 .. steps`` (inclusive)."""
    t = np.arange(_check_steps("sample", steps) + 1, dtype=np.float64)
    return t, schedule(t)


def plot_schedules(
    schedules: Sequence[Schedule],
    output: str | Path,
    *,
    steps: int | None = None,
    log: bool = False,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    steps_per_epoch: int | None = None,
) -> Path:
    """Draw ``schedules`` on one figure and write it to ``output`` (PNG, SVG or PDF).

    Each curve is labelled with its spec; dotted lines mark phase boundaries.
    One-cycle schedules also draw their momentum on a second axis. The PNG
    is 1200 px wide.
    """
    if not schedules:
        raise ValueError("plot_schedules: `schedules` must not be empty")
    labels = list(labels) if labels is not None else [str(s) for s in schedules]
    if len(labels) != len(schedules):
        raise ValueError(
            f"plot_schedules: `labels` must have one entry per schedule "
            f"({len(schedules)}), got {len(labels)}"
        )
    steps = _check_steps("plot_schedules", steps if steps is not None else default_steps(schedules))
    curves = [schedule_curve(s, steps, label) for s, label in zip(schedules, labels)]
    return plot_curves(curves, output, log=log, title=title, steps_per_epoch=steps_per_epoch)


def plot_curves(
    curves: Sequence[Curve],
    output: str | Path,
    *,
    log: bool = False,
    title: str | None = None,
    steps_per_epoch: int | None = None,
) -> Path:
    """Draw sampled curves (:mod:`lrkit.tools.sources`): lr on the left axis, momentum on the right.

    Phase boundaries are dotted and labelled with their step (or epoch, when
    ``steps_per_epoch`` puts epochs on the x axis). The title is the spec(s).
    """
    if not curves:
        raise ValueError("plot_curves: `curves` must not be empty")
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, int)
        or steps_per_epoch < 1
    ):
        raise ValueError(
            f"plot_curves: `steps_per_epoch` must be a positive integer, got {steps_per_epoch!r}"
        )
    scale = float(steps_per_epoch or 1)
    legend_rows = math.ceil(
        (len(curves) + sum(c.momentum is not None for c in curves)) / 2
    )  # the legend sits below the axes
    size = (10, 5.5 + 0.22 * legend_rows)
    with saved_figure("plot_curves", output, figsize=size, dpi=120) as (_, ax):
        right = ax.twinx() if any(c.momentum is not None for c in curves) else None
        last = max(c.last_step for c in curves) / scale
        seen: set[float] = set()
        for i, curve in enumerate(curves):
            x = curve.steps / scale
            color = f"C{i}"
            ax.plot(x, curve.values, label=_shorten(curve.label), linewidth=1.8, color=color)
            if right is not None and curve.momentum is not None:
                right.plot(x, curve.momentum, linestyle="--", linewidth=1.2, color=color,
                           label=f"momentum: {_shorten(curve.label, 40)}")  # fmt: skip
            _mark_phases(ax, curve, scale, last, color, row=i, seen=seen)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(
            f"epoch ({steps_per_epoch} steps each)"
            if steps_per_epoch
            else "step t (optimizer updates applied)"
        )
        ax.set_ylabel("lr" if any(c.absolute for c in curves) else "lr (x base lr)")
        ax.set_xlim(0, last)
        ax.grid(alpha=0.3)
        handles, names = ax.get_legend_handles_labels()
        if right is not None:
            right.set_ylabel("momentum / beta1 (dashed)")
            more = right.get_legend_handles_labels()
            handles, names = handles + more[0], names + more[1]
        # below the axes, so it never covers a curve
        ax.legend(
            handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8,
            ncol=min(len(names), 2), frameon=False,
        )  # fmt: skip
        ax.set_title(title or _title([c.label for c in curves]), fontsize=10)
    return Path(output)


LABEL_GAP = 0.06  # a phase label needs this fraction of the axis' width to the next


def _mark_phases(
    ax: object, curve: Curve, scale: float, last: float, color: str, row: int, seen: set[float]
) -> None:
    """Dotted lines at the phase boundaries, each labelled with where it falls; a label
    closer than ``LABEL_GAP`` of the width to the previous one, or at a step another
    curve labelled (``seen``), is left out, so labels do not overlap."""
    labelled = -1.0
    for b in curve.breakpoints:
        x = b / scale
        if 0 < x < last:
            ax.axvline(x, color=color, linestyle=":", linewidth=0.9, alpha=0.7)  # type: ignore[attr-defined]
            if x in seen or (labelled >= 0 and (x - labelled) < LABEL_GAP * last):
                continue
            labelled = x
            seen.add(x)
            text = f"epoch {x:g}" if scale != 1 else f"t={x:g}"
            ax.annotate(  # type: ignore[attr-defined]
                text, xy=(x, 1.0 - 0.04 * row), xycoords=("data", "axes fraction"),
                xytext=(2, -10), textcoords="offset points", fontsize=7, color=color,
            )  # fmt: skip


def _title(labels: Sequence[str]) -> str:
    text = labels[0] if len(labels) == 1 else "  |  ".join(labels)
    lines = textwrap.wrap(text, 110)
    return "\n".join(lines[:3]) + (" ..." if len(lines) > 3 else "")


def _shorten(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


__all__ = ["LABEL_GAP", "default_steps", "plot_curves", "plot_schedules", "sample"]
