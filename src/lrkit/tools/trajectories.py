"""Optimizer paths on 2-D test functions, each optimizer at its own tuned lr.

:func:`trajectory` runs one optimizer from a surface's start and records the
point after every update. :func:`tune_lr` picks the lr of a log-spaced grid
whose run ends lowest (a diverging or non-finite run scores infinity), so
the comparison shows each method at its best rather than at one shared lr.
:func:`compare` does both for several optimizers; :func:`plot_trajectories`
draws the paths over the function's contours (and an animated GIF).

Optimizers are given as specs: a registered name with keyword arguments,
``"sgd(momentum=0.9, nesterov=True)"``; see ``lrkit list optimizers``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrkit.extras import require
from lrkit.optim.base import lookup
from lrkit.optim.factory import parse_spec
from lrkit.tasks.functions import SURFACES, Surface
from lrkit.tools.figure import check_output, saved_figure
from lrkit.validation import Param, did_you_mean, normalize

DEFAULT_OPTIMIZERS = ("sgd", "sgd(momentum=0.9)", "adam", "rmsprop")
LR_GRID = tuple(float(x) for x in np.logspace(-4, 1, 26))
Progress = Callable[[Iterable[Any], int], Iterable[Any]]


@dataclasses.dataclass(frozen=True)
class Path2D:
    """One optimizer's path: the points after 0, 1, ..., steps updates, and its values."""

    optimizer: str
    lr: float
    points: np.ndarray  # (steps + 1, 2)
    values: np.ndarray  # (steps + 1,)

    @property
    def final(self) -> float:
        return float(self.values[-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "lr": self.lr,
            "final_value": self.final,
            "final_point": self.points[-1].tolist(),
        }


def surface(name: str | Surface) -> Surface:
    """The registered surface called ``name`` (rosenbrock, rastrigin, beale, quadratic)."""
    if isinstance(name, Surface):
        return name
    if name not in SURFACES:
        raise ValueError(
            f"unknown function {name!r}; known: {', '.join(SURFACES)}"
            + did_you_mean(str(name), list(SURFACES))
        )
    return SURFACES[name]


def trajectory(function: str | Surface, optimizer: str, lr: float, steps: int = 200) -> Path2D:
    """Run ``optimizer`` (a spec) at ``lr`` for ``steps`` updates from the function's start."""
    return trajectories(function, optimizer, [lr], steps)[0]


def trajectories(
    function: str | Surface, optimizer: str, lrs: Sequence[float], steps: int = 200
) -> list[Path2D]:
    """One path per lr in ``lrs``, all advanced together.

    The function and its gradient are evaluated once per update for every
    run's point (one stacked forward and backward); each run has its own
    optimizer. A run whose value stops being finite is frozen there.
    """
    fn = surface(function)
    steps = int(normalize("trajectory", "steps", Param(kind="int", lo=1), steps))
    name, kwargs = parse_spec(optimizer)
    cls: Any = lookup(name).cls
    start = torch.tensor(fn.start, dtype=torch.float64)
    params = [torch.nn.Parameter(start.clone()) for _ in lrs]
    opts = [cls([p], lr=lr, **kwargs) for p, lr in zip(params, lrs)]
    points = np.full((len(lrs), steps + 1, 2), np.nan)
    values = np.full((len(lrs), steps + 1), math.inf)
    alive = np.ones(len(lrs), dtype=bool)
    for k in range(steps + 1):
        xy = torch.stack([p.detach() for p in params]).requires_grad_(True)
        value = fn(xy)
        value.sum().backward()  # type: ignore[no-untyped-call]
        v = value.detach().numpy()
        alive &= np.isfinite(v)
        points[alive, k], values[alive, k] = xy.detach().numpy()[alive], v[alive]
        if k == steps:
            break
        for i in np.flatnonzero(alive):
            params[i].grad = xy.grad[i].clone()  # type: ignore[index]
            opts[i].step()
    return [Path2D(optimizer, float(lr), points[i], values[i]) for i, lr in enumerate(lrs)]


def score(path: Path2D, function: str | Surface) -> float:
    """Lower is better: the mean of ``log10(f - f_min)`` over the second half of the run.

    Averaging over the run's second half (rather than taking its last value)
    prefers a run that has settled over one that happens to be low when it
    stops; a run that is not finite or strays outside the function's window
    (widened by a tenth of its size on each side) scores infinity.
    """
    fn = surface(function)
    (x0, x1), (y0, y1) = fn.window
    dx, dy = (x1 - x0) / 10, (y1 - y0) / 10
    xs, ys = path.points[:, 0], path.points[:, 1]
    inside = (xs >= x0 - dx) & (xs <= x1 + dx) & (ys >= y0 - dy) & (ys <= y1 + dy)
    if not (np.all(np.isfinite(path.values)) and np.all(inside)):
        return math.inf
    floor = float(fn(torch.tensor(fn.minimum, dtype=torch.float64)))
    tail = path.values[len(path.values) // 2 :] - floor
    return float(np.mean(np.log10(np.maximum(tail, 1e-12))))


def tune_lr(
    function: str | Surface, optimizer: str, steps: int = 200, lrs: Sequence[float] = LR_GRID
) -> Path2D:
    """The path of ``optimizer`` at the lr of ``lrs`` whose run scores lowest (:func:`score`)."""
    if not lrs:
        raise ValueError("tune_lr: `lrs` must not be empty")
    paths = trajectories(function, optimizer, lrs, steps)
    return min(paths, key=lambda path: score(path, function))  # ties: the smallest lr


def compare(
    function: str | Surface,
    optimizers: Sequence[str] = DEFAULT_OPTIMIZERS,
    steps: int = 200,
    lrs: Sequence[float] = LR_GRID,
    progress: Progress | None = None,
) -> list[Path2D]:
    """Each optimizer's path at its tuned lr (:func:`tune_lr`), in the order given."""
    for spec in optimizers:
        parse_spec(spec)  # every spec checked before any work
    specs: Iterable[str] = progress(optimizers, len(optimizers)) if progress else optimizers
    return [tune_lr(function, spec, steps, lrs) for spec in specs]


GIF_DPI = 70  # with flat gray bands an animation of 4 panels is well under 5 MB


def plot_trajectories(
    results: Sequence[tuple[str | Surface, Sequence[Path2D]]],
    output: str | Path | None = None,
    *,
    gif: str | Path | None = None,
    frames: int = 40,
) -> Path:
    """Draw each function's contours with its optimizers' paths (one panel per function),
    into the image ``output`` and/or the animated GIF ``gif`` (the paths grow step by
    step, on gray contours so that the GIF's 256 colours keep the paths apart).

    ``results`` pairs a function with the paths run on it (:func:`compare`).
    Returns the image's path, or the GIF's when there is no image.
    """
    if not results:
        raise ValueError("plot_trajectories: `results` must not be empty")
    if output is None and gif is None:
        raise ValueError("plot_trajectories: pass `output` (an image), `gif`, or both")
    if gif is not None:
        check_output("plot_trajectories", gif, (".gif",), name="gif")
    if output is not None:
        check_output("plot_trajectories", output)
    cols = 1 if len(results) == 1 else 2
    rows = math.ceil(len(results) / cols)
    layout = {"nrows": rows, "ncols": cols, "squeeze": False}
    size = {"figsize": (6.5 * cols, 5.5 * rows), "dpi": 110}
    if output is not None:
        with saved_figure("plot_trajectories", output, **layout, **size) as (_, axes):  # type: ignore[arg-type]
            _panels(axes, results, gray=False)
    if gif is not None:
        plt = require("matplotlib.pyplot")
        fig, axes = plt.subplots(**layout, **size)
        try:
            lines = _panels(axes, results, gray=True)
            fig.tight_layout()
            _animate(fig, lines, Path(gif), frames)
        finally:
            plt.close(fig)
    return Path(output if output is not None else gif)  # type: ignore[arg-type]


def _panels(
    axes: Any, results: Sequence[tuple[str | Surface, Sequence[Path2D]]], gray: bool
) -> list[tuple[Path2D, Any]]:
    lines: list[tuple[Path2D, Any]] = []
    for ax, (function, paths) in zip(axes.flat, results):
        lines.extend(_panel(ax, surface(function), paths, gray))
    for ax in list(axes.flat)[len(results) :]:
        ax.set_visible(False)
    return lines


def _panel(
    ax: Any, fn: Surface, paths: Sequence[Path2D], gray: bool = False
) -> list[tuple[Path2D, Any]]:
    """Contours of ``fn`` and each path; returns each path with its (line, head) artists."""
    (x0, x1), (y0, y1) = fn.window
    gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    grid = torch.from_numpy(np.stack([gx, gy], axis=-1))
    z = fn(grid).numpy()
    floor = float(fn(torch.tensor(fn.minimum, dtype=torch.float64)))
    gap = z - floor
    if fn.log_levels:
        gap = np.log10(gap + 1e-3)
    if gray:  # the GIF: flat gray bands compress far better than contour lines
        ax.contourf(gx, gy, gap, levels=12, cmap="Greys", alpha=0.4)
    else:
        ax.contourf(gx, gy, gap, levels=30, cmap="viridis", alpha=0.35)
        ax.contour(gx, gy, gap, levels=30, colors="k", linewidths=0.3, alpha=0.4)
    ax.plot(*fn.minimum, marker="*", markersize=14, color="gold", markeredgecolor="k", zorder=5)
    ax.plot(*fn.start, marker="o", markersize=6, color="k", zorder=5)
    artists = []
    for i, path in enumerate(paths):
        label = f"{path.optimizer}  lr={path.lr:.2g}  f={path.final:.2g}"
        (line,) = ax.plot(*path.points.T, color=f"C{i}", linewidth=1.5, label=label, zorder=3)
        (head,) = ax.plot(*path.points[-1], "o", color=f"C{i}", markersize=5, zorder=4)
        artists.append((path, (line, head)))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    steps = len(paths[0].values) - 1 if paths else 0
    ax.set_title(f"{fn.name} ({steps} steps, lr tuned per optimizer)")
    ax.legend(loc="upper right", fontsize=7.5, framealpha=0.9)
    return artists


def _animate(fig: Any, artists: list[tuple[Path2D, Any]], gif: Path, frames: int) -> None:
    animation = require("matplotlib.animation")
    steps = max(len(p.values) - 1 for p, _ in artists)
    ks = np.unique(np.linspace(0, steps, max(2, frames)).round().astype(int))

    def draw(k: int) -> list[Any]:
        out = []
        for path, (line, head) in artists:
            line.set_data(path.points[: k + 1, 0], path.points[: k + 1, 1])
            head.set_data(path.points[k : k + 1, 0], path.points[k : k + 1, 1])
            out += [line, head]
        return out

    anim = animation.FuncAnimation(fig, draw, frames=list(ks), blit=False)
    anim.save(gif, writer=animation.PillowWriter(fps=12), dpi=GIF_DPI)


__all__ = [
    "DEFAULT_OPTIMIZERS",
    "GIF_DPI",
    "LR_GRID",
    "Path2D",
    "Progress",
    "compare",
    "plot_trajectories",
    "score",
    "surface",
    "trajectories",
    "trajectory",
    "tune_lr",
]
