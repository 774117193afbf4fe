"""The report's figures, drawn from the rows of a study (matplotlib, Agg).

Each function draws one figure onto a new matplotlib figure and returns it
(the report saves it as a PNG beside the HTML and embeds the same bytes).
Seed bands are the range (min to max) over seeds; the line is the mean.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrkit.bench.results import (
    Row,
    Targets,
    current,
    direction,
    lr_windows,
    points,
    time_to_target,
)

COLORS = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
)  # fmt: skip
METRIC_NAMES = {"test_loss": "test loss", "test_accuracy": "test accuracy"}


def _plt() -> Any:
    from lrkit.extras import require

    require("matplotlib").use("Agg")
    return require("matplotlib.pyplot")


def _colors(labels: Sequence[str]) -> dict[str, str]:
    return {label: COLORS[i % len(COLORS)] for i, label in enumerate(dict.fromkeys(labels))}


def _tasks(rows: Sequence[Row]) -> list[str]:
    return list(dict.fromkeys(r.task for r in rows))


def _metric(rows: Sequence[Row], task: str) -> str:
    """The metric's name in ``task``'s rows (tasks of one report may differ)."""
    metric = next((r.metric for r in rows if r.task == task), "")
    return METRIC_NAMES.get(metric, metric)


def short_labels(rows: Sequence[Row]) -> tuple[dict[str, str], str]:
    """Each configuration's label without the parts every configuration shares (a
    preset's common schedule), and the shared parts, for legends and axes."""
    parts = {r.label: r.label_parts() for r in rows}
    if len(parts) < 2:
        return {label: label for label in parts}, ""
    columns = list(zip(*parts.values()))
    varying = [i for i, column in enumerate(columns) if len(set(column)) > 1]
    common = ", ".join(c[0] for i, c in enumerate(columns) if i not in varying and c[0])
    short = {
        label: ", ".join(p[i] for i in varying if p[i]) or "(no schedule)"
        for label, p in parts.items()
    }
    return short, common


def _title(task: str, what: str) -> str:
    """``task: what``, a long task spec wrapped onto its own lines."""
    return "\n".join(textwrap.wrap(task, 70, break_long_words=False)) + f"\n{what}"


