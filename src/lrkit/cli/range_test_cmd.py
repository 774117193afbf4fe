"""``lrkit range-test``: the LR range test on a built-in task or on your own code."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lrkit.cli.errors import UsageError, UserCodeError, reading_input
from lrkit.cli.output import Output, add_output_args, format_table
from lrkit.tools.suggestions import DEFAULT, SUGGESTIONS

EPILOG = """\
--entry MODULE:FUNCTION (or path/to/file.py:FUNCTION) names a function of no
arguments that returns (model, optimizer, loss_fn, data), or a dict with those
keys; data yields (inputs, targets) and the loss is loss_fn(model(inputs), targets).

examples:
  lrkit range-test --task mnist1d --optimizer "sgd(momentum=0.9)" -o range.png
  lrkit range-test --entry train.py:setup --end-lr 1 --format json
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "range-test",
        help="sweep the lr on a task and suggest one",
        description="LR range test (lrkit.range_test): raise the lr each update, record the "
        "loss, stop when it diverges, and suggest an lr (the rule is --method; see "
        "lrkit.tools.suggestions).",
        epilog=EPILOG,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--task", help="a built-in task (lrkit list tasks)")
    source.add_argument("--entry", metavar="MODULE:FUNCTION", help="your setup function")
    p.add_argument(
        "--optimizer",
        default="adamw",
        help="with --task: an optimizer spec, e.g. 'sgd(momentum=0.9)'",
    )
    p.add_argument("--seed", type=int, default=0, help="with --task: the task's seed")
    p.add_argument("--batch-size", type=int, default=None, help="with --task: its batch size")
    p.add_argument("--device", default=None, help="run on this torch device, e.g. cuda")
    p.add_argument("--start-lr", type=float, default=1e-7, help="the lr of the first update")
    p.add_argument("--end-lr", type=float, default=10.0, help="the lr of the last update")
    p.add_argument("--steps", type=int, default=100, help="updates in the sweep")
    p.add_argument("--mode", choices=("exp", "linear"), default="exp", help="how the lr grows")
    p.add_argument("--smoothing", type=float, default=0.98, help="EMA factor of the stop rule")
    p.add_argument("--diverge-factor", type=float, default=4.0, help="stop above this x best loss")
    p.add_argument("--accumulation", type=int, default=1, help="batches per update")
    p.add_argument("--amp", choices=("bf16", "fp16"), default=None, help="autocast dtype")
    p.add_argument(
        "--method", choices=tuple(SUGGESTIONS), default=DEFAULT, help="the suggestion rule"
    )
    p.add_argument("-o", "--output", help="write the plot to this PNG, SVG or PDF file")
    add_output_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from lrkit.tools.figure import check_output
    from lrkit.tools.range_test import check_arguments, range_test

    sweep = {
        "start_lr": args.start_lr,
        "end_lr": args.end_lr,
        "num_steps": args.steps,
        "mode": args.mode,
        "smoothing": args.smoothing,
        "diverge_factor": args.diverge_factor,
        "accumulation_steps": args.accumulation,
        "method": args.method,
        "device": args.device,
        "amp": args.amp,
    }
    with reading_input():
        if args.output is not None:
            check_output("lrkit range-test", args.output)
        check_arguments(**sweep)
        if not args.entry:
            model, optimizer, loss_fn, data = _from_task(args)
    if args.entry:  # the user's code runs here: its errors are its own (exit 1)
        model, optimizer, loss_fn, data = _from_entry(args.entry)
    try:
        with user_code(args.entry or "") if args.entry else contextlib.nullcontext():
            result = range_test(
                model,
                optimizer,
                loss_fn,
                data,
                progress=lambda it, n: out.progress(it, n, "range test"),
                **sweep,
            )
    except Exception as exc:
        if args.entry and not isinstance(exc, (ValueError, TypeError, UserCodeError)):
            raise UserCodeError(f"the range test on {args.entry}", exc) from exc
        raise
    title = f"LR range test: {args.task or args.entry}" + (
        f", {args.optimizer}" if args.task else ""
    )
    path = result.plot(args.output, title=title) if args.output else None
    data_out = {**result.to_dict(), "plot": str(path) if path else None}
    out.result(data_out, lambda: _human(result, path))
    return 0


def _from_task(args: argparse.Namespace) -> tuple[Any, ...]:
    from lrkit.optim import create_optimizer, parse_spec
    from lrkit.tasks import make_task

    name, kwargs = parse_spec(args.optimizer)
    options = {"batch_size": args.batch_size} if args.batch_size is not None else {}
    task = make_task(args.task, seed=args.seed, **options)
    optimizer = create_optimizer(task.model, name, lr=args.start_lr, **kwargs)
    return task.model, optimizer, task.loss_fn, task.train


def _from_entry(entry: str) -> tuple[Any, ...]:
    from lrkit.tools.entry import EntryNotFound, import_entry

    with user_code(entry):
        try:
            fn = import_entry(entry)
        except EntryNotFound as exc:
            raise UsageError(f"--entry {entry!r}: {exc}") from exc
        except Exception as exc:
            raise UserCodeError(f"importing {entry.rpartition(':')[0]}", exc) from exc
        try:
            made = fn()
        except Exception as exc:
            raise UserCodeError(f"--entry {entry}", exc) from exc
    keys = ("model", "optimizer", "loss_fn", "data")
    if isinstance(made, dict) and all(k in made for k in keys):
        return tuple(made[k] for k in keys)
    if isinstance(made, (tuple, list)) and len(made) == 4:
        return tuple(made)
    raise UsageError(
        f"--entry {entry!r} must return (model, optimizer, loss_fn, data) or a dict with "
        f"those keys, got {type(made).__name__}"
    )


@contextlib.contextmanager
def user_code(entry: str) -> Iterator[None]:
    """Run a user's code so that it cannot break lrkit's output or exit code: its prints
    go to stderr (stdout may carry one JSON document), ``sys.argv`` holds only the entry
    (its own argparse sees no lrkit flags), and ``sys.exit`` is an error of its own."""
    argv = sys.argv
    sys.argv = [entry]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except SystemExit as exc:
        raise UserCodeError(f"--entry {entry} (it called sys.exit)", exc) from None
    finally:
        sys.argv = argv


def _human(result: Any, path: Path | None) -> str:
    rows = [
        {
            "method": m,
            "lr": getattr(result, f"{m}_lr"),
            "suggested": "*" if m == result.method else "",
        }
        for m in ("valley", "steepest", "minimum")
    ]
    lines = [
        f"suggested lr: {result.suggested_lr:.3g} ({result.method})"
        if result.suggested_lr is not None
        else "no suggestion: too few steps were recorded",
        f"sweep: {len(result.lrs)} of {result.num_steps} steps, {result.stop_reason}",
        "",
        format_table(rows),
    ]
    if path is not None:
        lines.append(f"\nwrote {path}")
    return "\n".join(lines)


__all__ = ["EPILOG", "add_parser", "run", "user_code"]
