"""Which rank this process is, and running a step so that all ranks agree on
its failure: a rank that raises alone would leave the others waiting forever
in the next collective."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def rank_world() -> tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` without a process group."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def run_everywhere(fn: Callable[[], Any], world: int) -> Any:
    """``fn()`` on every rank; if it raises on any, it raises on all (no rank waits alone)."""
    return _agree(fn, world, everywhere=True)


def run_on_rank0(fn: Callable[[], Any], world: int) -> None:
    """``fn()`` on rank 0 (folder work); the others wait and share its failure."""
    _agree(fn, world, everywhere=False)


def _agree(fn: Callable[[], Any], world: int, everywhere: bool) -> Any:
    rank = rank_world()[0]
    result, error = None, None
    if everywhere or rank == 0:
        try:
            result = fn()
        except Exception as exc:
            error = exc
    if world > 1:
        messages: list[Any] = [None] * world
        torch.distributed.all_gather_object(messages, None if error is None else str(error))
        failed = [(r, m) for r, m in enumerate(messages) if m is not None]
        if failed and error is None:
            r, message = failed[0]
            raise ValueError(f"rank {r} failed: {message}")
    if error is not None:
        raise error
    return result


__all__ = ["rank_world", "run_everywhere", "run_on_rank0"]
