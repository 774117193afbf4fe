"""Fully sharded training (FSDP2) with an lrkit optimizer, ScheduledLR and DCP checkpoints.

    torchrun --nproc-per-node 2 examples/fsdp_train.py --optimizer lamb --checkpoint ckpt-fsdp

Runs unchanged on CPUs (gloo) and on GPUs (nccl, one per process). Each
layer's parameters are sharded over the ranks (DTensors); the optimizer
updates the local shards, and its per-tensor quantities (LAMB's trust
ratio, AdamP's projection, the global norm of ``max_grad_norm``) are
computed over whole tensors, so the run matches one process on the global
batch. Checkpoints are sharded: each rank writes its own part; with
--checkpoint, an interrupted run (try --stop-after 1) resumes where it
stopped when started again with the same arguments.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import lrkit
from lrkit.optim import create_optimizer
from lrkit.schedules import WarmupCosine
from lrkit.tasks import make_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--optimizer", default="lamb", help="lrkit list optimizers")
    parser.add_argument("--lr", type=float, default=5e-2)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--checkpoint", default=None, help="folder to save to and resume from")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this epoch, "
                        "as if preempted (run again to resume)")  # fmt: skip
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)

    task = make_task("digits", seed=0, device=device)
    model = task.model
    mesh = init_device_mesh(device.type, (world,))
    for layer in model:
        if any(True for _ in layer.parameters()):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    data = TensorDataset(task.train.inputs, task.train.targets)
    sampler = DistributedSampler(data, seed=0)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)

    optimizer = create_optimizer(
        model, args.optimizer, lr=args.lr, weight_decay=0.01, max_grad_norm=args.max_grad_norm
    )
    steps = lrkit.training_steps(len(data), args.batch_size, args.epochs, world_size=world)
    scheduler = lrkit.ScheduledLR(optimizer, WarmupCosine(steps=steps, warmup=steps // 10))

    first = 0
    if args.checkpoint and os.path.isdir(args.checkpoint):
        first = lrkit.load_checkpoint(args.checkpoint, model, optimizer, scheduler)["epoch"] + 1
        if rank == 0:
            print(f"resumed after epoch {first - 1} (step {scheduler.last_epoch})")
    for epoch in range(first, args.epochs):
        sampler.set_epoch(epoch)
        for inputs, targets in loader:
            optimizer.zero_grad()
            task.loss_fn(model(inputs), targets).backward()
            optimizer.step()
            scheduler.step()
        metrics = task.evaluate()  # every rank takes part: the forward gathers the shards
        if rank == 0:
            lr = scheduler.get_last_lr()[0]
            print(f"epoch {epoch}: lr {lr:.2e}, test loss {metrics['loss']:.4f}, "
                  f"accuracy {metrics['accuracy']:.3f}")  # fmt: skip
        if args.checkpoint:
            lrkit.save_checkpoint(args.checkpoint, model, optimizer, scheduler, epoch=epoch)
        if epoch == args.stop_after:
            break
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
