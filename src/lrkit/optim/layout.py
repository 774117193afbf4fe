"""Which tensors the fast paths take: plain types, dtypes, and memory layouts.

A leaf module (it imports nothing of lrkit's): the dispatch of
``optim/base.py``, the kernel front end ``optim/fused.py`` and the kernels
themselves (``fused_cpu``, ``fused_triton``) all read these rules, so a
tensor that one accepts the others accept too.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

TensorList = list[Tensor] | tuple[Tensor, ...]  # what torch._foreach_* take and return
Buffers = dict[str, TensorList]
PLAIN = (Tensor, torch.nn.Parameter)  # not a subclass such as DTensor: what fused kernels take

DTYPES = {
    "cpu": (torch.float32, torch.float64),
    "cuda": (torch.float32, torch.float64, torch.bfloat16, torch.float16),
}


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


def torch_fused_ok(params: TensorList) -> bool:
    """Whether torch's fused CPU kernels take these params and their grads.

    They must be real floating plain tensors on the CPU (torch's CUDA kernels
    want the step counters on the GPU), and contiguous with contiguous grads:
    torch 2.14's fused CPU Adam/SGD/Adagrad mis-update a parameter whose grad
    has other strides (a transposed view, say), so such groups take lrkit's
    foreach path instead.
    """
    return all(
        p.is_floating_point()
        and p.device.type == "cpu"
        and type(p) in PLAIN
        and p.is_contiguous()
        and (p.grad is None or p.grad.is_contiguous())
        for p in params
    )


# Note [cache batches]: on the CPU a step is a chain of memory-bound passes,
# and a ``torch._foreach_*`` op over a whole model streams every tensor from
# DRAM once per op. The foreach path therefore runs its chain on batches of
# about CPU_BATCH elements, so that the second and later ops of the chain find
# their operands in cache (measured on ResNet-50 shapes, 2 cores: Adam's chain
# 174 ms -> 67 ms per step). Algorithms whose update is elementwise
# (``splittable``) also have large tensors cut into contiguous chunks; those
# with per-tensor reductions (AdamP, SGDP, LAMB, SGD's first-step rule) get
# whole tensors, batched; the global sums of Prodigy and D-Adaptation add
# over chunks, so they are split too. Other devices run one batch.
# 2^19 elements (2 MB of float32 per list; a batch's operands, ~10 MB for Adam,
# sit in a 32 MB L3): against 2^18, with the two sizes timed in turns in one
# process, step time over torch's for-loop 0.59 vs 0.67 (Adam), 0.70 vs 0.77
# (AdamW), 1.05 vs 1.22 (Prodigy), 0.86 vs 0.98 (DAdaptSGD); SGD's two-op
# chain within noise; 2^20 no better, 2^16 1.7x slower (per-call overhead).
CPU_BATCH = 1 << 19

# Note [small tensors]: a torch op called from Python costs microseconds
# whatever its size, so a pass that loops over tensors one by one pays for
# the many small ones (norms, biases, small convolutions) as much as for large
# chunks. Where the distance optimizers' passes need per-tensor ops (``out=``
# into a reused buffer, inner products), the tensors under SMALL elements go
# in batches of their own and get list ops instead (``torch._foreach_*``, one
# call, new tensors of their size); ``updates.foreach_axpby_`` gives them its
# two list ops, which below 2^16 elements cost less than one ``addr_`` per
# tensor (6.6 vs 14.4 us at 2^12, 23.5 vs 24.4 us at 2^16). ResNet-50's 119
# tensors under 2^16 elements (1.2% of its values) took 14.5 ms of Prodigy's
# foreach step on their own, 9.8 ms with list ops (2-core AMD EPYC).
SMALL = 1 << 16


def cache_batches(
    lists: list[list[Tensor]], steps: list[float], split: bool
) -> list[tuple[list[list[Tensor]], list[float]]]:
    """Note [cache batches]: ``lists`` (aligned: params, grads, buffers) in batches."""
    if not lists[0] or lists[0][0].device.type != "cpu":
        return [(lists, steps)]
    pieces: list[tuple[list[Tensor], float]] = []  # one tensor of each list, and its step
    for i in range(len(lists[0])):
        row = [ts[i] for ts in lists]
        step = steps[i] if steps else 0.0
        n = row[0].numel()
        if split and n > CPU_BATCH and all(t.is_contiguous() and t.numel() == n for t in row):
            chunks = [torch.split(t.view(-1), CPU_BATCH) for t in row]
            pieces += [(list(c), step) for c in zip(*chunks, strict=True)]
        else:
            pieces.append((row, step))
    batches: list[tuple[list[list[Tensor]], list[float]]] = []
    size = 0
    for row, step in pieces:
        n = row[0].numel()
        if not batches or size + n > CPU_BATCH:
            batches.append(([[] for _ in lists], []))
            size = 0
        size += n
        for column, t in zip(batches[-1][0], row, strict=True):
            column.append(t)
        batches[-1][1].append(step)
    return [(b, s if steps else []) for b, s in batches]


__all__ = [
    "CPU_BATCH",
    "DTYPES",
    "PLAIN",
    "SMALL",
    "Buffers",
    "TensorList",
    "cache_batches",
    "row_segments",
    "rows",
    "rows_are_blocks",
    "takes",
    "torch_fused_ok",
]
