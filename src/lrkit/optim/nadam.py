"""NAdam (Dozat, 2016) with L2 or decoupled weight decay (NAdamW), as torch.optim.NAdam."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    foreach_add_scaled_,
    foreach_square_average_,
    foreach_weight_decay_,
    register,
    weight_decay_,
)
from lrkit.optim.hyper import BETA, FLAG, LR, NONNEG, POSITIVE
from lrkit.validation import Param


@register(
    "nadam",
    "NAdam: Adam with Nesterov momentum and momentum decay (decoupled decay: NAdamW)",
    "torch.optim.NAdam",
)
class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), as :class:`torch.optim.NAdam`.

    With ``g`` the gradient (Note [gradients] in ``base``), step ``t`` and
    ``psi = momentum_decay``::

        g <- g + weight_decay * p            (L2; decoupled: p <- p * (1 - lr * weight_decay))
        mu_t     = beta1 * (1 - 0.5 * 0.96^(t * psi))
        mu_{t+1} = beta1 * (1 - 0.5 * 0.96^((t + 1) * psi))
        mu_product <- mu_product * mu_t                  (= mu_1 ... mu_t)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p <- p - lr * (1 - mu_t) / (1 - mu_product) * g / d
               - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d

    ``decoupled_weight_decay=True`` is NAdamW, the AlgoPerf baseline. State:
    ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``, as torch keeps them;
    ``mu_product`` is a 0-dim float32 tensor, multiplied in float32 as torch
    does. Unlike torch, a state dict loaded into a bf16/fp16/fp64 model keeps
    ``mu_product`` in float32 (``scalar_state``), so a resumed run is
    bit-identical to an uninterrupted one.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "betas": BETA,
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "momentum_decay": NONNEG,
        "decoupled_weight_decay": FLAG,
        "maximize": FLAG,
    }
    supports_complex = True
    scalar_state = ("mu_product",)

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
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
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = super()._init_state(p, group)
        state["mu_product"] = torch.tensor(1.0)  # float32 on the CPU, as torch's
        return state

    @staticmethod
    def _mus(group: dict[str, Any], t: float) -> tuple[float, float]:
        beta1, psi = group["betas"][0], group["momentum_decay"]
        return (
            beta1 * (1.0 - 0.5 * 0.96 ** (t * psi)),
            beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi)),
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
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        m, v, mu_product = buf["exp_avg"], buf["exp_avg_sq"], buf["mu_product"]
        g = weight_decay_(group, p, g)
        mu, mu_next = self._mus(group, step)
        mu_product.mul_(mu)
        product = float(mu_product)
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = v.div(1 - beta2**step).sqrt_().add_(eps)
        grad_coef = -lr * (1.0 - mu) / (1.0 - product)
        momentum_coef = -lr * mu_next / (1.0 - product * mu_next)
        if isinstance(lr, Tensor):
            p.add_(g / denom * grad_coef).add_(m / denom * momentum_coef)
        else:
            p.addcdiv_(g, denom, value=grad_coef)
            p.addcdiv_(m, denom, value=momentum_coef)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        m, v, products = bufs["exp_avg"], bufs["exp_avg_sq"], bufs["mu_product"]
        grads = foreach_weight_decay_(group, params, grads)
        mus = [self._mus(group, t) for t in steps]
        torch._foreach_mul_(products, [mu for mu, _ in mus])
        values = [float(x) for x in products]
        torch._foreach_lerp_(m, grads, 1 - beta1)
        foreach_square_average_(v, grads, beta2)
        denom = torch._foreach_div(v, [1 - beta2**t for t in steps])
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, eps)
        if isinstance(lr, Tensor):
            grad_coefs = [(1.0 - mu) / (1.0 - pr) for (mu, _), pr in zip(mus, values)]
            momentum_coefs = [nx / (1.0 - pr * nx) for (_, nx), pr in zip(mus, values)]
            for coefs, source in ((grad_coefs, grads), (momentum_coefs, m)):
                update = torch._foreach_div(source, denom)
                torch._foreach_mul_(update, coefs)
                foreach_add_scaled_(params, update, -lr)
            return
        # the reference's coefficients, rounded the same way
        grad_scales = [-lr * (1.0 - mu) / (1.0 - pr) for (mu, _), pr in zip(mus, values)]
        momentum_scales = [-lr * nx / (1.0 - pr * nx) for (_, nx), pr in zip(mus, values)]
        torch._foreach_addcdiv_(params, grads, denom, grad_scales)
        torch._foreach_addcdiv_(params, m, denom, momentum_scales)


__all__ = ["NAdam"]
