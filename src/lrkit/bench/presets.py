"""The studies: each tests a claim practitioners repeat, at three sizes, and says what it found.

A :class:`Preset` is a list of bench configs (one study per task) at each
size -- ``quick`` (at most 2 minutes on a 2-core CPU), ``default`` (at most
10), ``full`` (for a GPU) -- its claim, and ``finding(rows)``, the sentence the
report prints about the claim from the study's numbers. ``lrkit bench
presets`` lists them.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from lrkit.bench.results import (
    Row,
    current,
    direction,
    lr_windows,
    points,
    ranking,
    time_to_target,
)
from lrkit.registry import Registry

SIZES = ("quick", "default", "full")


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    description: str
    claim: str
    configs: Callable[[str], list[dict[str, Any]]]
    finding: Callable[[Sequence[Row]], str]

    def studies(self, size: str) -> list[dict[str, Any]]:
        """The configs of ``size``, each with its study name ``<preset>-<size>-<task>``."""
        if size not in SIZES:
            raise ValueError(f"preset size must be one of {', '.join(SIZES)}, got {size!r}")
        out: list[dict[str, Any]] = []
        for cfg in self.configs(size):
            name = f"{self.name}-{size}-{str(cfg['task']).partition('(')[0]}"
            taken = sum(c["study"].startswith(name) for c in out)
            study = f"{name}-{taken + 1}" if taken else name
            out.append({"study": study, "description": self.claim, **cfg})
        return out


PRESETS: Registry[Preset] = Registry("preset")
"""The built-in studies, by name (``lrkit bench presets`` lists them)."""


def _sized(size: str, quick: Any, default: Any, full: Any) -> Any:
    return {"quick": quick, "default": default, "full": full}[size]


SMALL_LM = "char_lm(layers=2, d_model=64, heads=4, seq_len=32, batch_size=16, norm=post)"
MEDIUM_LM = "char_lm(layers=3, d_model=96, heads=4, seq_len=64, batch_size=16, norm=post)"
LARGE_LM = "char_lm(layers=6, d_model=256, heads=8, seq_len=128, batch_size=32, norm=post)"


def _lm(size: str, medium: bool = False) -> str:
    """The Transformer task (char_lm, post-LN: where Adam's start is hardest): 1.6 s per
    150 steps on one core for the small one, 13 s per 200 for the medium one."""
    return str(_sized(size, SMALL_LM, MEDIUM_LM if medium else SMALL_LM, LARGE_LM))


def _decades(lo: float, hi: float, per_decade: int) -> list[float]:
    n = round(math.log10(hi / lo) * per_decade)
    return [float(f"{lo * 10 ** (i / per_decade):.3g}") for i in range(n + 1)]


# -- lr-robustness --------------------------------------------------------------


def _robustness(size: str) -> list[dict[str, Any]]:
    optimizers = [
        "adam",
        "adamw(weight_decay=0.01)",
        "radam",
        "radam(variant=official)",
        "sgd(momentum=0.9)",
    ]
    mnist = {
        "task": "mnist1d",
        "steps": _sized(size, 300, 600, 2000),
        "eval_every": 100,
        "metric": "test_accuracy",
        "optimizers": optimizers,
        "lr": _decades(1e-4, 1.0, 2),
        "seeds": 3,
    }
    lm = {
        "task": _lm(size),
        "steps": _sized(size, 150, 300, 2000),
        "eval_every": 50,
        "metric": "test_loss",
        "optimizers": optimizers,
        "lr": _decades(1e-4, 1e-1, 2) if size != "full" else _decades(1e-5, 1.0, 2),
        "seeds": 3,
    }
    return [mnist] if size == "quick" else [mnist, lm]


def _robustness_finding(rows: Sequence[Row]) -> str:
    parts = []
    every = lr_windows(rows)
    for task in dict.fromkeys(r.task for r in current(rows)):
        windows = sorted((w for w in every if w.task == task), key=lambda w: -w.decades)
        if not windows:
            continue
        text = ", ".join(f"{w.label} {w.decades:.1f}" for w in windows)
        radam = [w for w in windows if w.label.startswith("radam")]
        adam = [w for w in windows if w.label.split(",")[0] == "adam"]
        verdict = ""
        if radam and adam:
            gap = max(w.decades for w in radam) - adam[0].decades
            verdict = f" RAdam's window is {round(gap, 1) + 0.0:+.1f} decades against Adam's" + (
                ": wider, as claimed."
                if gap > 0.25
                else ": no wider, so the claim does not show here."
            )
        parts.append(
            f"On {task}, the lr windows within 5% of each optimizer's best span (decades): "
            f"{text}.{verdict}"
        )
    return " ".join(parts)


# -- warmup ---------------------------------------------------------------------


def _warmup(size: str) -> list[dict[str, Any]]:
    steps = _sized(size, 150, 200, 2000)
    adam = {
        "task": _lm(size, medium=True),
        "steps": steps,
        "eval_every": max(1, steps // 4),
        "metric": "test_loss",
        "optimizers": ["adam(betas=(0.9, 0.999))"],
        "schedules": [
            "constant()",
            f"warmup(constant(), steps={steps // 6})",
            "untuned_warmup(constant())",
            "radam_warmup(constant())",
        ],
        "lr": _sized(size, [1e-2, 3e-2], [3e-3, 1e-2, 3e-2], [3e-4, 1e-3, 3e-3, 1e-2]),
        "seeds": _sized(size, 2, 3, 3),
        "measure": ["warmup_stats"],
    }
    radam = {**adam, "optimizers": ["radam"], "schedules": ["constant()"]}
    return [adam, radam]


def _warmup_finding(rows: Sequence[Row]) -> str:
    ps = [p for p in points(rows) if p.first.optimizer.startswith("adam")]
    if not ps:
        return ""
    top = max(p.lr for p in ps)
    at = [p for p in ps if p.lr == top]
    plain = next((p for p in at if p.first.schedule == "constant()"), None)
    warmed = [p for p in at if p.first.schedule != "constant()"]
    if plain is None or not warmed:
        return ""
    best = min(warmed, key=lambda p: statistics.fmean(p.values))
    a, b = statistics.fmean(plain.values), statistics.fmean(best.values)
    shows = b < a * 0.97 or plain.diverged > best.diverged
    text = (
        f"At lr {top:g}, Adam without warmup ends at test loss {a:.3f} ({plain.diverged} of "
        f"{len(plain.values)} seeds diverged); with {best.first.schedule} {b:.3f} "
        f"({best.diverged} diverged). "
        + (
            "Warmup helps here, as claimed."
            if shows
            else "Warmup makes no clear difference at this size: the claim does not show here."
        )
    )
    tuned = {r.first.schedule: r for r in ranking(rows) if r.first.optimizer.startswith("adam")}
    if "constant()" in tuned and len(tuned) > 1:  # each schedule at its own best lr
        alone = tuned.pop("constant()")
        other = min(tuned.values(), key=lambda r: r.mean)
        text += (
            f" Each at its best lr, Adam without warmup reaches {alone.mean:.3f} (lr "
            f"{alone.lr:g}) and the best warmup {other.mean:.3f} ({other.first.schedule}, lr "
            f"{other.lr:g}): "
            + (
                "warmup also improves the best result."
                if other.mean < alone.mean - max(alone.spread, other.spread)
                else "warmup buys a higher usable lr, not a better tuned result."
            )
        )
    return text


# -- schedules ------------------------------------------------------------------


def _schedule_specs(steps: int) -> list[str]:
    return [
        "constant()",
        f"step(every={steps // 3}, gamma=0.1)",
        f"multistep(milestones=[{steps // 2}, {3 * steps // 4}], gamma=0.1)",
        f"exponential(gamma={0.01 ** (1 / steps):.6g})",
        f"time_based(decay={10 / steps**2:.3g})",
        f"linear(steps={steps}, end=0.05)",
        f"cosine(steps={steps})",
        f"one_cycle(steps={steps})",
        f"wsd(steps={steps}, cooldown={steps // 5}, warmup={steps // 20})",
        f"cosine_restarts(period={steps // 4})",
    ]


def _schedules(size: str) -> list[dict[str, Any]]:
    steps = _sized(size, 300, 600, 3000)
    common = {
        "steps": steps,
        "eval_every": steps // 6,
        "metric": "test_accuracy",
        "optimizers": ["sgd(momentum=0.9)"],
        "schedules": _schedule_specs(steps),
        "lr": _sized(size, [0.03, 0.1], [0.01, 0.03, 0.1, 0.3], [0.003, 0.01, 0.03, 0.1, 0.3, 1.0]),
        "seeds": _sized(size, 2, 3, 5),
    }
    tasks = _sized(size, ["digits"], ["digits", "mnist1d_cnn"], ["digits", "mnist1d_cnn"])
    return [{"task": t, **common} for t in tasks]


def _schedules_finding(rows: Sequence[Row]) -> str:
    parts = []
    every = ranking(rows)
    for task in dict.fromkeys(r.task for r in current(rows)):
        ranks = [r for r in every if r.task == task]
        if not ranks:
            continue
        order = ", ".join(f"{r.first.schedule.partition('(')[0]} {r.mean:.3f}" for r in ranks[:4])
        by = {r.first.schedule.partition("(")[0]: r for r in ranks}
        verdict = ""
        if "cosine" in by and "step" in by:
            c, s = by["cosine"], by["step"]
            gap = c.mean - s.mean
            noise = max(c.spread, s.spread, 1e-9)
            verdict = f" Cosine against step decay: {gap:+.3f} (seed std {noise:.3f})" + (
                ", cosine ahead."
                if gap > noise
                else ", within the seed noise: the schedule matters less than claimed here."
            )
        parts.append(f"On {task}, best first: {order}.{verdict}")
    return " ".join(parts)


# -- restarts -------------------------------------------------------------------


def _restarts(size: str) -> list[dict[str, Any]]:
    steps = _sized(size, 300, 800, 3000)
    return [
        {
            "task": _sized(size, "digits", "mnist1d_cnn", "mnist1d_cnn"),
            "steps": steps,
            "eval_every": steps // 8,
            "metric": "test_accuracy",
            "optimizers": ["sgd(momentum=0.9)"],
            "schedules": [
                f"cosine(steps={steps})",
                f"cosine_restarts(period={steps // 4})",
                f"cosine_restarts(period={steps // 7}, mult=2)",
            ],
            "lr": _sized(size, [0.1], [0.03, 0.1], [0.03, 0.1, 0.3]),
            "seeds": _sized(size, 2, 4, 5),
            "measure": ["sharpness"],
        }
    ]


def _restarts_finding(rows: Sequence[Row]) -> str:
    ranks = ranking(rows)
    if not ranks:
        return ""
    sharp: dict[str, list[float]] = {}
    best = {(w.task, w.label): w.best_lr for w in lr_windows(rows)}
    for r in current(rows):
        if "sharpness" in r.extras and best.get((r.task, r.label)) == r.config_lr:
            sharp.setdefault(r.label, []).append(float(r.extras["sharpness"]))

    def mean_sharpness(r: Any) -> float:
        return statistics.fmean(sharp.get(r.label, [math.nan]))

    text = "; ".join(
        f"{r.first.schedule}: accuracy {r.mean:.3f} ± {r.spread:.3f}, sharpness "
        f"{mean_sharpness(r):.3g}"
        for r in ranks
    )
    plain = [r for r in ranks if r.first.schedule.startswith("cosine(")]
    restarts = [r for r in ranks if r.first.schedule.startswith("cosine_restarts")]
    if not plain or not restarts:
        return text + "."
    top = max(restarts, key=lambda r: r.mean)
    ahead = top.mean - plain[0].mean > max(top.spread, plain[0].spread)
    flatter = mean_sharpness(top) < mean_sharpness(plain[0])
    verdict = (
        "ahead beyond the seed spread and flatter, as claimed"
        if ahead and flatter
        else ("flatter, but " if flatter else "not flatter, and ")
        + ("ahead" if ahead else "within the seed spread in accuracy")
        + ": the claim does not show clearly here"
    )
    return f"{text}. The best restarts ({top.first.schedule}) against cosine: {verdict}."


# -- clipping -------------------------------------------------------------------


def _clipping(size: str) -> list[dict[str, Any]]:
    steps = _sized(size, 150, 300, 2000)
    return [
        {
            "task": _lm(size),
            "steps": steps,
            "eval_every": max(1, steps // 6),
            "metric": "test_loss",
            "optimizers": [
                "sgd(momentum=0.9)",
                "sgd(momentum=0.9, max_grad_norm=1.0)",
                "adam(betas=(0.9, 0.98))",
            ],
            "schedules": [f"warmup_cosine(steps={steps}, warmup={steps // 10}, end=0.1)"],
            "lr": _sized(size, [3e-3, 1e-1, 1.0], _decades(1e-3, 1.0, 2), _decades(1e-4, 3.0, 2)),
            "seeds": _sized(size, 1, 2, 3),
        }
    ]


def _clipping_finding(rows: Sequence[Row]) -> str:
    ranks = {r.first.optimizer: r for r in ranking(rows)}
    if not ranks:
        return ""
    text = ", ".join(f"{k} {r.mean:.3f} (best lr {r.lr:.3g})" for k, r in ranks.items())
    sgd = [r for k, r in ranks.items() if k.startswith("sgd") and "max_grad_norm" in k]
    adam = [r for k, r in ranks.items() if k.startswith("adam")]
    verdict = ""
    if sgd and adam:
        gap = adam[0].mean - sgd[0].mean
        verdict = (
            " SGD with clipping "
            + ("beats" if gap > 0 else "does not beat")
            + f" Adam with warmup here ({gap:+.3f} loss)."
        )
    return f"Final test loss at each one's best lr: {text}.{verdict}"


# -- batch size -----------------------------------------------------------------


def _batch_size(size: str) -> list[dict[str, Any]]:
    return [
        {
            "task": "digits",
            "epochs": _sized(size, 2, 4, 10),
            "eval_every": _sized(size, 25, 25, 50),
            "metric": "test_accuracy",
            "optimizers": ["sgd(momentum=0.9)"],
            "batch_size": _sized(size, [1, 16, 128], [1, 16, 128], [1, 4, 16, 64, 128]),
            "lr_scaling": {"rule": "linear", "batch_size": 128},
            "lr": _sized(size, [0.1], [0.03, 0.1, 0.3], [0.01, 0.03, 0.1, 0.3, 1.0]),
            "seeds": _sized(size, 2, 3, 3),
        }
    ]


def _batch_size_finding(rows: Sequence[Row]) -> str:
    ranks = ranking(rows)
    if not ranks:
        return ""
    target = min(r.mean for r in ranks) * 0.98
    times = {t.label: t for t in time_to_target(rows, target)}
    parts = []
    for r in sorted(ranks, key=lambda r: r.label):
        t = times.get(r.label)
        reach = (
            f", {t.steps:.0f} steps / {t.seconds:.1f} s to {target:.3f}"
            if t and t.steps is not None
            else ", target not reached"
        )
        parts.append(f"batch {r.first.batch_size}: accuracy {r.mean:.3f}{reach}")
    top = max(ranks, key=lambda r: r.mean)
    ties = sorted(r.first.batch_size or 0 for r in ranks if r.mean >= top.mean - top.spread)
    reached = [t for t in times.values() if t.seconds is not None]
    fastest = min(reached, key=lambda t: t.seconds or math.inf) if reached else None
    verdict = f" Most accurate: batch {', '.join(map(str, ties))} (within the seed spread)"
    if fastest is not None:
        batch = next(r.first.batch_size for r in ranks if r.label == fastest.label)
        verdict += f"; fastest to the target in seconds: batch {batch}"
    one = [r for r in ranks if r.first.batch_size == 1]
    claim = bool(one) and ties == [1]
    verdict += ". Batch 1 is best, as claimed." if claim else ". Batch 1 is not uniquely best here."
    return "; ".join(parts) + ". Equal epochs, lr scaled linearly from batch 128." + verdict


# -- lr-free --------------------------------------------------------------------

LR_FREE = {"prodigy": 1.0, "dadapt_adam": 1.0, "adamw_schedulefree": 2.5e-3}  # their defaults


def _lr_free(size: str) -> list[dict[str, Any]]:
    tasks = [
        {"task": "mnist1d", "steps": _sized(size, 300, 600, 2000), "eval_every": 100,
         "metric": "test_accuracy"},
        {"task": _lm(size), "steps": _sized(size, 150, 300, 2000), "eval_every": 50,
         "metric": "test_loss"},
    ]  # fmt: skip
    seeds = _sized(size, 2, 3, 5)
    out = []
    for task in tasks if size != "quick" else tasks[:1]:
        # one study per default lr, then Adam over a grid: the lr is a study's dimension
        for lr in sorted(set(LR_FREE.values()), reverse=True):
            names = [n for n, default in LR_FREE.items() if default == lr]
            out.append({**task, "optimizers": names, "lr": [lr], "seeds": seeds})
        out.append({**task, "optimizers": ["adam"], "lr": _decades(1e-4, 1e-1, 2),
                    "seeds": seeds})  # fmt: skip
    return out


def _lr_free_finding(rows: Sequence[Row]) -> str:
    parts = []
    every, grid_points = ranking(rows), points(rows)
    for task in dict.fromkeys(r.task for r in current(rows)):
        ranks = {r.first.optimizer: r for r in every if r.task == task}
        adam = ranks.get("adam")
        if adam is None:
            continue
        lower = direction(adam.first.metric) == "minimize"
        seconds = _mean_seconds(rows, task)
        memory = {r.optimizer: r.extras.get("state_bytes") for r in current(rows) if r.task == task}
        text = []
        for name in LR_FREE:
            r = ranks.get(name)
            if r is None:
                continue
            gap = (r.mean - adam.mean) if lower else (adam.mean - r.mean)  # > 0: worse
            ratio = seconds.get(name, math.nan) / seconds.get("adam", math.nan)
            mine, adams = memory.get(name), memory.get("adam")
            state = f", {mine / adams:.1f}x its optimizer state" if mine and adams else ""
            text.append(
                f"{name} {r.mean:.3f} ({abs(gap):.3f} {'worse' if gap > 0 else 'better'} than "
                f"tuned Adam, {ratio:.2f}x its training time per run{state})"
            )
        grid = len({p.lr for p in grid_points if p.task == task and p.label == "adam"})
        parts.append(
            f"On {task}: Adam tuned over {grid} lrs reaches {adam.mean:.3f} (lr {adam.lr:g}); "
            "with their default lr " + ", ".join(text) + "."
        )
    return " ".join(parts)


def _mean_seconds(rows: Sequence[Row], task: str) -> dict[str, float]:
    """Mean training seconds per finished trial of each optimizer on ``task`` (to its
    last evaluation; without the data's setup)."""
    by: dict[str, list[float]] = {}
    for r in current(rows):
        if r.task == task and r.status == "ok" and r.evals:
            by.setdefault(r.optimizer, []).append(r.evals[-1][2])
    return {k: statistics.fmean(v) for k, v in by.items()}


def _register(name: str, description: str, claim: str, configs: Any, finding: Any) -> None:
    PRESETS.add(name, Preset(name, description, claim, configs, finding))


_register(
    "lr-robustness",
    "Adam, AdamW, RAdam (both variants), SGD+momentum over 9 learning rates x 3 seeds, no warmup",
    "RAdam converges stably whatever the learning rate, unlike Adam and SGD.",
    _robustness,
    _robustness_finding,
)
_register(
    "warmup",
    "The Transformer at lrs where Adam is unstable: no / linear / untuned / RAdam-derived "
    "warmup, and RAdam",
    "Adam needs warmup early on Transformers because its adaptive lr has a huge variance at "
    "the start.",
    _warmup,
    _warmup_finding,
)
_register(
    "schedules",
    "Ten schedules at a fixed budget, each with its peak lr from a small grid",
    "Cosine beats step decay; the schedule matters.",
    _schedules,
    _schedules_finding,
)
_register(
    "restarts",
    "Cosine against SGDR (T_mult 1 and 2) with SGD: accuracy and the sharpness of the final "
    "weights",
    "Warm restarts escape sharp minima and generalise better.",
    _restarts,
    _restarts_finding,
)
_register(
    "clipping",
    "The Transformer: SGD with and without global-norm clipping against Adam, all with warmup",
    "Tuned SGD with gradient clipping can beat Adam with warmup.",
    _clipping,
    _clipping_finding,
)
_register(
    "batch-size",
    "Batch 1, 16 and 128 at equal epochs with the linear scaling rule",
    "True SGD uses batch size 1.",
    _batch_size,
    _batch_size_finding,
)

_register(
    "lr-free",
    "Prodigy, D-Adaptation Adam and schedule-free AdamW at their default lr against Adam "
    "tuned over 7 lrs",
    "Learning-rate-free optimizers match a tuned Adam without a learning-rate search.",
    _lr_free,
    _lr_free_finding,
)


__all__ = ["PRESETS", "SIZES", "Preset"]
