"""Schedule evaluation speed, per registered family.

* vectorised: one NumPy call over 1,000,000 steps (target: under 0.5 s on one core);
* scalar: one Python-float call per step, next to ``LambdaLR.step()`` measured
  in the same run (a LambdaLR whose lambda is trivial, on a 1-parameter SGD),
  which is the per-step overhead lrkit's scalar path must stay below.

Run: ``python benchmarks/schedule_eval.py [--steps 1000000] [--json]``
"""

from __future__ import annotations

import argparse
import json
import timeit
from typing import Any

import numpy as np

from lrkit.schedules import get, list_schedules


def best_of(fn: Any, repeat: int = 3, number: int = 1) -> float:
    return min(timeit.repeat(fn, repeat=repeat, number=number)) / number


def lambda_lr_step_seconds(calls: int = 20_000) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return best_of(scheduler.step, repeat=5, number=calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args()
    steps = np.arange(args.steps, dtype=np.float64)
    lambda_lr = lambda_lr_step_seconds()
    rows = []
    for name in list_schedules():
        s = get(name).example()
        s(steps[:10])  # warm caches (Multiplicative tables are built at construction)
        vector = best_of(lambda s=s: s(steps))
        scalar_t = iter(range(10**9))
        scalar = best_of(lambda s=s, it=scalar_t: s(next(it) % 5000), repeat=5, number=20_000)
        rows.append(
            {
                "schedule": name,
                "vector_s": vector,
                "scalar_us": scalar * 1e6,
                "vs_lambdalr": scalar / lambda_lr if lambda_lr else None,
            }
        )
    if args.json:
        print(
            json.dumps(
                {
                    "steps": args.steps,
                    "lambdalr_step_us": lambda_lr and lambda_lr * 1e6,
                    "rows": rows,
                }
            )
        )
        return
    print(
        f"vectorised: {args.steps:,} steps per call (NumPy, best of 3); "
        f"scalar: one float per call (best of 5 x 20,000)"
    )
    if lambda_lr:
        print(f"torch LambdaLR.step(), same run: {lambda_lr * 1e6:.2f} us per call")
    print(f"{'schedule':<16} {'vector s':>9} {'scalar us':>10} {'scalar/LambdaLR':>16}")
    for r in rows:
        ratio = f"{r['vs_lambdalr']:.2f}" if r["vs_lambdalr"] is not None else "n/a"
        print(f"{r['schedule']:<16} {r['vector_s']:>9.4f} {r['scalar_us']:>10.2f} {ratio:>16}")
    worst_v = max(rows, key=lambda r: r["vector_s"])
    worst_s = max(rows, key=lambda r: r["scalar_us"])
    print(
        f"slowest vectorised: {worst_v['schedule']} {worst_v['vector_s']:.4f} s; "
        f"slowest scalar: {worst_s['schedule']} {worst_s['scalar_us']:.2f} us"
    )


if __name__ == "__main__":
    main()
