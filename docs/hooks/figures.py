"""An MkDocs hook: draw the guides' figures with lrkit at build time, so that every
picture on the site is what this version of the code computes.

Each function below writes one PNG; ``on_files`` adds them to the site under
``figures/`` (nothing is written into ``docs/``). ``python docs/hooks/figures.py
DIR`` draws them into ``DIR`` instead, to look at them without a build.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lrkit
from lrkit.schedules import (
    WSD,
    Cosine,
    CosineRestarts,
    Cyclic,
    Exponential,
    InverseSqrt,
    InverseTime,
    Linear,
    OneCycle,
    Polynomial,
    RAdamWarmup,
    ReduceOnPlateau,
    StepDecay,
    TimeBased,
    UntunedWarmup,
    Warmup,
    WarmupCosine,
)
from lrkit.tools.figure import saved_figure

FIGURES: dict[str, Callable[[Path], Any]] = {}


def figure(name: str) -> Callable[[Callable[[Path], Any]], Callable[[Path], Any]]:
    def register(draw: Callable[[Path], Any]) -> Callable[[Path], Any]:
        FIGURES[name] = draw
        return draw

    return register


@figure("decay.png")
def decay(out: Path) -> None:
    schedules = [
        StepDecay(every=300, gamma=0.3),
        Exponential(gamma=0.997),
        TimeBased(decay=0.002),
        InverseTime(decay=0.01),
        Linear(steps=800, end=0.01),
        Polynomial(steps=1000, power=2.0),
        Cosine(steps=1000),
    ]
    lrkit.plot_schedules(schedules, out, steps=1000, title="Decay families (peak 1)")


@figure("warmup.png")
def warmup(out: Path) -> None:
    base = Cosine(steps=5000, end=0.1)
    schedules = [
        Warmup(base, steps=500),
        Warmup(base, steps=500, shape="cosine"),
        Warmup(base, steps=500, shape="exponential", start=0.01),
        UntunedWarmup(base, beta2=0.999),
        RAdamWarmup(base, beta2=0.999),
    ]
    labels = [
        "linear warmup, 500 steps, then cosine(steps=5000, end=0.1)",
        "cosine-shaped warmup, 500 steps",
        "exponential warmup from 0.01, 500 steps",
        "untuned linear warmup: min(1, (t+1)/2000) x cosine (beta2 = 0.999)",
        "RAdam-derived warmup x cosine (beta2 = 0.999)",
    ]
    title = "Warmups: a prefix of fixed length, or a factor derived from Adam's beta2"
    lrkit.plot_schedules(schedules, out, steps=5000, labels=labels, title=title)


@figure("cycles.png")
def cycles(out: Path) -> None:
    schedules = [
        CosineRestarts(period=200, mult=2.0, end=0.05),
        Cyclic(up=100, low=0.1, high=1.0, mode="triangular2"),
        OneCycle(steps=1400),
    ]
    lrkit.plot_schedules(schedules, out, steps=1400, title="Restarts, cycles and one-cycle")


@figure("recipes.png")
def recipes(out: Path) -> None:
    schedules = [
        WarmupCosine(steps=1000, warmup=100, end=0.05),
        WSD(steps=1000, warmup=100, cooldown=200),
        WSD(steps=1000, warmup=100, cooldown=200, shape="1-sqrt"),
        InverseSqrt(warmup=100),
    ]
    lrkit.plot_schedules(schedules, out, steps=1000, title="Recipes: warmup + decay")


@figure("plateau.png")
def plateau(out: Path) -> None:
    import numpy as np

    epochs = np.arange(60)
    rng = np.random.default_rng(0)
    loss = 0.3 + 1.2 * np.exp(-epochs / 8) + 0.02 * rng.standard_normal(len(epochs))
    p = ReduceOnPlateau(factor=0.5, patience=5)
    scale = [p.step(float(m)) for m in loss]
    with saved_figure("plateau", out, figsize=(10, 4.8), dpi=120) as (_, ax):
        ax.plot(epochs, loss, color="C0", label="validation loss (the metric)")
        ax.set_xlabel("epoch (one metric per epoch)")
        ax.set_ylabel("validation loss")
        right = ax.twinx()
        right.step(epochs, scale, where="post", color="C3", label="lr scale")
        right.set_ylabel("lr (x base lr)")
        right.set_ylim(0, 1.05)
        lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        labels = [line.get_label() for line in lines]  # below the axes, off both curves
        ax.legend(lines, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
                  frameon=False)  # fmt: skip
        ax.set_title(
            "ReduceOnPlateau(factor=0.5, patience=5): halve after 6 epochs without a new best"
        )
        ax.grid(alpha=0.3)


def stepped(make: Callable[[Any], Any], steps: int, timm: bool = False) -> list[float]:
    """The lr of each of ``steps`` updates of a scheduler ``make(optimizer)``, stepped as
    its library steps it (timm: ``step_update(num_updates)``)."""
    import torch

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler, values = make(opt), []
    for t in range(steps):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step_update(t + 1) if timm else scheduler.step()
    return values


@figure("cosine_past_horizon.png")
def cosine_past_horizon(out: Path) -> None:
    import numpy as np

    from lrkit.compat.torch import CosineAnnealingLR

    values = stepped(lambda o: CosineAnnealingLR(o, T_max=100), 301)
    t = np.arange(301)
    with saved_figure("cosine_past_horizon", out, figsize=(10, 4.6), dpi=120) as (_, ax):
        ax.plot(t, values, label="torch CosineAnnealingLR(T_max=100), stepped 300 times")
        ax.plot(t, Cosine(steps=100)(t), "--", label="lrkit cosine(steps=100): holds its end")
        ax.axvline(100, color="gray", linestyle=":")
        ax.set_xlabel("step t")
        ax.set_ylabel("lr (x base lr)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
        ax.grid(alpha=0.3)
        ax.set_title("Past its horizon torch's cosine rises again")


@figure("five_libraries.png")
def five_libraries(out: Path) -> None:
    """A 10-step warmup and a cosine to step 100 as each library writes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lrkit.compat.keras import CosineDecay
    from lrkit.compat.optax import warmup_cosine_decay_schedule
    from lrkit.compat.timm import CosineLRScheduler
    from lrkit.compat.torch import CosineAnnealingLR, LinearLR, SequentialLR
    from lrkit.compat.transformers import get_cosine_schedule_with_warmup

    n = 130
    keras, optax = (
        CosineDecay(0.0, 90, warmup_target=1.0, warmup_steps=10),
        (warmup_cosine_decay_schedule(0.0, 1.0, 10, 100)),
    )
    curves = {
        "Hugging Face get_cosine_schedule_with_warmup(10, 100)": stepped(
            lambda o: get_cosine_schedule_with_warmup(o, 10, 100), n
        ),
        "torch SequentialLR(LinearLR(1e-3, 10), CosineAnnealingLR(90))": stepped(
            lambda o: SequentialLR(
                o,
                [LinearLR(o, start_factor=1e-3, total_iters=10), CosineAnnealingLR(o, T_max=90)],
                milestones=[10],
            ),
            n,
        ),
        "timm CosineLRScheduler(t_initial=100, warmup_t=10)": stepped(
            lambda o: CosineLRScheduler(o, t_initial=100, warmup_t=10, t_in_epochs=False),
            n,
            timm=True,
        ),
        "Keras CosineDecay(decay_steps=90, warmup_steps=10)": [float(keras(t)) for t in range(n)],
        "optax warmup_cosine_decay_schedule(10, 100)": [float(optax(t)) for t in range(n)],
    }
    t = np.arange(n)
    fig, (full, zoom) = plt.subplots(1, 2, figsize=(12, 5), dpi=110,
                                     gridspec_kw={"width_ratios": [2, 1]})  # fmt: skip
    styles = ["-", "--", "-", ":", "-."]
    for (label, values), style in zip(curves.items(), styles):
        full.plot(t, values, style, label=label, linewidth=1.6)
        zoom.plot(t[6:15], values[6:15], style, marker="o", markersize=4, linewidth=1.2)
    full.set_xlabel("step t")
    full.set_ylabel("lr (x base lr)")
    full.set_title("past step 100: HF and torch rise again, the others hold 0")
    zoom.set_xlabel("step t")
    zoom.set_title("steps 6-14: timm's cosine starts at step 0")
    for ax in (full, zoom):
        ax.grid(alpha=0.3)
    fig.legend(loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("The same warmup + cosine, as each library computes it (lrkit.compat)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))  # room for the figure legend: not saved_figure's
    fig.savefig(out)
    plt.close(fig)


@figure("trajectories.png")
def trajectories(out: Path) -> None:
    from lrkit.tools.trajectories import compare, plot_trajectories

    optimizers = [
        "sgd", "sgd(momentum=0.9)", "sgd(momentum=0.9, nesterov=True)", "rmsprop", "adam", "lion"
    ]  # fmt: skip
    results = [(f, compare(f, optimizers, steps=200)) for f in ("rosenbrock", "quadratic")]
    plot_trajectories(results, out)


@figure("range_test.png")
def range_test(out: Path) -> None:
    import torch

    from lrkit.tasks import make_task

    task = make_task("digits", seed=0)
    opt = torch.optim.SGD(task.model.parameters(), lr=0.1, momentum=0.9)
    result = lrkit.range_test(task.model, opt, task.loss_fn, task.train)
    result.plot(out, title="LR range test: digits CNN, SGD momentum 0.9")


def draw(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw_one in FIGURES.items():
        draw_one(folder / name)
        paths.append(folder / name)
    return paths


_built: dict[str, bytes] = {}


def on_files(files: Any, config: Any) -> Any:
    """Add the figures to the site as ``figures/<name>`` (drawn once per process)."""
    from mkdocs.structure.files import File

    if not _built:
        with tempfile.TemporaryDirectory() as tmp:
            for path in draw(Path(tmp)):
                _built[path.name] = path.read_bytes()
    for name, content in _built.items():
        files.append(File.generated(config, f"figures/{name}", content=content))
    return files


if __name__ == "__main__":
    for path in draw(Path(sys.argv[1] if len(sys.argv) > 1 else "figures")):
        print(path)
