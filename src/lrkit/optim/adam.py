"""Adam (with AMSGrad and L2 or decoupled weight decay) and AdamW."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.optim.adam import adam as torch_adam

from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    foreach_add_scaled_,
    foreach_square_average_,
    foreach_weight_decay_,
    grads_of,
    register,
    weight_decay_,
)
from lrkit.optim.hyper import BETA, FLAG, LR, NONNEG, POSITIVE
from lrkit.validation import Param


@register("adam", "Adam with bias correction, AMSGrad and L2 weight decay", "torch.optim.Adam")
class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as :class:`torch.optim.Adam`.

    With ``g`` the gradient (Note [gradients] in ``base``) and step ``t``::

        g <- g + weight_decay * p                 (L2; decoupled: p <- p * (1 - lr * weight_decay))
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)                     (amsgrad; then v_max replaces v below)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State: ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``), as
    torch keeps them. ``impl="auto"`` runs torch's fused CPU kernel (or its
    foreach kernel elsewhere) when ``max_grad_norm`` is unset.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "betas": BETA,
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "amsgrad": FLAG,
        "maximize": FLAG,
        "decoupled_weight_decay": FLAG,
    }
    supports_complex = True

    splittable = True  # Note [cache batches]

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (
            ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
            if group["amsgrad"]
            else ("exp_avg", "exp_avg_sq")
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
        adam_reference(group, p, g, buf, step)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        adam_foreach(group, params, grads, bufs, steps)

    def _torch_kernel(self, group: dict[str, Any]) -> bool:
        return True

    def _torch_step(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        states: list[dict[str, Any]],
        ctx: StepContext,
    ) -> None:
        beta1, beta2 = group["betas"]
        torch_adam(
            params,
            grads_of(params),
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [],
            [s["step"] for s in states],
            fused=True,
            decoupled_weight_decay=group["decoupled_weight_decay"],
            amsgrad=group["amsgrad"],
            beta1=beta1,
            beta2=beta2,
            lr=group["lr"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )


@register("adamw", "Adam with decoupled weight decay (Loshchilov & Hutter)", "torch.optim.AdamW")
class AdamW(Adam):
    r"""AdamW: :class:`Adam` with decoupled weight decay, as :class:`torch.optim.AdamW`::

    p <- p * (1 - lr * weight_decay), then the Adam step
    """

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            impl=impl,
            max_grad_norm=max_grad_norm,
            **torch_keywords,
        )


def adam_reference(
    group: dict[str, Any], p: Tensor, g: Tensor, buf: dict[str, Tensor], step: float
) -> None:
    """Adam's per-tensor update (the class docstring), for a group with Adam's keys."""
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    m, v = buf["exp_avg"], buf["exp_avg_sq"]
    g = weight_decay_(group, p, g)
    m.lerp_(g, 1 - beta1)
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    if group["amsgrad"]:
        v = torch.maximum(buf["max_exp_avg_sq"], v, out=buf["max_exp_avg_sq"])
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    denom = (v.sqrt() / math.sqrt(bias_correction2)).add_(eps)
    step_size = lr / bias_correction1
    if isinstance(step_size, Tensor):
        p.sub_(m / denom * step_size)
    else:
        p.addcdiv_(m, denom, value=-step_size)


def adam_foreach(
    group: dict[str, Any], params: TensorList, grads: TensorList, bufs: Buffers, steps: list[float]
) -> None:
    """:func:`adam_reference` on lists of one device and dtype."""
    lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
    m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
    grads = foreach_weight_decay_(group, params, grads)
    torch._foreach_lerp_(m, grads, 1 - beta1)
    foreach_square_average_(v, grads, beta2)
    if group["amsgrad"]:
        torch._foreach_maximum_(bufs["max_exp_avg_sq"], v)
        v = bufs["max_exp_avg_sq"]
    denom = torch._foreach_sqrt(v)
    torch._foreach_div_(denom, [math.sqrt(1 - beta2**t) for t in steps])
    torch._foreach_add_(denom, eps)
    if isinstance(lr, Tensor):
        update = torch._foreach_div(m, denom)
        torch._foreach_mul_(update, [1 / (1 - beta1**t) for t in steps])
        foreach_add_scaled_(params, update, -lr)
    else:
        torch._foreach_addcdiv_(params, m, denom, [-lr / (1 - beta1**t) for t in steps])


__all__ = ["Adam", "AdamW", "adam_foreach", "adam_reference"]
