"""The bench engine's overhead per trial, against the trial's own training time.

A 200-step ``digits`` trial (Adam) is timed three ways in one run:

* ``train``: :func:`lrkit.bench.trial.run_trial` alone (task build, 200 steps,
  evaluations), the median over ``--trials`` seeds after one warm-up trial;
* ``in-process``: ``lrkit.bench.run`` with one worker (the trials run in the
  coordinator) on a fresh SQLite file: queueing, claiming, heartbeats and the
  user attributes, per trial;
* ``2 workers``: ``--workers 2`` local processes (each pays an interpreter and
  ``import torch`` once) on the same kind of file.

The overhead of a way is its wall time per trial minus the training time per
trial (the sum of the trials' own ``wall_time`` over the trials; for the
2-worker run, over the two workers). Run on a quiet machine:
``python benchmarks/bench_overhead.py [--trials 12] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIG = {"task": "digits", "steps": 200, "eval_every": 50, "optimizers": ["adam"], "lr": [1e-3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    from lrkit.bench import load, read_config, run
    from lrkit.bench.trial import run_trial

    torch.set_num_threads(1)
    seeds = list(range(args.trials))
    trials = read_config({**CONFIG, "seeds": seeds}).configurations()
    run_trial(trials[0])  # warm-up: imports, the dataset's first load
    train = statistics.median(_timed(run_trial, t) for t in trials)
    out: list[dict[str, Any]] = [{"way": "train", "seconds_per_trial": train, "overhead": 0.0}]
    with tempfile.TemporaryDirectory() as tmp:
        for way, workers in (("in-process", 1), ("2 workers", 2)):
            db = Path(tmp) / f"{workers}.db"
            start = time.perf_counter()
            run({**CONFIG, "study": way, "seeds": seeds}, db=db, workers=workers)
            wall = time.perf_counter() - start
            own = sum(r.wall_time or 0.0 for r in load(db, way)) / workers
            per_trial = wall / len(seeds)
            overhead = (wall - own) / len(seeds)
            out.append({"way": way, "seconds_per_trial": per_trial, "overhead": overhead})
    for row in out:
        row["overhead_ratio"] = row["overhead"] / train
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{'way':12s} {'s/trial':>9s} {'overhead s':>11s} {'overhead / train':>17s}")
    for row in out:
        print(
            f"{row['way']:12s} {row['seconds_per_trial']:9.3f} {row['overhead']:11.3f} "
            f"{row['overhead_ratio']:17.2f}"
        )


def _timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
