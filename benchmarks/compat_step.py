"""Cost of one ``scheduler.step()``: lrkit.compat.torch against torch's own class.

Both drive the same 3-group SGD optimizer for the same number of steps (the
optimizer itself is not stepped, so only the scheduler is timed); the best of
``--repeat`` runs is reported as microseconds per step and as the ratio
compat / torch measured in the same run.

    python benchmarks/compat_step.py [--steps 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.optim import lr_scheduler as anchor

from lrkit.compat import torch as compat

CASES: dict[str, Callable[[Any, torch.optim.Optimizer, int], Any]] = {
    "StepLR": lambda m, o, n: m.StepLR(o, step_size=n // 10, gamma=0.5),
    "ExponentialLR": lambda m, o, n: m.ExponentialLR(o, gamma=0.9999),
    "CosineAnnealingLR": lambda m, o, n: m.CosineAnnealingLR(o, T_max=n, eta_min=1e-5),
    "LinearLR": lambda m, o, n: m.LinearLR(o, start_factor=0.01, total_iters=n // 10),
    "CyclicLR": lambda m, o, n: m.CyclicLR(o, 0.001, 0.1, step_size_up=n // 20),
    "OneCycleLR": lambda m, o, n: m.OneCycleLR(o, max_lr=0.1, total_steps=n + 1),
    "CosineAnnealingWarmRestarts": lambda m, o, n: m.CosineAnnealingWarmRestarts(o, T_0=n // 10),
    "LambdaLR": lambda m, o, n: m.LambdaLR(o, lambda t: 0.9999**t),
}


def _optimizer() -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in (0.1, 0.03, 0.2)]
    return torch.optim.SGD(groups, momentum=0.9)


def _time(module: Any, make: Callable[[Any, torch.optim.Optimizer, int], Any], steps: int) -> float:
    sched = make(module, _optimizer(), steps)
    start = time.perf_counter()
    for _ in range(steps):
        sched.step()
    return (time.perf_counter() - start) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # torch warns that optimizer.step() was not called
    print(f"{'scheduler':30s} {'torch us':>9s} {'lrkit us':>9s} {'ratio':>6s}")
    for name, make in CASES.items():
        theirs = min(_time(anchor, make, args.steps) for _ in range(args.repeat))
        ours = min(_time(compat, make, args.steps) for _ in range(args.repeat))
        print(f"{name:30s} {theirs:9.2f} {ours:9.2f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
