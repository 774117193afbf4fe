"""SGD with momentum: torch's formulation, and the two textbook forms."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.optim.sgd import sgd as torch_sgd

from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    add_scaled_,
    foreach_add_scaled_,
    foreach_weight_decay_,
    grads_of,
    register,
    weight_decay_,
)
from lrkit.optim.hyper import FLAG, LR, NONNEG
from lrkit.validation import Param

FORMS = ("torch", "classical", "dampened")


@register("sgd", "SGD with momentum, dampening, Nesterov and L2 weight decay", "torch.optim.SGD")
class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum.

    With ``g = grad + weight_decay * p`` (Note [gradients] in ``base``),
    ``mu = momentum``, ``d = dampening``, ``momentum_form`` picks the update:

    ``"torch"`` (default, as :class:`torch.optim.SGD`, state dicts interoperate)::

        b <- mu * b + (1 - d) * g        (b <- g on the first step)
        p <- p - lr * b                  (Nesterov: p <- p - lr * (g + mu * b))

    ``"classical"`` (the velocity form of the course notes; Sutskever et al. 2013)::

        v <- mu * v - lr * g
        p <- p + v                       (Nesterov: p <- p + mu * v - lr * g)

    ``"dampened"`` (an exponential moving average of the step)::

        v <- mu * v - (1 - mu) * lr * g
        p <- p + v                       (Nesterov: p <- p + mu * v - (1 - mu) * lr * g)

    The three agree while the lr is constant (up to the factor ``1 - mu`` of
    the dampened form); when the lr changes, the torch form applies the new lr
    to the whole buffer at once, the textbook forms only to new gradients.
    The textbook forms keep ``v`` under ``state["velocity"]`` and take no
    ``dampening``.

    ``impl="auto"`` runs torch's own fused/foreach SGD kernels for the torch
    form without ``max_grad_norm``; ``"foreach"`` and ``"reference"`` run
    lrkit's code.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "momentum": NONNEG,
        "dampening": Param("float", lo=0.0, hi=1.0),
        "weight_decay": NONNEG,
        "nesterov": FLAG,
        "maximize": FLAG,
        "momentum_form": Param("str", choices=FORMS),
    }
    steps_in_state = False
    supports_complex = True
    lazy_buffers = True  # torch.optim.SGD makes the momentum buffer on first use

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        momentum_form: str = "torch",
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
            maximize=maximize,
            momentum_form=momentum_form,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _check_combination(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        if group.get("nesterov") and (
            group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0
        ):
            raise ValueError(
                f"{name}: `nesterov=True` needs `momentum` > 0 and `dampening` = 0, "
                f"got momentum={group.get('momentum')}, dampening={group.get('dampening')}"
            )
        if group.get("momentum_form", "torch") != "torch" and group.get("dampening", 0) != 0:
            raise ValueError(
                f"{name}: `dampening` belongs to momentum_form='torch' "
                f"(the {group['momentum_form']!r} form fixes it), got {group['dampening']}"
            )

    def _key(self, group: dict[str, Any]) -> str:
        return "momentum_buffer" if group["momentum_form"] == "torch" else "velocity"

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return () if group["momentum"] == 0 else (self._key(group),)

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        lr, mu = group["lr"], group["momentum"]
        g = weight_decay_(group, p, g)
        if mu == 0:
            add_scaled_(p, g, -lr)
            return
        form = group["momentum_form"]
        if form == "torch":
            b = buf["momentum_buffer"]
            first = id(p) in ctx.fresh
            b.mul_(mu).add_(g, alpha=1.0 if first else 1 - group["dampening"])
            add_scaled_(p, g.add(b, alpha=mu) if group["nesterov"] else b, -lr)
            return
        v = buf["velocity"]
        scale = -lr if form == "classical" else -lr * (1 - mu)
        v.mul_(mu)
        add_scaled_(v, g, scale)
        if group["nesterov"]:
            p.add_(v, alpha=mu)
            add_scaled_(p, g, scale)
        else:
            p.add_(v)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, mu = group["lr"], group["momentum"]
        grads = foreach_weight_decay_(group, params, grads)
        if mu == 0:
            foreach_add_scaled_(params, grads, -lr)
            return
        form = group["momentum_form"]
        if form == "torch":
            b = bufs["momentum_buffer"]
            torch._foreach_mul_(b, mu)
            if group["dampening"]:  # torch's first step takes the gradient undampened
                first = [1.0 if id(p) in ctx.fresh else 1 - group["dampening"] for p in params]
                torch._foreach_add_(b, torch._foreach_mul(grads, first))
            else:
                torch._foreach_add_(b, grads)
            step = torch._foreach_add(grads, b, alpha=mu) if group["nesterov"] else b
            foreach_add_scaled_(params, step, -lr)
            return
        v = bufs["velocity"]
        scale = -lr if form == "classical" else -lr * (1 - mu)
        torch._foreach_mul_(v, mu)
        foreach_add_scaled_(v, grads, scale)
        if group["nesterov"]:
            torch._foreach_add_(params, v, alpha=mu)
            foreach_add_scaled_(params, grads, scale)
        else:
            torch._foreach_add_(params, v)

    def _torch_kernel(self, group: dict[str, Any]) -> bool:
        return group["momentum_form"] == "torch"  # type: ignore[no-any-return]

    def _torch_step(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        states: list[dict[str, Any]],
        ctx: StepContext,
    ) -> None:
        bufs: list[Tensor | None] = [
            None if id(p) in ctx.fresh else s.get("momentum_buffer")
            for p, s in zip(params, states, strict=True)
        ]
        grads = grads_of(params)
        torch_sgd(
            params,
            grads,
            bufs,
            fused=True,
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            lr=group["lr"],
            dampening=group["dampening"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        if group["momentum"] != 0:
            for s, b in zip(states, bufs, strict=True):
                s["momentum_buffer"] = b


__all__ = ["FORMS", "SGD"]
