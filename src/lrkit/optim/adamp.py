"""AdamP (Heo et al., 2021), as the official ``adamp`` package, and the
projection it shares with SGDP."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    add_scaled_,
    as_float,
    foreach_add_scaled_,
    foreach_square_average_,
    register,
)
from lrkit.optim.hyper import BETA, FLAG, LR, NONNEG, POSITIVE, UNIT
from lrkit.optim.layout import row_segments, rows
from lrkit.validation import Param

# Note [projection]: for a parameter with more than one dimension, AdamP and
# SGDP look at the cosine similarity of its gradient and its value, first per
# output channel (rows of ``p.reshape(len(p), -1)``) and then over the whole
# tensor. If every |cos| of a view is below ``delta / sqrt(row length)`` the
# parameter is taken to be scale invariant: the update loses its component
# along ``p`` (per row of that view) and the weight decay is multiplied by
# ``wd_ratio``. The reference path follows the official code, deciding on the
# host; the foreach path computes both views' sums for every tensor and selects
# with ``torch.where``, so no step waits on a device-to-host copy.


def projection(p: Tensor, g: Tensor, u: Tensor, delta: float, eps: float) -> tuple[Tensor, bool]:
    """Note [projection] for one tensor: the projected update and whether it applied."""
    if p.dim() <= 1:
        return u, False
    pv, gv, uv = p.reshape(len(p), -1), g.reshape(len(p), -1), u.reshape(len(p), -1)
    for dims, length in ((1, pv.shape[1]), ((0, 1), pv.numel())):  # per channel, then whole
        cos = cosine(gv, pv, dims, eps)
        if cos.max() < delta / math.sqrt(length):
            p_n = pv / (pv.norm(dim=dims, keepdim=True) + eps)
            return (uv - p_n * (p_n * uv).sum(dim=dims, keepdim=True)).view_as(u), True
    return u, False


def cosine(x: Tensor, y: Tensor, dims: int | tuple[int, ...], eps: float) -> Tensor:
    """``|<x, y>| / (max(|x|, eps) max(|y|, eps))`` over ``dims``, as ``F.cosine_similarity``.

    Written out rather than called on a flattened view, so that the whole-tensor
    view of a parameter sharded unevenly along dim 0 (FSDP2) needs no reshape.
    """
    xn = x.norm(dim=dims, keepdim=True).clamp(min=eps)
    yn = y.norm(dim=dims, keepdim=True).clamp(min=eps)
    cos: Tensor = ((x / xn) * (y / yn)).sum(dim=dims).abs()
    return cos


def projection_(p: Tensor, g: Tensor, u: Tensor, delta: float, eps: float) -> Tensor:
    """Note [projection] in place on ``u`` without a host sync; returns a 0-dim bool "applied"."""
    pv, gv = p.reshape(len(p), -1), g.reshape(len(p), -1)
    # rows of u: a view, or for another layout (channels_last) a copy written back below
    viewable = u.is_contiguous()
    uv = u.view(len(p), -1) if viewable else u.reshape(len(p), -1)
    # per row: the norms of g and p as plain reductions, g.p and p.u as a product and a
    # sum (batched 1x1 matmuls were 1.8x slower on the CPU)
    gn, pn = torch.linalg.vector_norm(gv, dim=1), torch.linalg.vector_norm(pv, dim=1)
    gp, pu = torch.linalg.vecdot(gv, pv), torch.linalg.vecdot(pv, uv)
    sums = torch.stack([gp.sum(), (gn * gn).sum(), (pn * pn).sum(), pu.sum()])
    cos_rows = gp.abs() / (gn.clamp(min=eps) * pn.clamp(min=eps))
    cos_all = sums[0].abs() / (sums[1].sqrt().clamp(min=eps) * sums[2].sqrt().clamp(min=eps))
    by_rows = cos_rows.max() < delta / math.sqrt(pv.shape[1])
    whole = cos_all < delta / math.sqrt(pv.numel())
    k_rows = pu / (pn + eps) ** 2
    k_all = sums[3] / (sums[2].sqrt() + eps) ** 2
    k = torch.where(by_rows, k_rows, torch.where(whole, k_all, torch.zeros_like(k_all)))
    uv.addcmul_(pv, k.unsqueeze(1), value=-1)  # no full-size temporary
    if not viewable:
        u.copy_(uv.view(u.shape))
    applied: Tensor = by_rows | whole
    return applied


def foreach_projection_(
    params: TensorList,
    grads: TensorList,
    updates: TensorList,
    delta: float,
    eps: float,
    wd_ratio: float,
) -> list[Tensor]:
    """:func:`projection_` on each tensor with more than one dimension; the weight-decay factors."""
    factors: list[Tensor] = []
    one = ratio = torch.ones(())
    for i, (p, g, u) in enumerate(zip(params, grads, updates, strict=True)):
        if i == 0 or one.dtype != p.dtype or one.device != p.device:
            one, ratio = p.new_ones(()), p.new_tensor(wd_ratio)  # in the param's dtype, not float32
        if p.dim() <= 1:
            factors.append(one)
            continue
        factors.append(torch.where(projection_(p, g, u, delta, eps), ratio, one))
    return factors


def stacked_projection(
    stats: Tensor, params: list[Tensor], delta: float, eps: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Note [projection] for many tensors at once, from their per-row sums.

    ``stats`` stacks the rows of every tensor (``size(0)`` rows for more than one
    dimension, else 1) with columns g.p, g.g, p.p, p.u (float64, as the fused
    kernels write them). Returns ``k`` per row (the update becomes ``u - k p``),
    whether each tensor was projected, and each row's tensor index.
    """
    on: dict[str, Any] = dict(dtype=stats.dtype, device=stats.device)
    seg = row_segments(params, stats.device)
    cols = torch.tensor([p.numel() // rows(p.shape) if p.numel() else 0 for p in params], **on)
    numel = torch.tensor([p.numel() for p in params], **on)
    multi = torch.tensor([p.dim() > 1 for p in params], device=stats.device)
    gp, gg, pp, pu = stats.unbind(1)
    tot = torch.zeros(len(params), 4, **on).index_add_(0, seg, stats)
    cos_rows = gp.abs() / (gg.sqrt().clamp(min=eps) * pp.sqrt().clamp(min=eps))
    cos_max = torch.full((len(params),), -math.inf, **on)
    cos_max.scatter_reduce_(0, seg, cos_rows, "amax")
    cos_all = tot[:, 0].abs() / (tot[:, 1].sqrt().clamp(min=eps) * tot[:, 2].sqrt().clamp(min=eps))
    by_rows = multi & (cos_max < delta / cols.sqrt())
    whole = multi & ~by_rows & (cos_all < delta / numel.sqrt())
    k_rows = pu / (pp.sqrt() + eps) ** 2
    k_all = tot[:, 3] / (tot[:, 2].sqrt() + eps) ** 2
    zero = torch.zeros((), **on)
    k = torch.where(by_rows[seg], k_rows, torch.where(whole[seg], k_all[seg], zero))
    return k, by_rows | whole, seg


def fused_projection_step(
    kernel_phase2: Callable[[Tensor, Tensor, Tensor], None],
    stats: Tensor,
    params: list[Tensor],
    group: dict[str, Any],
    decay: float,
    scale: float,
) -> None:
    """Phase 2 of AdamP/SGDP (Note [fused cpu]): ``p <- p d - scale (u - k p)`` with
    ``d = 1 - decay * r`` (``r`` = wd_ratio where projected, else 1)."""
    k, projected, seg = stacked_projection(stats, params, group["delta"], group["eps"])
    on: dict[str, Any] = dict(dtype=torch.float64, device=stats.device)
    # (a Python scalar in torch.where would make it float32)
    ratio = torch.where(projected, torch.tensor(group["wd_ratio"], **on), torch.ones((), **on))
    d = (1 - decay * ratio)[seg].contiguous()
    s = torch.full((len(params),), scale, **on)
    kernel_phase2(d, k.contiguous(), s)


def foreach_decay_(params: TensorList, factors: list[Tensor], rate: float | Tensor) -> None:
    """``p <- p * (1 - rate * r)`` with each tensor's weight-decay factor ``r``."""
    decay = torch._foreach_mul(factors, -rate)
    torch._foreach_add_(decay, 1.0)
    torch._foreach_mul_(params, decay)


@register("adamp", "Adam with the AdamP projection for scale-invariant weights", "adamp.AdamP")
class AdamP(Optimizer):
    r"""AdamP (Heo et al., ICLR 2021), as the official ``adamp.AdamP``.

    With ``g`` the gradient (Note [gradients] in ``base``) and step ``t``::

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        u = m / (sqrt(v) / sqrt(1 - beta2^t) + eps)     (nesterov: beta1 m + (1 - beta1) g for m)
        u, r = projection(p, g, u)                      (Note [projection]; r = wd_ratio or 1)
        p <- p * (1 - lr * weight_decay * r)
        p <- p - lr / (1 - beta1^t) * u

    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    fused_kernels = True
    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "betas": BETA,
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "delta": NONNEG,
        "wd_ratio": UNIT,
        "nesterov": FLAG,
        "maximize": FLAG,
    }

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        delta: float = 0.1,
        wd_ratio: float = 0.1,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            delta=delta,
            wd_ratio=wd_ratio,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _fused(
        self,
        group: dict[str, Any],
        k: Any,
        params: list[Tensor],
        grads: list[Tensor],
        bufs: dict[str, list[Tensor]],
        step: float,
        scale: float,
        ctx: StepContext,
    ) -> None:
        lr, (beta1, beta2), eps = as_float(group["lr"]), group["betas"], group["eps"]
        m, v, nesterov = bufs["exp_avg"], bufs["exp_avg_sq"], group["nesterov"]
        c2 = math.sqrt(1 - beta2**step)
        stats = k.adamp_phase1(params, grads, m, v, scale, beta1, beta2, c2, eps, nesterov)
        fused_projection_step(
            lambda d, kk, s: k.adamp_phase2(
                params, grads, m, v, d, kk, s, scale, beta1, c2, eps, nesterov
            ),
            stats,
            params,
            group,
            lr * group["weight_decay"],
            lr / (1 - beta1**step),
        )

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        lr, (beta1, beta2), eps, wd = (
            group["lr"],
            group["betas"],
            group["eps"],
            group["weight_decay"],
        )
        m, v = buf["exp_avg"], buf["exp_avg_sq"]
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v.sqrt() / math.sqrt(1 - beta2**step)).add_(eps)
        u = (beta1 * m + (1 - beta1) * g) / denom if group["nesterov"] else m / denom
        u, projected = projection(p, g, u, group["delta"], eps)
        if wd > 0:
            p.mul_(1 - lr * wd * (group["wd_ratio"] if projected else 1.0))
        add_scaled_(p, u, -lr / (1 - beta1**step))

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, (beta1, beta2), eps, wd = (
            group["lr"],
            group["betas"],
            group["eps"],
            group["weight_decay"],
        )
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        torch._foreach_lerp_(m, grads, 1 - beta1)
        foreach_square_average_(v, grads, beta2)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, [math.sqrt(1 - beta2**t) for t in steps])
        torch._foreach_add_(denom, eps)
        if group["nesterov"]:
            u = torch._foreach_lerp(m, grads, 1 - beta1)
            torch._foreach_div_(u, denom)
        else:
            u = torch._foreach_div(m, denom)
        factors = foreach_projection_(params, grads, u, group["delta"], eps, group["wd_ratio"])
        if wd > 0:
            foreach_decay_(params, factors, lr * wd)
        torch._foreach_mul_(u, [1 / (1 - beta1**t) for t in steps])
        foreach_add_scaled_(params, u, -lr)


__all__ = [
    "AdamP",
    "cosine",
    "foreach_decay_",
    "foreach_projection_",
    "fused_projection_step",
    "projection",
    "projection_",
    "stacked_projection",
]
