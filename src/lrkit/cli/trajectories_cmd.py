"""``lrkit trajectories``: optimizer paths on 2-D test functions, each at its tuned lr."""

from __future__ import annotations

import argparse
import functools
from typing import Any

from lrkit.cli.errors import reading_input
from lrkit.cli.output import Output, add_output_args, format_table

FUNCTIONS = ("rosenbrock", "rastrigin", "beale", "quadratic")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "trajectories",
        help="draw optimizer paths on 2-D test functions",
        description="Run each optimizer on each function from its standard start, with the lr "
        "of a log-spaced grid (1e-4 .. 10) that ends lowest, and draw the paths over the "
        "function's contours.",
    )
    p.add_argument("--function", action="append", choices=FUNCTIONS, dest="functions",
                   help="repeat for several (default: all four)")  # fmt: skip
    p.add_argument("--optimizer", action="append", dest="optimizers", metavar="SPEC",
                   help="an optimizer spec, repeat for several (default: sgd, "
                   "sgd(momentum=0.9), adam, rmsprop)")  # fmt: skip
    p.add_argument("--steps", type=int, default=200, help="updates per path")
    p.add_argument("--grid", type=int, default=26, help="lrs tried per optimizer")
    p.add_argument(
        "-o", "--output", default=None,
        help="PNG, SVG or PDF file (default: trajectories.png, unless only --gif is given)",
    )  # fmt: skip
    p.add_argument("--gif", default=None, help="an animated GIF of the paths growing")
    p.add_argument("--frames", type=int, default=40, help="frames of the GIF")
    add_output_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    import numpy as np

    from lrkit.optim import parse_spec
    from lrkit.tools.figure import check_output
    from lrkit.tools.trajectories import DEFAULT_OPTIMIZERS, compare, plot_trajectories

    with reading_input():
        if args.output is None and args.gif is None:
            args.output = "trajectories.png"
        if args.output is not None:
            check_output("lrkit trajectories", args.output)
        if args.gif is not None:
            check_output("lrkit trajectories", args.gif, suffixes=(".gif",))
        if args.grid < 1 or args.steps < 1 or args.frames < 2:
            raise ValueError("--grid and --steps must be positive and --frames at least 2")
        functions = args.functions or list(FUNCTIONS)
        optimizers = args.optimizers or list(DEFAULT_OPTIMIZERS)
        for spec in optimizers:
            parse_spec(spec)
    lrs = [float(x) for x in np.logspace(-4, 1, args.grid)]
    results = []
    for fn in functions:
        label = f"tuning lrs on {fn}"
        progress = functools.partial(out.progress, description=label)
        results.append((fn, compare(fn, optimizers, args.steps, lrs, progress=progress)))
    plot_trajectories(results, args.output, gif=args.gif, frames=args.frames)
    rows = [{"function": fn, **p.to_dict()} for fn, paths in results for p in paths]
    files = [str(f) for f in (args.output, args.gif) if f is not None]
    out.result(
        {"paths": rows, "files": files},
        lambda: format_table(rows, ["function", "optimizer", "lr", "final_value"])
        + "\n\nwrote " + ", ".join(files),
    )  # fmt: skip
    return 0


__all__ = ["FUNCTIONS", "add_parser", "run"]
