"""Adagrad, as torch.optim.Adagrad."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.optim.adagrad import adagrad as torch_adagrad

from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    foreach_add_scaled_,
    foreach_weight_decay_,
    grads_of,
    register,
    weight_decay_,
)
from lrkit.optim.hyper import FLAG, LR, NONNEG, POSITIVE
from lrkit.validation import Param


@register(
    "adagrad",
    "Adagrad with initial accumulator, lr decay and L2 weight decay",
    "torch.optim.Adagrad",
)
class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), as :class:`torch.optim.Adagrad`.

    With ``g`` the gradient (Note [gradients] in ``base``) and step ``t``::

        g <- g + weight_decay * p
        s <- s + g^2                    (s starts at initial_accumulator_value)
        p <- p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    State: ``step`` and ``sum``. Sparse gradients are rejected (torch's
    sparse path is not reproduced). ``impl="auto"`` runs torch's fused CPU
    kernel (or its foreach kernel elsewhere) when ``max_grad_norm`` is unset.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "lr_decay": NONNEG,
        "weight_decay": NONNEG,
        "initial_accumulator_value": NONNEG,
        "eps": POSITIVE,
        "maximize": FLAG,
    }
    supports_complex = True

    splittable = True  # Note [cache batches]

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        init = group["initial_accumulator_value"]
        value = complex(init, init) if p.is_complex() else init
        state = super()._init_state(p, group)
        state["sum"].fill_(value)
        return state

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("sum",)

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        lr, s = group["lr"], buf["sum"]
        g = weight_decay_(group, p, g)
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        s.addcmul_(g, g, value=1)
        std = s.sqrt().add_(group["eps"])
        if isinstance(clr, Tensor):
            p.sub_(g / std * clr)
        else:
            p.addcdiv_(g, std, value=-clr)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, s = group["lr"], bufs["sum"]
        grads = foreach_weight_decay_(group, params, grads)
        torch._foreach_addcmul_(s, grads, grads, value=1)
        std = torch._foreach_sqrt(s)
        torch._foreach_add_(std, group["eps"])
        decay = [1 / (1 + (t - 1) * group["lr_decay"]) for t in steps]
        if isinstance(lr, Tensor):
            update = torch._foreach_div(grads, std)
            torch._foreach_mul_(update, decay)
            foreach_add_scaled_(params, update, -lr)
        else:
            torch._foreach_addcdiv_(params, grads, std, [-lr * d for d in decay])

    def _torch_kernel(self, group: dict[str, Any]) -> bool:
        return True

    def _torch_step(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        states: list[dict[str, Any]],
        ctx: StepContext,
    ) -> None:
        torch_adagrad(
            params,
            grads_of(params),
            [s["sum"] for s in states],
            [s["step"] for s in states],
            fused=True,
            lr=group["lr"],
            weight_decay=group["weight_decay"],
            lr_decay=group["lr_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )


__all__ = ["Adagrad"]
