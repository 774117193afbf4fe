"""Runs every lrkit optimizer under one process, DDP or FSDP2, for tests/distributed.

    python tests/distributed/worker.py single OUT
    torchrun --nproc-per-node 2 tests/distributed/worker.py ddp|fsdp|resume OUT

Each run trains a small model (conv, GroupNorm, linear, LayerNorm, an output
layer of 5 rows, so FSDP2 shards it unevenly over 2 ranks) for 20 steps on a
fixed global batch of 8 that the ranks split, with a ScheduledLR driving the
lr. Rank 0 saves the full parameters (and, for schedule-free optimizers, the
parameters after ``eval()``) to ``OUT/<mode>.pt``. ``resume`` stops after 10
steps, saves model, optimizer and scheduler with lrkit.checkpoint (DCP), builds
everything afresh, loads, and finishes: it must equal ``fsdp`` exactly.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from lrkit import ScheduledLR
from lrkit.checkpoint import load_checkpoint, save_checkpoint
from lrkit.optim.base import REGISTRY
from lrkit.schedules import WarmupCosine

STEPS = 20
IMPLS = ("auto", "reference", "foreach")
DTYPES = (torch.float64, torch.float32)


def cases() -> list[tuple[str, str, float | None, torch.dtype]]:
    """(optimizer, impl, max_grad_norm, dtype): every registered optimizer, every impl in
    float64, ``auto`` in float32 (the impls equal each other in float64 elsewhere)."""
    return [
        (name, impl, clip, dtype)
        for name in sorted(REGISTRY)
        for dtype in DTYPES
        for impl in (IMPLS if dtype == torch.float64 else ("auto",))
        for clip in (None, 0.5)
    ]


def key(name: str, impl: str, clip: float | None, dtype: torch.dtype) -> str:
    return f"{name}-{impl}-clip{clip}-{str(dtype).removeprefix('torch.')}"


def build_model(dtype: torch.dtype) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(3, 8, 3),
            nn.GroupNorm(2, 8),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(8 * 6 * 6, 16),
            nn.LayerNorm(16),
            nn.ReLU(),
            nn.Linear(16, 5),
        ).to(dtype)


def batch(step: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(8, 3, 8, 8, generator=gen).to(dtype)
    return x, torch.randint(0, 5, (8,), generator=gen)


def wrap(model: nn.Module, mode: str) -> nn.Module:
    if mode == "ddp":
        return nn.parallel.DistributedDataParallel(model)
    if mode in ("fsdp", "resume"):
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        fully_shard(model, mesh=init_device_mesh("cpu", (dist.get_world_size(),)))
    return model


def setup(case: tuple[str, str, float | None, torch.dtype], mode: str) -> tuple[Any, ...]:
    name, impl, clip, dtype = case
    model = wrap(build_model(dtype), mode)
    extra: dict[str, Any] = {"max_grad_norm": clip} if clip is not None else {}
    if name in ("sgd", "sgdp"):
        extra["momentum"] = 0.9  # so that they have state to checkpoint
    if name == "muon":  # Muon takes the hidden matrices; the rest go to its AdamW groups
        from lrkit.optim import create_optimizer

        opt = create_optimizer(model, "muon", lr=1e-2, adamw_lr=1e-2, impl=impl, **extra)
    else:
        opt = REGISTRY[name].cls(model.parameters(), lr=1e-2, impl=impl, **extra)
    if hasattr(opt, "train"):
        opt.train()
    sched = ScheduledLR(opt, WarmupCosine(steps=STEPS, warmup=5, end=0.1))
    return model, opt, sched


def train(model: nn.Module, opt: Any, sched: Any, steps: range, dtype: torch.dtype) -> None:
    world, rank = (dist.get_world_size(), dist.get_rank()) if dist.is_initialized() else (1, 0)
    for step in steps:
        x, y = batch(step, dtype)
        x, y = x.chunk(world)[rank], y.chunk(world)[rank]
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()


def full(model: nn.Module) -> list[torch.Tensor]:
    return [
        (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().clone()
        for p in model.parameters()
    ]


def finish(model: nn.Module, opt: Any) -> dict[str, list[torch.Tensor]]:
    out = {"train": full(model)}
    if hasattr(opt, "eval"):
        opt.eval()
        out["eval"] = full(model)
    return out


def run(case: tuple[str, str, float | None, torch.dtype], mode: str, out: Path) -> Any:
    dtype = case[3]
    model, opt, sched = setup(case, mode)
    if mode != "resume":
        train(model, opt, sched, range(STEPS), dtype)
        return finish(model, opt)
    train(model, opt, sched, range(STEPS // 2), dtype)
    folder = out / f"ckpt-{key(*case)}"
    save_checkpoint(folder, model, opt, sched, step=STEPS // 2)
    del model, opt, sched
    model, opt, sched = setup(case, mode)  # fresh weights, empty optimizer state
    assert load_checkpoint(folder, model, opt, sched) == {"step": STEPS // 2}
    train(model, opt, sched, range(STEPS // 2, STEPS), dtype)
    return finish(model, opt)


def rng_round_trip(out: Path) -> list[list[float]]:
    """Each rank's draws after a save, and after loading into generators reseeded
    elsewhere: per rank, the two must be equal (Note [bit-exact resume])."""
    import random

    import numpy as np

    rank = dist.get_rank()
    torch.manual_seed(100 + rank), np.random.seed(100 + rank), random.seed(100 + rank)
    model = wrap(build_model(torch.float32), "fsdp")
    save_checkpoint(out / "ckpt-rng", model)
    drawn = [float(torch.rand(())), float(np.random.rand()), random.random()]
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    load_checkpoint(out / "ckpt-rng", model)
    again = [float(torch.rand(())), float(np.random.rand()), random.random()]
    gathered: list[list[float]] = [[] for _ in range(dist.get_world_size())]
    dist.all_gather_object(gathered, drawn + again)
    return gathered


def main(mode: str, out: Path) -> None:
    distributed = mode != "single"
    if distributed:
        dist.init_process_group("gloo")
    todo = [c for c in cases() if mode != "resume" or (c[1] == "auto" and c[2] is None)]
    results: dict[str, Any] = {}
    for case in todo:
        try:
            results[key(*case)] = run(case, mode, out)
        except Exception as exc:  # recorded, so the test names every failing case
            results[key(*case)] = f"{type(exc).__name__}: {exc}"
    if mode == "resume":
        results["rng"] = rng_round_trip(out)
    if not distributed or dist.get_rank() == 0:
        torch.save(results, out / f"{mode}.pt")
    if distributed:  # the DDP models gone first (gc: modules with hooks sit in cycles),
        gc.collect()  # so gloo's threads stop here, not at interpreter exit
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
