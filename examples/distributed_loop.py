"""What examples/ddp_train.py and examples/fsdp_train.py share: the process group, the
sharded data, ScheduledLR, and an epoch loop that checkpoints and resumes.

Each script only says how its model is wrapped (``DistributedDataParallel``
or ``fully_shard``); everything here runs unchanged on CPUs (gloo) and GPUs
(nccl, one per process, ``LOCAL_RANK`` from torchrun).
"""

from __future__ import annotations

import argparse
import gc
import os
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import lrkit
from lrkit.optim import create_optimizer
from lrkit.schedules import WarmupCosine
from lrkit.tasks import Task, make_task


def arguments(description: str, optimizer: str, lr: float) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--optimizer", default=optimizer, help="lrkit list optimizers")
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--max-grad-norm", type=float, default=None)
    parser.add_argument("--checkpoint", default=None, help="folder to save to and resume from")
    parser.add_argument("--stop-after", type=int, default=None, help="stop after this epoch, "
                        "as if preempted (run again to resume)")  # fmt: skip
    return parser.parse_args()


def start() -> torch.device:
    """Join the process group (nccl on GPUs, gloo on CPUs); this rank's device."""
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    if not cuda:
        return torch.device("cpu")
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    torch.cuda.set_device(device)
    return device


def train(
    args: argparse.Namespace,
    wrap: Callable[[nn.Module, torch.device], nn.Module],
    evaluate: Callable[[Task, nn.Module], dict[str, float]],
) -> None:
    """Train the ``digits`` task with ``wrap(model, device)``; checkpoint every epoch."""
    device = start()
    try:
        _epochs(args, wrap, evaluate, device)
        # The wrapped model and the optimizer were _epochs' locals; collecting the
        # cycles they sit in (module hooks) frees them, so the process group is really
        # destroyed below, not at interpreter exit, where gloo's threads can abort.
        gc.collect()
        dist.barrier()  # no rank closes its connections while another still uses them
    finally:
        dist.destroy_process_group()


def _epochs(
    args: argparse.Namespace,
    wrap: Callable[[nn.Module, torch.device], nn.Module],
    evaluate: Callable[[Task, nn.Module], dict[str, float]],
    device: torch.device,
) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    task = make_task("digits", seed=0, device=device)
    model = wrap(task.model, device)
    data = TensorDataset(task.train.inputs, task.train.targets)
    sampler = DistributedSampler(data, seed=0)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
    clip = {"max_grad_norm": args.max_grad_norm} if args.max_grad_norm else {}
    optimizer = create_optimizer(model, args.optimizer, lr=args.lr, weight_decay=0.01, **clip)
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
        metrics = evaluate(task, model)
        if rank == 0:
            lr = scheduler.get_last_lr()[0]
            print(f"epoch {epoch}: lr {lr:.2e}, test loss {metrics['loss']:.4f}, "
                  f"accuracy {metrics['accuracy']:.3f}")  # fmt: skip
        if args.checkpoint:
            lrkit.save_checkpoint(args.checkpoint, model, optimizer, scheduler, epoch=epoch)
        if epoch == args.stop_after:
            break
