"""``lrkit plot SPEC...``: draw schedules to a PNG/SVG/PDF, or print them as csv/json."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lrkit.schedules import WSD, OneCycle, Schedule, WarmupCosine, parse

DEFAULT_SPECS = (
    str(WarmupCosine(steps=1000, warmup=100, end=0.05)),
    str(WSD(steps=1000, warmup=100, cooldown=200, shape="1-sqrt")),
    str(OneCycle(steps=1000)),
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        help="draw schedules given as specs",
        description="Draw schedules given as specs, e.g. 'cosine(steps=1000, end=0.1)'. "
        "With no SPEC, draws three built-in examples (warmup+cosine, WSD, one-cycle).",
    )
    p.add_argument("specs", nargs="*", metavar="SPEC", help="schedule specs (lrkit list schedules)")
    p.add_argument("-o", "--output", default="lrkit-schedules.png", help="PNG, SVG or PDF file")
    p.add_argument(
        "--steps", type=int, default=None, help="last step drawn (default: past the last phase)"
    )
    p.add_argument("--log", action="store_true", help="logarithmic value axis")
    p.add_argument(
        "--format",
        choices=("png", "csv", "json"),
        default="png",
        help="csv/json print the values to stdout instead of drawing",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from lrkit.tools.plot import default_steps, plot_schedules, sample

    schedules: list[Schedule] = [parse(s) for s in (args.specs or DEFAULT_SPECS)]
    steps = args.steps if args.steps is not None else default_steps(schedules)
    if steps < 1:
        raise ValueError(f"--steps must be a positive integer, got {steps}")
    if args.format == "csv":
        _write_csv(schedules, steps)
        return 0
    if args.format == "json":
        rows = [{"spec": str(s), "values": sample(s, steps)[1].tolist()} for s in schedules]
        json.dump(rows, sys.stdout)
        sys.stdout.write("\n")
        return 0
    path = plot_schedules(schedules, args.output, steps=steps, log=args.log)
    print(f"wrote {path} ({len(schedules)} schedule(s), steps 0..{steps})")
    return 0


def _write_csv(schedules: list[Schedule], steps: int) -> None:
    from lrkit.tools.plot import sample

    columns = [sample(s, steps)[1] for s in schedules]
    header = ["step", "value"] if len(schedules) == 1 else ["step", *(str(s) for s in schedules)]
    out = sys.stdout
    out.write(",".join(_csv_cell(h) for h in header) + "\n")
    for t in range(steps + 1):
        out.write(",".join([str(t), *(repr(float(c[t])) for c in columns)]) + "\n")


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text
