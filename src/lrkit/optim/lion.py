"""Lion (Chen et al., 2023), as ``lion-pytorch``."""

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
    register,
)
from lrkit.optim.hyper import FLAG, LR, NONNEG, UNIT
from lrkit.validation import Param


@register(
    "lion",
    "Lion: the sign of an interpolated momentum (EvoLved Sign Momentum)",
    "lion_pytorch.Lion",
)
class Lion(Optimizer):
    r"""Lion (Chen et al., 2023), as ``lion_pytorch.Lion``.

    The reference path writes the interpolations as ``beta * m + (1 - beta) * g``
    with lion-pytorch's rounding: the update is a sign, and a value that rounds
    to the other side of 0 moves a weight by ``2 lr``. The foreach path uses
    ``lerp`` (one pass instead of two), which can differ in the last bit, so an
    element whose interpolation is within an ulp of 0 may take the other sign.

    With ``g`` the gradient (Note [gradients] in ``base``)::

        p <- p * (1 - lr * weight_decay)
        p <- p - lr * sign(beta1 * m + (1 - beta1) * g)
        m <- beta2 * m + (1 - beta2) * g

    ``decoupled_weight_decay=True`` divides ``weight_decay`` by the constructor's
    ``lr`` (so the decay per step is ``lr / lr_0 * weight_decay``), as
    lion-pytorch does. State: ``exp_avg``.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "betas": UNIT,
        "weight_decay": NONNEG,
        "maximize": FLAG,
        "decoupled_weight_decay": FLAG,
    }
    steps_in_state = False

    splittable = True  # Note [cache batches]

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            weight_decay=weight_decay,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)
        lr0 = float(self.defaults["lr"])
        if decoupled_weight_decay and lr0 <= 0:
            raise ValueError(
                "Lion: `lr` must be positive with decoupled_weight_decay=True, got 0.0"
            )
        self._init_lr = lr0

    def _weight_decay(self, group: dict[str, Any]) -> float:
        wd: float = group["weight_decay"]
        return wd / self._init_lr if group["decoupled_weight_decay"] else wd

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg",)

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        lr, (beta1, beta2), wd = group["lr"], group["betas"], self._weight_decay(group)
        m = buf["exp_avg"]
        p.mul_(1 - lr * wd)
        add_scaled_(p, m.mul(beta1).add_(g, alpha=1 - beta1).sign_(), -lr)
        m.mul_(beta2).add_(g, alpha=1 - beta2)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, (beta1, beta2), wd = group["lr"], group["betas"], self._weight_decay(group)
        m = bufs["exp_avg"]
        if wd != 0:
            torch._foreach_mul_(params, 1 - lr * wd)
        update = torch._foreach_lerp(m, grads, 1 - beta1)  # one pass; see the class docstring
        torch._foreach_sign_(update)
        foreach_add_scaled_(params, update, -lr)
        torch._foreach_lerp_(m, grads, 1 - beta2)


__all__ = ["Lion"]
