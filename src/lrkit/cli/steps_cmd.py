"""``lrkit steps``: optimizer updates per epoch and in total (and the lr for the global batch)."""

from __future__ import annotations

import argparse
from typing import Any

from lrkit.cli.errors import UsageError, reading_input
from lrkit.cli.output import Output, add_output_args, format_table


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "steps",
        help="count the optimizer steps of a run (for a schedule's horizon)",
        description="Optimizer updates per epoch and in total, counted as DataLoader + "
        "DistributedSampler + gradient accumulation do (see lrkit.training_steps). With --lr "
        "and --lr-batch-size, also the lr scaled to the global batch (see lrkit.scale_lr).",
    )
    p.add_argument("--dataset-size", type=int, required=True, help="training samples")
    p.add_argument("--batch-size", type=int, required=True, help="per-rank batch size")
    p.add_argument("--epochs", type=float, required=True, help="epochs (may be fractional)")
    p.add_argument("--accumulation", type=int, default=1, help="gradient accumulation steps")
    p.add_argument("--world-size", type=int, default=1, help="data-parallel ranks")
    p.add_argument("--drop-last", action="store_true", help="drop each rank's last partial batch")
    p.add_argument("--lr", type=float, default=None, help="an lr tuned at --lr-batch-size")
    p.add_argument(
        "--lr-batch-size", type=int, default=None, help="the global batch --lr was tuned at"
    )
    p.add_argument("--rule", choices=("linear", "sqrt"), default="linear",
                   help="lr scaling: linear (SGD) or sqrt (Adam family)")  # fmt: skip
    add_output_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from lrkit.horizon import steps_per_epoch, training_steps
    from lrkit.scaling import scale_lr

    with reading_input():  # a computation on the flags alone
        shape = {
            "grad_accum": args.accumulation,
            "world_size": args.world_size,
            "drop_last": args.drop_last,
        }
        per_epoch = steps_per_epoch(args.dataset_size, args.batch_size, **shape)
        total = training_steps(args.dataset_size, args.batch_size, args.epochs, **shape)
        result: dict[str, Any] = {
            "steps_per_epoch": per_epoch,
            "total_steps": total,
            "global_batch_size": args.batch_size * args.accumulation * args.world_size,
        }
        if (args.lr is None) != (args.lr_batch_size is None):
            raise UsageError("--lr and --lr-batch-size go together")
        if args.lr is not None:
            batch = result["global_batch_size"]
            result["lr"] = scale_lr(args.lr, args.lr_batch_size, batch, args.rule)
            result["rule"] = args.rule
    out.result(result, lambda: format_table([result]))
    return 0


__all__ = ["add_parser", "run"]
