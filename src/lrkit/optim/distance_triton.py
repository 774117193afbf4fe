# mypy: disable-error-code="no-untyped-def,no-untyped-call,untyped-decorator"
# (@triton.jit kernels take untyped tensor-pointer arguments)
"""Triton versions of the distance-estimation kernels (``impl="fused"`` on CUDA),
for Prodigy, D-Adaptation Adam and D-Adaptation SGD.

The same functions, arguments and results as ``csrc/distance_cpu.cpp`` (Note
[distance estimation] in ``optim/distance.py``), on the multi-tensor launches
of Note [fused triton] (``fused_triton``: tables of base addresses, a work list
of row segments, scalars in a float64 tensor). Phase 1 returns the per-row
sums in float64, as the C++ kernels do: each item adds its segment in the
compute dtype, ``index_add_`` adds the items of a row in float64. Prodigy's
``p0`` may be the 0-d zero of a param that started at zero: a per-tensor flag
masks its loads.

Status: checked on the CPU with Triton's interpreter (``TRITON_INTERPRET=1``,
tests/optim/test_fused_triton.py) against the reference path; not yet run or
timed on a GPU.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from lrkit.optim import fused_triton as ft
from lrkit.optim.fused_triton import _base, _item, _Work
from lrkit.optim.layout import takes


@triton.jit
def _grad(g_, p_, idx, mask, wd, DECAY: tl.constexpr, CT: tl.constexpr):
    """``g + wd * p``, the coupled weight decay (``p`` is read only with ``DECAY``)."""
    g = tl.load(g_ + idx, mask=mask, other=0.0).to(CT)
    if DECAY:
        g = g + wd * tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
    return g


@triton.jit
def _put_sums(OUT, i, a, b):  # item i's two sums
    tl.store(OUT + 2 * i + 0, tl.sum(a, 0))
    tl.store(OUT + 2 * i + 1, tl.sum(b, 0))


@triton.jit
def _prodigy1(P, G, M, V, S, X0, ZERO, IT, IS, IL, OUT, SC, MOMENT: tl.constexpr,
              DECAY: tl.constexpr, DT: tl.constexpr, CT: tl.constexpr,
              BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    m_ = _base(M, t, DT)
    v_ = _base(V, t, DT)
    s_ = _base(S, t, DT)
    x0_ = _base(X0, t, DT)
    whole = tl.load(ZERO + t) == 0  # p0 holds every element (else p started at zero)
    wd, b1, a1 = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT), tl.load(SC + 2).to(CT)
    b2, a2 = tl.load(SC + 3).to(CT), tl.load(SC + 4).to(CT)
    b3, a3 = tl.load(SC + 5).to(CT), tl.load(SC + 6).to(CT)
    dot = tl.zeros([BLOCK], CT)
    l1 = tl.zeros([BLOCK], CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        g = tl.load(g_ + idx, mask=mask, other=0.0).to(CT)
        if DECAY:
            g = g + wd * p
        x0 = tl.load(x0_ + idx, mask=mask & whole, other=0.0).to(CT)
        dot += g * (x0 - p)
        if MOMENT:
            m = tl.load(m_ + idx, mask=mask, other=0.0).to(CT) * b1 + a1 * g
            tl.store(m_ + idx, m.to(DT), mask=mask)
        v = tl.load(v_ + idx, mask=mask, other=0.0).to(CT) * b2 + a2 * (g * g)
        tl.store(v_ + idx, v.to(DT), mask=mask)
        s = tl.load(s_ + idx, mask=mask, other=0.0).to(CT) * b3 + a3 * g
        tl.store(s_ + idx, s.to(DT), mask=mask)
        l1 += tl.abs(s)
    _put_sums(OUT, i, dot, l1)


@triton.jit
def _adam_step(P, N, V, IT, IS, IL, SC, DT: tl.constexpr, CT: tl.constexpr,
               BLOCK: tl.constexpr):  # fmt: skip
    _, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    n_ = _base(N, t, DT)
    v_ = _base(V, t, DT)
    cw, wd = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT)
    sc, eps = tl.load(SC + 2).to(CT), tl.load(SC + 3).to(CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        u = tl.load(n_ + idx, mask=mask, other=0.0).to(CT) + cw * p
        v = tl.load(v_ + idx, mask=mask, other=1.0).to(CT)
        p = p + wd * p
        tl.store(p_ + idx, (p + sc * (u / (tl.sqrt(v) + eps))).to(DT), mask=mask)


@triton.jit
def _dadapt_adam1(P, G, M, V, S, IT, IS, IL, OUT, SC, DECAY: tl.constexpr, DT: tl.constexpr,
                  CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    m_ = _base(M, t, DT)
    v_ = _base(V, t, DT)
    s_ = _base(S, t, DT)
    wd, b1, a1 = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT), tl.load(SC + 2).to(CT)
    b2, w2 = tl.load(SC + 3).to(CT), tl.load(SC + 4).to(CT)
    b, a3, eps = tl.load(SC + 5).to(CT), tl.load(SC + 6).to(CT), tl.load(SC + 7).to(CT)
    dot = tl.zeros([BLOCK], CT)
    l1 = tl.zeros([BLOCK], CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        g = _grad(g_, p_, idx, mask, wd, DECAY, CT)
        v = tl.load(v_ + idx, mask=mask, other=1.0).to(CT)
        s = tl.load(s_ + idx, mask=mask, other=0.0).to(CT)
        dot += g * (s / (tl.sqrt(v) + eps))
        m = tl.load(m_ + idx, mask=mask, other=0.0).to(CT) * b1 + a1 * g
        tl.store(m_ + idx, m.to(DT), mask=mask)
        tl.store(v_ + idx, (v * b2 + w2 * (g * g)).to(DT), mask=mask)
        s = s * b + a3 * g
        tl.store(s_ + idx, s.to(DT), mask=mask)
        l1 += tl.abs(s)
    _put_sums(OUT, i, dot, l1)


@triton.jit
def _dadapt_sgd1(P, G, S, IT, IS, IL, OUT, SC, DECAY: tl.constexpr, DT: tl.constexpr,
                 CT: tl.constexpr, BLOCK: tl.constexpr):  # fmt: skip
    i, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    g_ = _base(G, t, DT)
    s_ = _base(S, t, DT)
    wd, a = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT)
    dot = tl.zeros([BLOCK], CT)
    sq = tl.zeros([BLOCK], CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        g = _grad(g_, p_, idx, mask, wd, DECAY, CT)
        s = tl.load(s_ + idx, mask=mask, other=0.0).to(CT)
        dot += g * s
        s = s + a * g
        tl.store(s_ + idx, s.to(DT), mask=mask)
        sq += s * s
    _put_sums(OUT, i, dot, sq)


@triton.jit
def _dadapt_sgd2(P, Z, X0, S, IT, IS, IL, SC, DT: tl.constexpr, CT: tl.constexpr,
                 BLOCK: tl.constexpr):  # fmt: skip
    _, t, start, n = _item(IT, IS, IL)
    p_ = _base(P, t, DT)
    z_ = _base(Z, t, DT)
    x0_ = _base(X0, t, DT)
    s_ = _base(S, t, DT)
    keep, w = tl.load(SC + 0).to(CT), tl.load(SC + 1).to(CT)
    for j in range(0, n, BLOCK):
        o = j + tl.arange(0, BLOCK)
        mask = o < n
        idx = start + o
        x0 = tl.load(x0_ + idx, mask=mask, other=0.0).to(CT)
        z = x0 - tl.load(s_ + idx, mask=mask, other=0.0).to(CT)
        tl.store(z_ + idx, z.to(DT), mask=mask)
        p = tl.load(p_ + idx, mask=mask, other=0.0).to(CT)
        tl.store(p_ + idx, (p * keep + w * z).to(DT), mask=mask)


def _check(p: list[Tensor], others: dict[str, list[Tensor]], flat: tuple[str, ...] = ()) -> None:
    """What the C++ kernels check (rows.h): the same count, and each operand with its
    param's layout, dtype and device (``layout.takes``; ``flat`` ones: contiguous with
    its size, or 0-d)."""
    for name, ts in others.items():
        if len(ts) != len(p):
            raise ValueError(f"lrkit fused: {name} has {len(ts)} tensors, expected {len(p)}")
        for i, (x, q) in enumerate(zip(ts, p, strict=True)):
            if name in flat:
                whole = q.is_contiguous() and x.is_contiguous() and x.numel() == q.numel()
                ok = (whole or (name == "p0" and x.dim() == 0)) and x.dtype == q.dtype
                ok = ok and x.device == q.device
            else:
                ok = takes(q, x)
            if not ok:
                raise ValueError(
                    f"lrkit fused: {name}[{i}] must have its param's layout, dtype and device"
                )


def _no_sums() -> Tensor:
    return torch.zeros(0, 2, dtype=torch.float64)


def prodigy_phase1(
    p: list[Tensor], g: list[Tensor], m: list[Tensor], v: list[Tensor], s: list[Tensor],
    p0: list[Tensor], wd: float, beta1: float, a1: float, beta2: float, a2: float,
    beta3: float, a3: float,
) -> Tensor:  # fmt: skip
    """As ``csrc/distance_cpu.cpp``: m, v, s updated; per-row ``g.(x0 - p)``, ``|s|_1``."""
    _check(p, {"grads": g, "exp_avg_sq": v, **({"exp_avg": m} if m else {})})
    _check(p, {"s": s, "p0": p0}, flat=("s", "p0"))
    if not p:
        return _no_sums()
    w = _Work(p, g, m or p, v, s, p0)  # without m, its table is never read
    zero = torch.tensor([x.dim() == 0 for x in p0], dtype=torch.int32, device=w.device)
    out = w.partial(2)
    sc = w.scalars(wd, beta1, a1, beta2, a2, beta3, a3)
    _prodigy1[(w.items,)](*w.tables, zero, w.item_tensor, w.item_start, w.item_length, out, sc,
                          MOMENT=bool(m), DECAY=wd != 0, DT=w.dtype, CT=w.compute,
                          BLOCK=ft.BLOCK)  # fmt: skip
    return w.row_sums(out)


def adam_step(
    p: list[Tensor], n: list[Tensor], v: list[Tensor], coupled: float, decay: float,
    scale: float, eps: float,
) -> None:  # fmt: skip
    """As ``csrc/distance_cpu.cpp``: ``p <- p + decay p + scale n / (sqrt(v) + eps)``."""
    _check(p, {"exp_avg": n, "exp_avg_sq": v})
    if not p:
        return
    w = _Work(p, n, v)
    sc = w.scalars(coupled, decay, scale, eps)
    _adam_step[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, sc,
                           DT=w.dtype, CT=w.compute, BLOCK=ft.BLOCK)  # fmt: skip


def dadapt_adam_phase1(
    p: list[Tensor], g: list[Tensor], m: list[Tensor], v: list[Tensor], s: list[Tensor],
    wd: float, beta1: float, a1: float, beta2: float, b: float, a3: float, eps: float,
) -> Tensor:  # fmt: skip
    """As ``csrc/distance_cpu.cpp``: per-row ``g.(s / (sqrt(v) + eps))``, the moments
    and s updated, and the new ``|s|_1``."""
    _check(p, {"grads": g, "exp_avg": m, "exp_avg_sq": v, "s": s})
    if not p:
        return _no_sums()
    w = _Work(p, g, m, v, s)
    out = w.partial(2)
    sc = w.scalars(wd, beta1, a1, beta2, 1 - beta2, b, a3, eps)
    _dadapt_adam1[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, out, sc,
                              DECAY=wd != 0, DT=w.dtype, CT=w.compute,
                              BLOCK=ft.BLOCK)  # fmt: skip
    return w.row_sums(out)


def dadapt_sgd_phase1(p: list[Tensor], g: list[Tensor], s: list[Tensor], wd: float,
                      dlr: float) -> Tensor:  # fmt: skip
    """As ``csrc/distance_cpu.cpp``: per-row ``g.s`` (the old s), s updated, ``s.s``."""
    _check(p, {"grads": g, "s": s})
    if not p:
        return _no_sums()
    w = _Work(p, g, s)
    out = w.partial(2)
    sc = w.scalars(wd, dlr)
    _dadapt_sgd1[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, out, sc,
                             DECAY=wd != 0, DT=w.dtype, CT=w.compute,
                             BLOCK=ft.BLOCK)  # fmt: skip
    return w.row_sums(out)


def dadapt_sgd_phase2(
    p: list[Tensor], z: list[Tensor], x0: list[Tensor], s: list[Tensor], c: float
) -> None:
    """As ``csrc/distance_cpu.cpp``: ``z <- x0 - s``, ``p <- (1 - c) p + c z``."""
    _check(p, {"z": z, "x0": x0, "s": s})
    if not p:
        return
    w = _Work(p, z, x0, s)
    sc = w.scalars(1 - c, c)
    _dadapt_sgd2[(w.items,)](*w.tables, w.item_tensor, w.item_start, w.item_length, sc,
                             DT=w.dtype, CT=w.compute, BLOCK=ft.BLOCK)  # fmt: skip


__all__ = [
    "adam_step",
    "dadapt_adam_phase1",
    "dadapt_sgd_phase1",
    "dadapt_sgd_phase2",
    "prodigy_phase1",
]
