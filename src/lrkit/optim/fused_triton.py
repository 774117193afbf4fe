# mypy: disable-error-code="no-untyped-def,no-untyped-call,untyped-decorator"
# (@triton.jit kernels take untyped tensor-pointer arguments)
"""Triton versions of the fused kernels (``impl="fused"`` on CUDA), for AdamP,
SGDP and LAMB.

Note [fused triton]: the same two passes and the same functions, arguments
and results as the C++ kernels of ``csrc/fused_cpu.cpp`` (Note [fused cpu]),
so the optimizers' ``_fused`` and the per-tensor decisions between the passes
are shared. Multi-tensor: each launch covers every tensor of a call through
tables of base addresses (``int64`` tensors of ``data_ptr()``, loaded in the
kernel and cast to pointers) and a work list of items, each a segment of at
most ``SEGMENT`` elements of one row (rows as in Note [fused cpu]); an item
writes its partial sums, which ``index_add_`` adds up per row. Scalars travel
in a float64 tensor read on the device, so float64 params keep float64
hyperparameters (a Python float argument would be float32 in Triton) and a
new value never recompiles. Math is in float32 for 16- and 32-bit params and
in float64 for float64 params; state keeps the param's dtype, as the
reference implementations keep it.

Status: checked on the CPU with Triton's interpreter (``TRITON_INTERPRET=1``,
tests/optim/test_fused_triton.py) against the reference path; not yet run or
timed on a GPU.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
import triton
import triton.language as tl
from torch import Tensor

from lrkit.optim import layout

SEGMENT = 1 << 14  # elements per work item at most
BLOCK = 1024  # elements per loop iteration inside an item

_DTYPES = {
    torch.float32: (tl.float32, tl.float32),
    torch.float64: (tl.float64, tl.float64),
    torch.bfloat16: (tl.bfloat16, tl.float32),
    torch.float16: (tl.float16, tl.float32),
}


@triton.jit
def _lerp(a, b, w, LOW: tl.constexpr):  # torch's lerp, its branch on the weight decided on the host
    if LOW:
        return a + w * (b - a)
    else:
        return b - (b - a) * (1.0 - w)


@triton.jit
def _base(TABLE, t, DT: tl.constexpr):  # tensor t's base address, from a table of data_ptr()s
    return tl.load(TABLE + t).to(tl.pointer_type(DT))


@triton.jit
def _item(IT, IS, IL):
    i = tl.program_id(0)
    return i, tl.load(IT + i), tl.load(IS + i), tl.load(IL + i)


@triton.jit
def _adamp1(P, G, M, V, IT, IS, IL, OUT, SC, NEST: tl.constexpr, LOW: tl.constexpr,
            DT: tl.constexpr, CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    m_ = _base(M, t, DT)
    v_ = _base(V, t, DT)
    gs, w1 = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT)
    b2, w2 = tl.load(SC + 2).to(CT), tl.load(SC + 3).to(CT)
    c2, eps = tl.load(SC + 4).to(CT), tl.load(SC + 5).to(CT)
    a0 = tl.zeros([BLOCK], CT)
    a1 = tl.zeros([BLOCK], CT)
    a2 = tl.zeros([BLOCK], CT)
    a3 = tl.zeros([BLOCK], CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        g = gs * tl.load(g_ + idx, mask=mask, other=0.0).to(CT)
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        m = _lerp(tl.load(m_ + idx, mask=mask, other=0.0).to(CT), g, w1, LOW)
        v = tl.load(v_ + idx, mask=mask, other=0.0).to(CT) * b2 + w2 * (g * g)
        tl.store(m_ + idx, m.to(DT), mask=mask)
        tl.store(v_ + idx, v.to(DT), mask=mask)
        if NEST:
            u = _lerp(m, g, w1, LOW) / (tl.sqrt(v) / c2 + eps)
        else:
            u = m / (tl.sqrt(v) / c2 + eps)
        a0 += g * p
        a1 += g * g
        a2 += p * p
        a3 += p * u
    tl.store(OUT + 4 * i + 0, tl.sum(a0, 0))
    tl.store(OUT + 4 * i + 1, tl.sum(a1, 0))
    tl.store(OUT + 4 * i + 2, tl.sum(a2, 0))
    tl.store(OUT + 4 * i + 3, tl.sum(a3, 0))


@triton.jit
def _adamp2(P, G, M, V, IT, IS, IL, IR, D, K, S, SC, NEST: tl.constexpr, LOW: tl.constexpr,
            DT: tl.constexpr, CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    r = tl.load(IR + i)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    m_ = _base(M, t, DT)
    v_ = _base(V, t, DT)
    gs, w1 = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT)
    c2, eps = tl.load(SC + 4).to(CT), tl.load(SC + 5).to(CT)
    d, k, s = tl.load(D + r).to(CT), tl.load(K + r).to(CT), tl.load(S + t).to(CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        m = tl.load(m_ + idx, mask=mask, other=0.0).to(CT)
        v = tl.load(v_ + idx, mask=mask, other=1.0).to(CT)
        if NEST:
            g = gs * tl.load(g_ + idx, mask=mask, other=0.0).to(CT)
            m = _lerp(m, g, w1, LOW)
        u = m / (tl.sqrt(v) / c2 + eps)
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        tl.store(p_ + idx, (p * d - s * (u - k * p)).to(DT), mask=mask)


@triton.jit
def _sgdp1(P, G, B, IT, IS, IL, OUT, SC, NEST: tl.constexpr, DT: tl.constexpr,
           CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    b_ = _base(B, t, DT)
    gs, mu, w = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT), tl.load(SC + 2).to(CT)
    a0 = tl.zeros([BLOCK], CT)
    a1 = tl.zeros([BLOCK], CT)
    a2 = tl.zeros([BLOCK], CT)
    a3 = tl.zeros([BLOCK], CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        g = gs * tl.load(g_ + idx, mask=mask, other=0.0).to(CT)
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        b = tl.load(b_ + idx, mask=mask, other=0.0).to(CT) * mu + w * g
        tl.store(b_ + idx, b.to(DT), mask=mask)
        if NEST:
            u = g + mu * b
        else:
            u = b
        a0 += g * p
        a1 += g * g
        a2 += p * p
        a3 += p * u
    tl.store(OUT + 4 * i + 0, tl.sum(a0, 0))
    tl.store(OUT + 4 * i + 1, tl.sum(a1, 0))
    tl.store(OUT + 4 * i + 2, tl.sum(a2, 0))
    tl.store(OUT + 4 * i + 3, tl.sum(a3, 0))


@triton.jit
def _sgdp2(P, G, B, IT, IS, IL, IR, D, K, S, SC, NEST: tl.constexpr, DT: tl.constexpr,
           CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    r = tl.load(IR + i)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    b_ = _base(B, t, DT)
    gs, mu = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT)
    d, k, s = tl.load(D + r).to(CT), tl.load(K + r).to(CT), tl.load(S + t).to(CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        b = tl.load(b_ + idx, mask=mask, other=0.0).to(CT)
        if NEST:
            u = (gs * tl.load(g_ + idx, mask=mask, other=0.0).to(CT) + mu * b) - k * p
        else:
            u = b - k * p  # the projected buffer is written back (Note [fused cpu])
            tl.store(b_ + idx, u.to(DT), mask=mask)
        tl.store(p_ + idx, (p * d - s * u).to(DT), mask=mask)


@triton.jit
def _lamb1(P, G, M, V, IT, IS, IL, OUT, SC, AVG: tl.constexpr, CAUTION: tl.constexpr,
           LOW: tl.constexpr, DT: tl.constexpr, CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    m_ = _base(M, t, DT)
    v_ = _base(V, t, DT)
    gs, b1, w1 = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT), tl.load(SC + 2).to(CT)
    b2, w2 = tl.load(SC + 3).to(CT), tl.load(SC + 4).to(CT)
    c1, c2 = tl.load(SC + 5).to(CT), tl.load(SC + 6).to(CT)
    eps, wd = tl.load(SC + 7).to(CT), tl.load(SC + 8).to(CT)
    a0 = tl.zeros([BLOCK], CT)
    a1 = tl.zeros([BLOCK], CT)
    a2 = tl.zeros([BLOCK], CT)
    a3 = tl.zeros([BLOCK], CT)
    a4 = tl.zeros([BLOCK], CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        g = gs * tl.load(g_ + idx, mask=mask, other=0.0).to(CT)
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        m = tl.load(m_ + idx, mask=mask, other=0.0).to(CT)
        if AVG:
            m = _lerp(m, g, w1, LOW)
        else:
            m = m * b1 + g
        v = tl.load(v_ + idx, mask=mask, other=0.0).to(CT) * b2 + w2 * (g * g)
        tl.store(m_ + idx, m.to(DT), mask=mask)
        tl.store(v_ + idx, v.to(DT), mask=mask)
        u = (m / c1) / (tl.sqrt(v) / c2 + eps)
        keep = tl.where(mask, 1.0, 0.0).to(CT)
        if CAUTION:
            keep = tl.where(mask & (u * g > 0), 1.0, 0.0).to(CT)
            u = u * keep
        f = u + wd * p
        a0 += keep
        a1 += u * u
        a2 += u * p
        a3 += p * p
        a4 += f * f
    tl.store(OUT + 5 * i + 0, tl.sum(a0, 0))
    tl.store(OUT + 5 * i + 1, tl.sum(a1, 0))
    tl.store(OUT + 5 * i + 2, tl.sum(a2, 0))
    tl.store(OUT + 5 * i + 3, tl.sum(a3, 0))
    tl.store(OUT + 5 * i + 4, tl.sum(a4, 0))


@triton.jit
def _lamb2(P, G, M, V, IT, IS, IL, D, S, SC, CAUTION: tl.constexpr, DT: tl.constexpr,
           CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    _, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    m_ = _base(M, t, DT)
    v_ = _base(V, t, DT)
    gs, c1, c2, eps = (tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT),
                       tl.load(SC + 2).to(CT), tl.load(SC + 3).to(CT))  # fmt: skip
    d, s = tl.load(D + t).to(CT), tl.load(S + t).to(CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        m = tl.load(m_ + idx, mask=mask, other=0.0).to(CT)
        v = tl.load(v_ + idx, mask=mask, other=1.0).to(CT)
        u = (m / c1) / (tl.sqrt(v) / c2 + eps)
        if CAUTION:
            g = gs * tl.load(g_ + idx, mask=mask, other=0.0).to(CT)
            u = tl.where(u * g > 0, u, 0.0)
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        tl.store(p_ + idx, (p * d - s * u).to(DT), mask=mask)


@functools.lru_cache(maxsize=64)
def _work_list(
    shapes: tuple[tuple[int, ...], ...], device: torch.device, segment: int
) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    """(tensor, start, length, row) of every item, on ``device``, and the row count;
    cached by shapes, which stay put from step to step while grads may move."""
    tensor, start, length, row = [], [], [], []
    first_row = 0
    for t, shape in enumerate(shapes):
        rows = layout.rows(shape)
        cols = math.prod(shape) // rows if rows else 0
        for c0 in range(0, cols, segment):
            r = torch.arange(rows, dtype=torch.int64)
            tensor.append(torch.full((rows,), t, dtype=torch.int64))
            start.append(r * cols + c0)
            length.append(torch.full((rows,), min(segment, cols - c0), dtype=torch.int64))
            row.append(r + first_row)
        first_row += rows
    cat = lambda xs: torch.cat(xs).to(device)  # noqa: E731
    return cat(tensor), cat(start), cat(length), cat(row), first_row


class _Work:
    """The tables and work list of one call: items are row segments (Note [fused triton])."""

    def __init__(self, params: Sequence[Tensor], *others: Sequence[Tensor]) -> None:
        device = params[0].device
        self.dtype, self.compute = _DTYPES[params[0].dtype]
        self.tables = [
            torch.tensor([t.data_ptr() for t in ts], dtype=torch.int64, device=device)
            for ts in (params, *others)
        ]
        items = _work_list(tuple(tuple(p.shape) for p in params), device, SEGMENT)
        self.item_tensor, self.item_start, self.item_length, self.item_row, self.rows = items
        self.items = len(self.item_tensor)
        self.device = device

    def scalars(self, *values: float) -> Tensor:
        return torch.tensor(values, dtype=torch.float64, device=self.device)

    def row_sums(self, partial: Tensor) -> Tensor:
        out = torch.zeros(self.rows, partial.shape[1], dtype=torch.float64, device=self.device)
        return out.index_add_(0, self.item_row, partial.to(torch.float64))

    def partial(self, k: int) -> Tensor:
        return torch.empty(self.items, k, dtype=self.compute_torch, device=self.device)

    @property
    def compute_torch(self) -> torch.dtype:
        return torch.float64 if self.compute == tl.float64 else torch.float32


def _low(weight: float) -> bool:
    return weight < 0.5


def adamp_phase1(
    p: list[Tensor], g: list[Tensor], m: list[Tensor], v: list[Tensor], gscale: float,
    beta1: float, beta2: float, c2: float, eps: float, nesterov: bool,
) -> Tensor:  # fmt: skip
    w = _Work(p, g, m, v)
    out = w.partial(4)
    sc = w.scalars(gscale, 1 - beta1, beta2, 1 - beta2, c2, eps)
    _adamp1[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, out, sc,
                        NEST=nesterov, LOW=_low(1 - beta1), DT=w.dtype, CT=w.compute,
                        BLOCK=BLOCK)  # fmt: skip
    return w.row_sums(out)


def adamp_phase2(
    p: list[Tensor], g: list[Tensor], m: list[Tensor], v: list[Tensor], d: Tensor, k: Tensor,
    s: Tensor, gscale: float, beta1: float, c2: float, eps: float, nesterov: bool,
) -> None:  # fmt: skip
    w = _Work(p, g, m, v)
    sc = w.scalars(gscale, 1 - beta1, 0.0, 0.0, c2, eps)
    _adamp2[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, w.item_row,
                        d, k, s, sc, NEST=nesterov, LOW=_low(1 - beta1), DT=w.dtype,
                        CT=w.compute, BLOCK=BLOCK)  # fmt: skip


def sgdp_phase1(
    p: list[Tensor], g: list[Tensor], b: list[Tensor], gscale: float, momentum: float,
    dampening: float, nesterov: bool,
) -> Tensor:  # fmt: skip
    w = _Work(p, g, b)
    out = w.partial(4)
    sc = w.scalars(gscale, momentum, 1 - dampening)
    _sgdp1[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, out, sc,
                       NEST=nesterov, DT=w.dtype, CT=w.compute, BLOCK=BLOCK)  # fmt: skip
    return w.row_sums(out)


def sgdp_phase2(
    p: list[Tensor], g: list[Tensor], b: list[Tensor], d: Tensor, k: Tensor, s: Tensor,
    gscale: float, momentum: float, nesterov: bool,
) -> None:  # fmt: skip
    w = _Work(p, g, b)
    sc = w.scalars(gscale, momentum)
    _sgdp2[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, w.item_row,
                       d, k, s, sc, NEST=nesterov, DT=w.dtype, CT=w.compute,
                       BLOCK=BLOCK)  # fmt: skip


def lamb_phase1(
    p: list[Tensor], g: list[Tensor], m: list[Tensor], v: list[Tensor], gscale: float,
    beta1: float, beta2: float, bc1: float, sqrt_bc2: float, eps: float, wd: float,
    averaging: bool, caution: bool,
) -> Tensor:  # fmt: skip
    w = _Work(p, g, m, v)
    out = w.partial(5)
    sc = w.scalars(gscale, beta1, 1 - beta1, beta2, 1 - beta2, bc1, sqrt_bc2, eps, wd)
    _lamb1[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, out, sc,
                       AVG=averaging, CAUTION=caution, LOW=_low(1 - beta1), DT=w.dtype,
                       CT=w.compute, BLOCK=BLOCK)  # fmt: skip
    return w.row_sums(out)


def lamb_phase2(
    p: list[Tensor], g: list[Tensor], m: list[Tensor], v: list[Tensor], d: Tensor, s: Tensor,
    gscale: float, bc1: float, sqrt_bc2: float, eps: float, caution: bool,
) -> None:  # fmt: skip
    w = _Work(p, g, m, v)
    sc = w.scalars(gscale, bc1, sqrt_bc2, eps)
    _lamb2[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, d, s, sc,
                       CAUTION=caution, DT=w.dtype, CT=w.compute, BLOCK=BLOCK)  # fmt: skip


__all__ = [
    "BLOCK",
    "SEGMENT",
    "adamp_phase1",
    "adamp_phase2",
    "lamb_phase1",
    "lamb_phase2",
    "sgdp_phase1",
    "sgdp_phase2",
]
