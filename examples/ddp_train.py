"""Data-parallel training with an lrkit optimizer, ScheduledLR and resumable checkpoints.

    torchrun --nproc-per-node 2 examples/ddp_train.py --epochs 5 --checkpoint ckpt-ddp

Runs unchanged on CPUs (gloo) and on GPUs (nccl, one per process). Each rank
sees its share of scikit-learn's digits (DistributedSampler); DDP averages
the gradients, so every rank takes the same step as one process on the
global batch. With --checkpoint, an interrupted run (try --stop-after 1)
resumes where it stopped when started again with the same arguments. The
shared loop is in examples/distributed_loop.py.
"""

from __future__ import annotations

import torch
from distributed_loop import arguments, train
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lrkit.tasks import Task


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )


def evaluate(task: Task, model: nn.Module) -> dict[str, float]:
    return task.evaluate(model.module)


if __name__ == "__main__":
    train(arguments(__doc__.splitlines()[0], "adamw", 3e-3), wrap, evaluate)
