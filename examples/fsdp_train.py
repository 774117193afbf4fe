"""Fully sharded training (FSDP2) with an lrkit optimizer, ScheduledLR and DCP checkpoints.

    torchrun --nproc-per-node 2 examples/fsdp_train.py --optimizer lamb --checkpoint ckpt-fsdp

Runs unchanged on CPUs (gloo) and on GPUs (nccl, one per process). Each
layer's parameters are sharded over the ranks (DTensors); the optimizer
updates the local shards, and its per-tensor quantities (LAMB's trust
ratio, AdamP's projection, the global norm of --max-grad-norm) are computed
over whole tensors, so the run matches one process on the global batch.
Checkpoints are sharded: each rank writes its own part; with --checkpoint,
an interrupted run (try --stop-after 1) resumes where it stopped when
started again with the same arguments. The shared loop is in
examples/distributed_loop.py.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from distributed_loop import arguments, train
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from lrkit.tasks import Task


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for layer in model.children():
        if any(True for _ in layer.parameters()):
            fully_shard(layer, mesh=mesh)
    return fully_shard(model, mesh=mesh)


def evaluate(task: Task, model: nn.Module) -> dict[str, float]:
    return task.evaluate(model)  # every rank takes part: the forward gathers the shards


if __name__ == "__main__":
    args = arguments(__doc__.splitlines()[0], "lamb", 5e-2)
    args.max_grad_norm = 1.0 if args.max_grad_norm is None else args.max_grad_norm
    train(args, wrap, evaluate)
