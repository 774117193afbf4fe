"""RAdam: torch's variant, and the paper's official one."""

from __future__ import annotations

import math
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
    foreach_square_average_,
    foreach_weight_decay_,
    register,
    weight_decay_,
)
from lrkit.optim.hyper import BETA, FLAG, LR, NONNEG, POSITIVE
from lrkit.validation import Param

VARIANTS = ("torch", "official")


@register(
    "radam", "Rectified Adam, torch's variant or the paper's official code", "torch.optim.RAdam"
)
class RAdam(Optimizer):
    r"""Rectified Adam (Liu et al., 2020).

    With ``g`` the gradient (Note [gradients] in ``base``), step ``t``,
    ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``::

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p <- p - lr * r_t * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)   (rectified)
        p <- p - lr / (1 - beta1^t) * m                                                (otherwise)

    ``variant="torch"`` (default) is :class:`torch.optim.RAdam`: rectified when
    ``rho_t > 5``, weight decay as L2 (``g <- g + weight_decay * p``) or, with
    ``decoupled_weight_decay``, ``p <- p * (1 - lr * weight_decay)``.

    ``variant="official"`` is the authors' code (``LiyuanLucasLiu/RAdam``, also
    timm's and torch_optimizer's ``RAdam``): rectified when ``rho_t >= 5``, weight
    decay ``p <- p - lr * weight_decay * p`` applied only on steps that move, and
    before the threshold the un-rectified momentum step above when
    ``degenerated_to_sgd`` (default) or no step at all when not.

    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "betas": BETA,
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "decoupled_weight_decay": FLAG,
        "maximize": FLAG,
        "variant": Param("str", choices=VARIANTS),
        "degenerated_to_sgd": FLAG,
    }

    splittable = True  # Note [cache batches]

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool | None = None,
        *,
        maximize: bool = False,
        variant: str = "torch",
        degenerated_to_sgd: bool = True,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        if decoupled_weight_decay is None:  # each variant's own: the official one decouples
            decoupled_weight_decay = variant == "official"
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            variant=variant,
            degenerated_to_sgd=degenerated_to_sgd,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _check_combination(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        if group.get("variant") == "official" and group.get("decoupled_weight_decay") is False:
            raise ValueError(
                f"{name}: `decoupled_weight_decay=False` is an option of variant='torch'; "
                "the official variant's weight decay is always decoupled"
            )
        if group.get("variant") == "torch" and group.get("degenerated_to_sgd") is False:
            raise ValueError(
                f"{name}: `degenerated_to_sgd=False` is an option of variant='official'; "
                "torch's variant always takes the un-rectified step"
            )

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    @staticmethod
    def _coefficients(group: dict[str, Any], t: float) -> tuple[bool, float]:
        """(rectified?, lr factor): ``r_t sqrt(1-beta2^t)/(1-beta1^t)``, ``1/(1-beta1^t)`` or 0."""
        beta1, beta2 = group["betas"]
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        official = group["variant"] == "official"
        if rho_t >= 5 if official else rho_t > 5:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            return True, rect * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        if official and not group["degenerated_to_sgd"]:
            return False, 0.0
        return False, 1 / (1 - beta1**t)

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
        rectified, factor = self._coefficients(group, step)
        official = group["variant"] == "official"
        if not official:
            g = weight_decay_(group, p, g)
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if factor == 0.0:
            return
        if wd != 0 and official:
            p.mul_(1 - lr * wd)
        add_scaled_(p, m / v.sqrt().add_(eps) if rectified else m, -lr * factor)

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
        official = group["variant"] == "official"
        if not official:
            grads = foreach_weight_decay_(group, params, grads)
        torch._foreach_lerp_(m, grads, 1 - beta1)
        foreach_square_average_(v, grads, beta2)
        coefs = [self._coefficients(group, t) for t in steps]
        for rectified in (True, False):  # params usually share one step count: one pass
            idx = [i for i, (r, f) in enumerate(coefs) if r is rectified and f != 0.0]
            if not idx:
                continue
            p_ = [params[i] for i in idx]
            if wd != 0 and official:
                torch._foreach_mul_(p_, 1 - lr * wd)
            m_ = [m[i] for i in idx]
            factors = [coefs[i][1] for i in idx]
            if not rectified:
                foreach_add_scaled_(p_, torch._foreach_mul(m_, factors), -lr)
                continue
            denom = torch._foreach_sqrt([v[i] for i in idx])
            torch._foreach_add_(denom, eps)
            if isinstance(lr, Tensor):
                update = torch._foreach_div(m_, denom)
                torch._foreach_mul_(update, factors)
                foreach_add_scaled_(p_, update, -lr)
            else:
                torch._foreach_addcdiv_(p_, m_, denom, [-lr * f for f in factors])


__all__ = ["VARIANTS", "RAdam"]