def lr_sensitivity(rows: Sequence[Row]) -> Any:
    """Final metric against the learning rate, one line per configuration (mean over
    seeds, min-max band; diverged or failed seeds are crosses), and under it each
    configuration's window of lrs within 5% of its best -- the LR-robustness picture."""
    plt = _plt()
    tasks = _tasks(current(rows))
    every = points(rows)
    labels = list(dict.fromkeys(p.label for p in every))
    fig = plt.figure(figsize=(max(10.0, 6.8 * len(tasks)), 5.0 + 0.28 * len(labels)))
    grid = fig.add_gridspec(2, len(tasks), height_ratios=[4.2, 0.6 + 0.28 * len(labels)])
    windows = {(w.task, w.label): w for w in lr_windows(rows)}
    colors = _colors(labels)
    for col, task in enumerate(tasks):
        ax = fig.add_subplot(grid[0, col])
        strip = fig.add_subplot(grid[1, col], sharex=ax)
        ps = [p for p in every if p.task == task]
        metric = _metric(rows, task)
        lower = direction(ps[0].first.metric) == "minimize"
        finite = [v for p in ps for v in p.values if math.isfinite(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        edge = hi + 0.05 * ((hi - lo) or 1.0) if lower else lo - 0.05 * ((hi - lo) or 1.0)
        mine_labels = [label for label in labels if any(p.label == label for p in ps)]
        short, common = short_labels([p.first for p in ps])
        for k, label in enumerate(mine_labels):
            color = colors[label]
            mine = sorted((p for p in ps if p.label == label), key=lambda p: p.lr)
            good = [p for p in mine if p.ok == len(p.values)]
            if good:
                x = [p.lr for p in good]
                ax.plot(
                    x,
                    [statistics.fmean(p.values) for p in good],
                    "o-",
                    color=color,
                    label=short[label],
                    ms=4,
                )
                ax.fill_between(
                    x,
                    [min(p.values) for p in good],
                    [max(p.values) for p in good],
                    color=color,
                    alpha=0.15,
                )
            bad = [p for p in mine if p.diverged or p.failed]
            if bad:
                ax.plot([p.lr for p in bad], [edge] * len(bad), "x", color=color, ms=8, mew=2)
            w = windows.get((task, label))
            if w is not None:
                strip.plot([w.low, w.high], [k, k], "-", color=color, lw=6, solid_capstyle="butt")
                strip.plot([w.best_lr], [k], "o", color="black", ms=4)
                strip.text(w.high, k, f"  {w.decades:.1f} decades", va="center", fontsize=7)
        ax.set_xscale("log")
        _lr_ticks(strip, sorted({p.lr for p in ps}))
        ax.set_ylabel(f"final {metric}")
        what = f"final {metric} against the learning rate"
        ax.set_title(_title(task, what + (f"\nall with {common}" if common else "")), fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="best", framealpha=0.85)
        ax.tick_params(labelbottom=False)
        strip.set_yticks(range(len(mine_labels)), [short[x] for x in mine_labels], fontsize=7)
        strip.set_ylim(len(mine_labels) - 0.5, -0.5)
        strip.set_xlabel("learning rate (peak of the schedule)")
        strip.set_title(
            "learning rates within 5% of each one's best "
            "(dot: the best; x in the plot: diverged seeds)",
            fontsize=8,
        )
        strip.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _lr_ticks(ax: Any, lrs: Sequence[float]) -> None:
    """The swept learning rates as the x ticks when there are few of them (matplotlib's
    minor log labels overlap over less than a decade), else the decades."""
    from matplotlib.ticker import NullFormatter

    if 1 < len(lrs) <= 10:
        kept: list[float] = []
        for lr in sorted(lrs):  # labels closer than 0.25 decades would overlap
            if not kept or math.log10(lr / kept[-1]) >= 0.25:
                kept.append(lr)
        ax.set_xticks(kept, [f"{lr:.3g}" for lr in kept], fontsize=8)
        ax.xaxis.set_minor_formatter(NullFormatter())


def curves(rows: Sequence[Row]) -> Any:
    """Training loss and the metric against the step, each configuration at its best lr,
    mean over seeds with the min-max band."""
    plt = _plt()
    tasks = _tasks(current(rows))
    fig, axes = plt.subplots(len(tasks), 2, figsize=(12.8, 4.4 * len(tasks)), squeeze=False)
    best = {(w.task, w.label): w.best_lr for w in lr_windows(rows)}
    for (ax_loss, ax_metric), task in zip(axes, tasks):
        chosen = [
            r for r in current(rows) if r.task == task and best.get((task, r.label)) == r.config_lr
        ]
        colors = _colors([r.label for r in chosen])
        short, common = short_labels(chosen)
        for label, color in colors.items():
            rs = [r for r in chosen if r.label == label]
            text = f"{short[label]} (lr {rs[0].config_lr:.3g})"
            _band(ax_loss, [(r.loss_steps, r.train_loss) for r in rs], color, text)
            evals = [([e[0] for e in r.evals], [e[1] for e in r.evals]) for r in rs]
            _band(ax_metric, evals, color, text)
        ax_loss.set_yscale("log")
        ax_loss.set_title(
            _title(task, "training loss (best lr of each)" + (f", all {common}" if common else "")),
            fontsize=10,
        )
        ax_metric.set_title(_title(task, f"{_metric(rows, task)} (best lr of each)"), fontsize=10)
        for ax in (ax_loss, ax_metric):
            ax.set_xlabel("step")
            ax.grid(True, alpha=0.3)
        ax_metric.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _band(
    ax: Any, series: Sequence[tuple[Sequence[float], Sequence[Any]]], color: str, label: str
) -> None:
    series = [(s, v) for s, v in series if len(s)]
    if not series:
        return
    steps = np.asarray(max((s for s, _ in series), key=len), dtype=float)
    ys = []
    for s, v in series:
        y = np.asarray([np.nan if x is None else x for x in v], dtype=float)
        ys.append(np.interp(steps, np.asarray(s, dtype=float), y, right=np.nan))
    stack = np.vstack(ys)
    with np.errstate(all="ignore"):
        mean = np.nanmean(stack, axis=0)
        ax.fill_between(
            steps, np.nanmin(stack, axis=0), np.nanmax(stack, axis=0), color=color, alpha=0.15
        )
    ax.plot(steps, mean, color=color, label=label, lw=1.4)


def time_to_result(rows: Sequence[Row], targets: Targets) -> Any | None:
    """Steps and seconds to each task's target at each configuration's best lr
    (AlgoPerf's time-to-result), a row of two panels per task; configurations that
    never reach it are marked."""
    found = time_to_target(rows, targets)
    if not found:
        return None
    plt = _plt()
    tasks = list(dict.fromkeys(t.task for t in found))
    colors = _colors([p.label for p in points(rows)])
    heights = [1.3 + 0.42 * sum(t.task == task for t in found) for task in tasks]
    fig, axes = plt.subplots(
        len(tasks), 2, figsize=(12.8, sum(heights)), squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for (ax_steps, ax_seconds), task in zip(axes, tasks):
        mine = [t for t in found if t.task == task]
        short, _ = short_labels([r for r in current(rows) if r.task == task])
        goal = (
            f"{METRIC_NAMES.get(mine[0].metric, mine[0].metric)} "
            f"{'<=' if direction(mine[0].metric) == 'minimize' else '>='} {mine[0].target:.4g}"
        )
        for ax, what in ((ax_steps, "steps"), (ax_seconds, "seconds")):
            values = [getattr(t, what) for t in mine]
            top = max((v for v in values if v is not None), default=1.0)
            for i, (t, v) in enumerate(zip(mine, values)):
                if v is None:
                    ax.barh(i, top, color="#eeeeee", hatch="//", edgecolor="#bbbbbb")
                    ax.text(top * 0.02, i, "not reached", va="center", fontsize=8)
                    continue
                ax.barh(i, v, color=colors.get(t.label, COLORS[0]))
                note = f"{v:.0f}" if what == "steps" else f"{v:.2f} s"
                if t.reached < t.seeds:
                    note += f" ({t.reached}/{t.seeds} seeds)"
                ax.text(v, i, " " + note, va="center", fontsize=8)
            labels = [f"{short.get(t.label, t.label)} (lr {t.lr:.3g})" for t in mine]
            ax.set_yticks(range(len(mine)), labels if what == "steps" else [""] * len(mine))
            ax.tick_params(axis="y", labelsize=8)
            ax.invert_yaxis()
            ax.set_xlabel(f"{what} to the target")
            ax.set_title(_title(task, f"{what} to {goal}"), fontsize=9)
            ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def warmup_histograms(rows: Sequence[Row]) -> Any | None:
    """Per configuration (with ``warmup_stats``), at the sweep's highest lr and first
    seed: the histogram of log10 |g| over the first steps (a column per step) and the
    spread of the per-parameter step size ``|delta p| / |g|``."""
    measured = [r for r in current(rows) if "grad_hist" in r.extras]
    if not measured:
        return None
    top = max(r.config_lr for r in measured)  # where the claim is tested: the highest lr
    seed = min(r.seed for r in measured)
    by_label = {r.label: r for r in measured if r.config_lr == top and r.seed == seed}
    if not by_label:
        return None
    plt = _plt()
    n = len(by_label)
    fig, axes = plt.subplots(2, n, figsize=(3.4 * n, 6.4), squeeze=False)
    for k, (label, r) in enumerate(by_label.items()):
        hist = r.extras["grad_hist"]
        counts = np.asarray(hist["counts"], dtype=float)
        edges = np.asarray(hist["edges"])
        if counts.size:
            dens = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
            axes[0][k].imshow(
                np.log10(dens + 1e-6).T, origin="lower", aspect="auto", cmap="viridis",
                extent=(0, len(counts), edges[0], edges[-1]),
            )  # fmt: skip
        axes[0][k].set_title(f"{label}\nlr {r.lr:.3g}", fontsize=8)
        axes[0][k].set_xlabel("step")
        axes[0][k].set_ylabel("log10 |gradient|")
        q = np.asarray(r.extras["step_size_quantiles"]["values"], dtype=float)
        if q.size:
            steps = np.arange(len(q))
            axes[1][k].fill_between(
                steps, q[:, 0], q[:, -1], alpha=0.2, color=COLORS[k % len(COLORS)], label="5-95%"
            )
            axes[1][k].fill_between(
                steps, q[:, 1], q[:, -2], alpha=0.4, color=COLORS[k % len(COLORS)], label="25-75%"
            )
            axes[1][k].plot(steps, q[:, 2], color=COLORS[k % len(COLORS)], label="median")
            axes[1][k].set_yscale("log")
        axes[1][k].set_xlabel("step")
        axes[1][k].set_ylabel("|step| / |gradient| per parameter")
        axes[1][k].legend(fontsize=7)
    fig.suptitle(
        f"The first steps at lr {top:g}: gradient magnitudes (top) and effective per-parameter "
        "step sizes (bottom)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def sharpness(rows: Sequence[Row]) -> Any | None:
    """Final metric against the sharpness of the final weights, per configuration
    at its best lr, one point per seed."""
    best = {(w.task, w.label): w.best_lr for w in lr_windows(rows)}
    chosen = [
        r
        for r in current(rows)
        if "sharpness" in r.extras and best.get((r.task, r.label)) == r.config_lr
    ]
    if not chosen:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    colors = _colors([r.label for r in chosen])
    for label, color in colors.items():
        rs = [r for r in chosen if r.label == label and r.value is not None]
        ax.scatter(
            [r.extras["sharpness"] for r in rs], [r.value for r in rs], color=color, label=label
        )
    ax.set_xlabel("sharpness: mean loss increase under random 5% weight perturbations")
    ax.set_ylabel(f"final {METRIC_NAMES.get(chosen[0].metric, '')}")
    ax.set_title("Flatness and generalisation of the final weights (one point per seed)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["COLORS", "curves", "lr_sensitivity", "sharpness", "time_to_result", "warmup_histograms"]
