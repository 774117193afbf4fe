"""``impl="fused"``: which kernels run a call, and which tensors they take.

lrkit's fused kernels (AdamP, SGDP, LAMB) come in two builds with one
interface: C++ on the CPU (``fused_cpu``, Note [fused cpu]) and Triton on
CUDA (``fused_triton``, Note [fused triton]). The optimizers' ``_fused``
methods and the per-tensor decisions between the two passes are shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from lrkit.optim.base import PLAIN

DTYPES = {
    "cpu": (torch.float32, torch.float64),
    "cuda": (torch.float32, torch.float64, torch.bfloat16, torch.float16),
}


def kernels(device: torch.device) -> Any:
    """The kernels for tensors on ``device`` (the C++ extension is built on first use)."""
    if device.type == "cuda":
        from lrkit.optim import fused_triton

        return fused_triton
    from lrkit.optim import fused_cpu

    return fused_cpu.kernels()


def rows(shape: Sequence[int]) -> int:
    """How many rows the kernels see in a tensor of ``shape``: ``size(0)`` for more
    than one dimension, else 1 (each row gets its own sums, Note [fused cpu])."""
    return shape[0] if len(shape) > 1 else 1


def row_segments(params: Sequence[Tensor], device: torch.device) -> Tensor:
    """The tensor index of each row of the stacked per-row sums."""
    counts = torch.tensor([rows(p.shape) for p in params])
    return torch.repeat_interleave(torch.arange(len(params)), counts).to(device)


def takes(p: Tensor, *others: Tensor | None) -> bool:
    """Whether the kernels take ``p`` with these same-shaped operands (grad, state)."""
    if type(p) not in PLAIN or p.numel() == 0:
        return False
    if p.dtype not in DTYPES.get(p.device.type, ()) or not rows_are_blocks(p):
        return False
    return all(
        o is not None
        and o.shape == p.shape
        and o.stride() == p.stride()
        and o.dtype == p.dtype
        and o.device == p.device
        for o in others
    )


def rows_are_blocks(t: Tensor) -> bool:
    """Dense, non-overlapping, and each ``t[i]`` one contiguous block of memory."""
    if t.dim() <= 1:
        return t.is_contiguous()
    if t.numel() == 0:
        return True
    cols = t.numel() // t.shape[0]
    if t.shape[0] > 1 and t.stride(0) != cols:
        return False
    # the inner dims, sorted by stride, must tile one row exactly
    expected = 1
    for size, stride in sorted(zip(t.shape[1:], t.stride()[1:]), key=lambda x: x[1]):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return expected == cols


__all__ = ["DTYPES", "kernels", "row_segments", "rows", "rows_are_blocks", "takes"]
