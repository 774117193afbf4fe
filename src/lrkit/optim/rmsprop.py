"""RMSprop, as torch.optim.RMSprop, with the textbook eps-inside-the-root form as an option."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    add_scaled_,
    foreach_add_scaled_,
    foreach_weight_decay_,
    register,
    weight_decay_,
)
from lrkit.optim.hyper import FLAG, LR, NONNEG, POSITIVE, UNIT
from lrkit.validation import Param


@register(
    "rmsprop",
    "RMSprop, centered or not, with momentum; eps outside or inside the root",
    "torch.optim.RMSprop",
)
class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), as :class:`torch.optim.RMSprop`.

    With ``g`` the gradient (Note [gradients] in ``base``)::

        g <- g + weight_decay * p
        r <- alpha * r + (1 - alpha) * g^2
        a <- alpha * a + (1 - alpha) * g                  (centered)
        d <- sqrt(r - a^2) + eps                         (centered; else sqrt(r) + eps)
        b <- momentum * b + g / d;  p <- p - lr * b      (momentum > 0; else p <- p - lr * g / d)

    ``eps_inside_sqrt=True`` takes the textbook ``d = sqrt(eps + r)`` (Goodfellow
    et al., Algorithm 8.5, with ``eps = 1e-6`` there) instead of torch's
    ``sqrt(r) + eps``. State: ``step``, ``square_avg``, ``momentum_buffer``
    (momentum > 0), ``grad_avg`` (centered).
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "alpha": UNIT,
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "momentum": NONNEG,
        "centered": FLAG,
        "maximize": FLAG,
        "eps_inside_sqrt": FLAG,
    }
    supports_complex = True

    splittable = True  # Note [cache batches]

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        eps_inside_sqrt: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
            eps_inside_sqrt=eps_inside_sqrt,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        keys: tuple[str, ...] = ("square_avg",)
        if group["momentum"] > 0:
            keys += ("momentum_buffer",)
        if group["centered"]:
            keys += ("grad_avg",)
        return keys

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        g = weight_decay_(group, p, g)
        r = buf["square_avg"]
        r.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if group["centered"]:
            a = buf["grad_avg"]
            a.lerp_(g, 1 - alpha)
            r = r.addcmul(a, a, value=-1)
        d = r.add(eps).sqrt_() if group["eps_inside_sqrt"] else r.sqrt().add_(eps)
        if group["momentum"] > 0:
            b = buf["momentum_buffer"]
            b.mul_(group["momentum"]).addcdiv_(g, d)
            add_scaled_(p, b, -lr)
        else:
            add_scaled_(p, g / d, -lr)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        grads = foreach_weight_decay_(group, params, grads)
        r = bufs["square_avg"]
        torch._foreach_mul_(r, alpha)
        torch._foreach_addcmul_(r, grads, grads, value=1 - alpha)
        if group["centered"]:
            a = bufs["grad_avg"]
            torch._foreach_lerp_(a, grads, 1 - alpha)
            r = torch._foreach_addcmul(r, a, a, value=-1)
        if group["eps_inside_sqrt"]:
            d = torch._foreach_add(r, eps)
            torch._foreach_sqrt_(d)
        else:
            d = torch._foreach_sqrt(r)
            torch._foreach_add_(d, eps)
        if group["momentum"] > 0:
            b = bufs["momentum_buffer"]
            torch._foreach_mul_(b, group["momentum"])
            torch._foreach_addcdiv_(b, grads, d)
            foreach_add_scaled_(params, b, -lr)
        elif isinstance(lr, Tensor):
            foreach_add_scaled_(params, torch._foreach_div(grads, d), -lr)
        else:
            torch._foreach_addcdiv_(params, grads, d, value=-lr)


__all__ = ["RMSprop"]
