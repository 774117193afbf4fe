"""Data-parallel training with an lrkit optimizer, ScheduledLR and resumable checkpoints.

    torchrun --nproc-per-node 2 examples/ddp_train.py --epochs 5 --checkpoint ckpt-ddp

Runs unchanged on CPUs (gloo) and on GPUs (nccl, one per process). Each rank
sees its share of scikit-learn's digits (DistributedSampler); DDP averages
the gradients, so every rank takes the same step as one process on the
global batch. With --checkpoint, an interrupted run (try --stop-after 1) resumes
where it stopped when started again with the same arguments.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import lrkit
from lrkit.optim import create_optimizer
from lrkit.schedules import WarmupCosine
from lrkit.tasks import make_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--lr", type=float, default=3e-3)
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
    model = DistributedDataParallel(task.model, device_ids=[device.index] if cuda else None)
    data = TensorDataset(task.train.inputs, task.train.targets)
    sampler = DistributedSampler(data, seed=0)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)

    optimizer = create_optimizer(model, "adamw", lr=args.lr, weight_decay=0.05)
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
        metrics = task.evaluate(model.module)
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
