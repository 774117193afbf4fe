"""SGDP (Heo et al., 2021), as the official ``adamp`` package."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from lrkit.optim.adamp import (
    foreach_decay_,
    foreach_projection_,
    fused_projection_step,
    projection,
)
from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    add_scaled_,
    as_float,
    foreach_add_scaled_,
    register,
)
from lrkit.optim.hyper import FLAG, LR, NONNEG, POSITIVE, UNIT
from lrkit.validation import Param


@register("sgdp", "SGD with momentum and the AdamP projection", "adamp.SGDP")
class SGDP(Optimizer):
    r"""SGDP (Heo et al., ICLR 2021), as the official ``adamp.SGDP``.

    With ``g`` the gradient (Note [gradients] in ``base``)::

        b <- momentum * b + (1 - dampening) * g
        u = g + momentum * b                         (nesterov; else u = b)
        u, r = projection(p, g, u)                   (Note [projection] in ``adamp``)
        p <- p * (1 - lr * weight_decay * r / (1 - momentum))
        p <- p - lr * u

    As in the official code, without ``nesterov`` the projection is applied to
    the momentum buffer itself, so it persists into later steps.

    State: ``momentum`` (the buffer, under the official key). The official
    default ``lr`` is required; ``momentum`` must be below 1 since the weight
    decay divides by ``1 - momentum``.
    """

    fused_kernels = True
    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "momentum": Param("float", lo=0.0, hi=1.0, hi_open=True),
        "dampening": UNIT,
        "weight_decay": NONNEG,
        "nesterov": FLAG,
        "eps": POSITIVE,
        "delta": NONNEG,
        "wd_ratio": UNIT,
        "maximize": FLAG,
    }
    steps_in_state = False

    def __init__(
        self,
        params: Any,
        lr: float | Tensor,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        eps: float = 1e-8,
        delta: float = 0.1,
        wd_ratio: float = 0.1,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            eps=eps,
            delta=delta,
            wd_ratio=wd_ratio,
            maximize=maximize,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum",)

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
        lr, mu, b, nesterov = (
            as_float(group["lr"]),
            group["momentum"],
            bufs["momentum"],
            group["nesterov"],
        )
        stats = k.sgdp_phase1(params, grads, b, scale, mu, group["dampening"], nesterov)
        fused_projection_step(
            lambda d, kk, s: k.sgdp_phase2(params, grads, b, d, kk, s, scale, mu, nesterov),
            stats,
            params,
            group,
            lr * group["weight_decay"] / (1 - mu),
            lr,
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
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        b = buf["momentum"]
        b.mul_(mu).add_(g, alpha=1 - group["dampening"])
        u = g + mu * b if group["nesterov"] else b
        u, projected = projection(p, g, u, group["delta"], group["eps"])
        if projected and not group["nesterov"]:
            b.copy_(u)  # the official code projects the buffer itself
        if wd > 0:
            p.mul_(1 - lr * wd * (group["wd_ratio"] if projected else 1.0) / (1 - mu))
        add_scaled_(p, u, -lr)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        b = bufs["momentum"]
        torch._foreach_mul_(b, mu)
        torch._foreach_add_(b, grads, alpha=1 - group["dampening"])
        # without nesterov the projection edits the buffer itself, as the official code does
        u = torch._foreach_add(grads, b, alpha=mu) if group["nesterov"] else b
        factors = foreach_projection_(
            params, grads, u, group["delta"], group["eps"], group["wd_ratio"]
        )
        if wd > 0:
            foreach_decay_(params, factors, lr * wd / (1 - mu))
        foreach_add_scaled_(params, u, -lr)


__all__ = ["SGDP"]
