"""``lrkit plot SPEC...``: draw schedules to PNG/SVG/PDF or the terminal, or print csv/json."""

from __future__ import annotations

import argparse
import ast
import json
import math
from collections.abc import Sequence
from typing import Any

from lrkit.cli.errors import UsageError, reading_input
from lrkit.cli.output import Output
from lrkit.schedules import WSD, OneCycle, WarmupCosine

DEFAULT_SPECS = (
    str(WarmupCosine(steps=1000, warmup=100, end=0.05)),
    str(WSD(steps=1000, warmup=100, cooldown=200, shape="1-sqrt")),
    str(OneCycle(steps=1000)),
)

EPILOG = """\
sources:
  cosine(steps=1000, end=0.1)        a spec (lrkit list schedules; str(schedule) writes one)
  schedule.json, schedule.yaml       a schedule's dict form or spec, or a list of them
  LIB:NAME [--kebab-arg VALUE ...]   a drop-in scheduler of lrkit.compat, LIB one of torch,
                                     transformers, timm, keras, optax; its arguments inline,
                                     LIB:NAME(key=value, ...), or as flags after the sources

examples:
  lrkit plot "wsd(steps=1000, cooldown=200, shape='1-sqrt')" -o wsd.png
  lrkit plot transformers:cosine --num-warmup-steps 100 --num-training-steps 1000
  lrkit plot "one_cycle(steps=1000)" "torch:OneCycleLR(max_lr=1.0, total_steps=1000)" -o 1c.png
  lrkit plot "cosine(steps=100, end=0.1)" --format csv
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plot",
        pass_through=True,  # scheduler flags after the sources: --num-warmup-steps 100
        help="draw schedules given as specs, files or other libraries' schedulers",
        description="Draw schedules on one figure: to a PNG/SVG/PDF with -o, to the terminal "
        "otherwise (or with --term), or print their values with --format csv|json. With no "
        "SOURCE, draws three built-in examples (warmup+cosine, WSD, one-cycle).",
        epilog=EPILOG,
    )
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="specs, files or LIB:NAME")
    p.add_argument("-o", "--output", help="write the figure to this PNG, SVG or PDF file")
    p.add_argument("--term", action="store_true", help="draw in the terminal (also with -o)")
    p.add_argument(
        "--steps",
        type=count,
        default=None,
        help="last step drawn (default: 10%% past the last phase)",
    )
    p.add_argument("--steps-per-epoch", type=count, default=None, help="label the x axis in epochs")
    p.add_argument("--log", action="store_true", help="logarithmic lr axis")
    p.add_argument(
        "--format", choices=("csv", "json"), default=None, help="print values instead of drawing"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from lrkit.tools.figure import check_output
    from lrkit.tools.plot import plot_curves
    from lrkit.tools.sources import default_steps, load, resolve

    with reading_input():  # sources, flags and the schedulers they build
        options = parse_options(args.options)
        sources = [resolve(s, options) for s in args.sources or DEFAULT_SPECS]
        if options and all(s.native for s in sources):
            raise UsageError(
                f"unrecognized arguments: {' '.join(args.options)} "
                "(scheduler flags apply to LIB:NAME sources only)"
            )
        if args.output is not None:
            check_output("lrkit plot", args.output)
        steps = args.steps if args.steps is not None else default_steps(sources)
        if steps < 1:
            raise UsageError(f"--steps must be a positive integer, got {steps}")
        if args.steps_per_epoch is not None and args.steps_per_epoch < 1:
            raise UsageError(
                f"--steps-per-epoch must be a positive integer, got {args.steps_per_epoch}"
            )
        curves = [c for s in sources for c in load(s, steps, every_step=args.format is not None)]
    if args.format is not None:  # the table on stdout, and the figure too when -o asks
        if args.output is not None:
            plot_curves(curves, args.output, log=args.log, steps_per_epoch=args.steps_per_epoch)
        out.result(json_rows(curves), csv=lambda: to_csv(curves))
        return 0
    if args.output is not None:
        path = plot_curves(curves, args.output, log=args.log, steps_per_epoch=args.steps_per_epoch)
        out.info(f"wrote {path} ({len(curves)} schedule(s), steps 0..{steps})")
    if args.output is None or args.term:
        out.info(terminal_plot(curves, args.log, args.steps_per_epoch, color=out.stdout.isatty()))
    return 0


def count(text: str) -> int:
    """A whole number of steps: ``1000``, ``1_000`` or ``1e6`` (argparse's ``type``)."""
    try:
        value = float(text.replace("_", "")) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
        value = int(value)
    return value


def parse_options(tokens: Sequence[str]) -> dict[str, Any]:
    """``["--num-warmup-steps", "100"]`` -> ``{"num_warmup_steps": 100}`` (values as literals)."""
    options: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or len(token) < 3:
            raise UsageError(f"unexpected argument {token!r}: scheduler flags are --name VALUE")
        name, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise UsageError(
                    f"{token} needs a value (scheduler flags go after the sources: "
                    f"LIB:NAME {token} VALUE)"
                )
            value, i = tokens[i + 1], i + 1
        options[name.replace("-", "_")] = _literal(value)
        i += 1
    return options


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def to_csv(curves: Sequence[Any]) -> str:
    """``step,value`` (one curve) or ``step,<label>,...`` rows, values at full precision."""
    header = ["step", "value"] if len(curves) == 1 else ["step", *(c.label for c in curves)]
    lines = [",".join(_csv_cell(h) for h in header)]
    for t in range(max(len(c.values) for c in curves)):
        lines.append(",".join([str(t), *(repr(float(c.values[t])) for c in curves)]))
    return "\n".join(lines) + "\n"


def to_json(curves: Sequence[Any]) -> str:
    """:func:`json_rows` as a JSON document."""
    return json.dumps(json_rows(curves))


def json_rows(curves: Sequence[Any]) -> list[dict[str, Any]]:
    """A list of ``{"spec", "values"[, "momentum"]}``; values past a scheduler's end are null."""
    rows = []
    for c in curves:
        row: dict[str, Any] = {"spec": c.label, "values": _finite(c.values)}
        if c.momentum is not None:
            row["momentum"] = _finite(c.momentum)
        rows.append(row)
    return rows


def _finite(values: Any) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def terminal_plot(
    curves: Sequence[Any], log: bool, steps_per_epoch: int | None, color: bool
) -> str:
    from lrkit.tools.terminal import render

    scale = float(steps_per_epoch or 1)
    series = [(c.label, c.steps / scale, c.values) for c in curves]
    title = curves[0].label if len(curves) == 1 else f"{len(curves)} schedules"
    xlabel = "epoch" if steps_per_epoch else "step"
    size = _terminal_width()
    return render(series, width=size, log=log, color=color, title=title, xlabel=xlabel)


def _terminal_width() -> int:
    import shutil

    return max(20, min(100, shutil.get_terminal_size((80, 24)).columns - 12))


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


__all__ = [
    "DEFAULT_SPECS",
    "EPILOG",
    "add_parser",
    "count",
    "json_rows",
    "parse_options",
    "run",
    "terminal_plot",
    "to_csv",
    "to_json",
]
