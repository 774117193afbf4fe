"""Which range-test suggestion trains well? Measured on the built-in tasks.

For each task and optimizer this script

1. trains with warmup + cosine at every lr of a grid (3 per decade, 1e-5 to
   10) and records the final held-out metric: the *good range* is the lrs
   within 5% of the best (accuracy for the classifiers, loss for the
   language model);
2. runs lrkit's range test (100 steps to ``end_lr=10``) from three
   ``start_lr`` and keeps the recorded curves;
3. applies every method of ``lrkit.tools.suggestions`` to the curves and
   prints, per method, how often the suggestion lands in the good range
   (within half a grid step), how much worse than the best it trains (the
   grid point nearest to it), and how far it moves with ``start_lr``.

    python benchmarks/range_test_rules.py [--quick] [--out results.json]
    python benchmarks/range_test_rules.py --analyze results.json

``--quick`` uses one seed and a coarser grid; ``--analyze`` redoes step 3
on saved results. The numbers in docs/tools.md come from the full run.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np
import torch

import lrkit
from lrkit import ScheduledLR
from lrkit.schedules import WarmupCosine
from lrkit.tasks import make_task
from lrkit.tools.range_test import SUGGESTIONS

# task -> (train steps, metric, higher is better)
TASKS = {
    "digits": (184, "accuracy", True),  # 8 epochs of batch 64
    "mnist1d": (320, "accuracy", True),  # 8 epochs of batch 100
    "mnist1d_cnn": (320, "accuracy", True),
    "char_lm": (200, "loss", False),
}
OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "adamw": lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=0.01),
}
START_LRS = (1e-7, 1e-6, 1e-5)


def train(task_name: str, optimizer: str, lr: float, seed: int) -> float:
    steps, metric, _ = TASKS[task_name]
    task = make_task(task_name, seed=seed)
    opt = OPTIMIZERS[optimizer](task.model.parameters(), lr)
    torch.manual_seed(seed)
    sched = ScheduledLR(opt, WarmupCosine(steps=steps, warmup=steps // 10))
    batches = task.train.forever()
    for _ in range(steps):
        loss = task.loss(next(batches))
        if not math.isfinite(float(loss.detach())):
            return math.nan
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return task.evaluate()[metric]


def range_tests(task_name: str, optimizer: str) -> list[dict[str, Any]]:
    out = []
    for start in START_LRS:
        task = make_task(task_name, seed=0)
        opt = OPTIMIZERS[optimizer](task.model.parameters(), 1.0)
        result = lrkit.range_test(task.model, opt, task.loss_fn, task.train, start_lr=start)
        out.append(dict(start_lr=start, lrs=list(result.lrs), losses=list(result.losses)))
    return out


def good_range(grid: list[float], scores: list[float], higher: bool) -> list[float]:
    """The lrs within 5% of the best score."""
    finite = [s for s in scores if math.isfinite(s)]
    best = max(finite) if higher else min(finite)
    limit = best * 0.95 if higher else best * 1.05
    return [
        lr
        for lr, s in zip(grid, scores)
        if math.isfinite(s) and (s >= limit if higher else s <= limit)
    ]


def analyze(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per suggestion method: cases inside the good range, regret, start_lr spread."""
    half_step = 10 ** (1 / 6)
    table = []
    for name, method in SUGGESTIONS.items():
        inside, regrets, spreads = 0, [], []
        for row in results:
            grid, scores = np.asarray(row["grid"]), np.asarray(row["scores"])
            higher = row["metric"] == "accuracy"
            good = good_range(list(grid), list(scores), higher)
            best = np.nanmax(scores) if higher else np.nanmin(scores)
            picks = []
            for test in row["range_tests"]:
                lr = method(np.asarray(test["lrs"]), np.asarray(test["losses"]))
                if lr is None:
                    continue
                picks.append(lr)
                inside += good[0] / half_step <= lr <= good[-1] * half_step
                near = scores[int(np.argmin(abs(np.log10(grid) - math.log10(lr))))]
                regret = (best - near) / best if higher else (near - best) / best
                regrets.append(float(regret) if math.isfinite(regret) else 1.0)
            if picks:
                spreads.append(math.log10(max(picks) / min(picks)))
        table.append(dict(
            method=name, inside=inside, cases=len(regrets), mean_regret=float(np.mean(regrets)),
            max_regret=float(np.max(regrets)), start_lr_spread=float(np.mean(spreads)),
        ))  # fmt: skip
    return table


def report(results: list[dict[str, Any]]) -> None:
    for row in results:
        good = good_range(row["grid"], row["scores"], row["metric"] == "accuracy")
        print(f"{row['task']:12s} {row['optimizer']:6s} good range {good[0]:.3g} .. {good[-1]:.3g}")
    head = ("method", "inside", "mean regret", "max regret", "start_lr spread")
    print("\n{:14s} {:>8s} {:>12s} {:>11s} {:>16s}".format(*head))
    for r in analyze(results):
        print(
            f"{r['method']:14s} {r['inside']:3d}/{r['cases']:<4d} {100 * r['mean_regret']:11.1f}% "
            f"{100 * r['max_regret']:10.1f}% {r['start_lr_spread']:12.2f} dec"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="range_test_rules.json")
    parser.add_argument("--analyze", metavar="RESULTS", help="only redo the analysis of a run")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    args = parser.parse_args()
    if args.analyze:
        with open(args.analyze) as f:
            report(json.load(f))
        return
    torch.set_num_threads(2)
    seeds = (0,) if args.quick else (0, 1)
    per_decade = 2 if args.quick else 3
    grid = [10 ** (k / per_decade) for k in range(-5 * per_decade, 1 * per_decade + 1)]
    results = []
    for task_name in args.tasks:
        _, metric, _ = TASKS[task_name]
        for optimizer in OPTIMIZERS:
            start = time.perf_counter()
            scores = [
                float(np.mean([train(task_name, optimizer, lr, s) for s in seeds])) for lr in grid
            ]
            tests = range_tests(task_name, optimizer)
            results.append(dict(task=task_name, optimizer=optimizer, metric=metric, grid=grid,
                                scores=scores, range_tests=tests))  # fmt: skip
            print(f"{task_name} {optimizer}: {time.perf_counter() - start:.0f} s", flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f)
    report(results)


if __name__ == "__main__":
    main()
