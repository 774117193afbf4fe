"""Schedule-free AdamW and SGD (Defazio et al., 2024), as the ``schedulefree`` package."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    as_float,
    foreach_square_average_,
    foreach_weight_decay_,
    register,
    weight_decay_,
)
from lrkit.optim.hyper import FLAG, LR, NONNEG, POSITIVE
from lrkit.validation import Param

# Note [schedule-free bookkeeping]: the per-group counters (``k``, ``weight_sum``,
# ``lr_max``, ``scheduled_lr``) and the mode (``train_mode``) live in the param
# groups under the package's keys, so they travel with the state dict. The
# parameters hold y (the gradient point) in train mode and x (the average, the
# point to evaluate) in eval mode; ``train()`` and ``eval()`` move between them
# and do nothing when already in that mode. A tensor ``lr`` is read as a number
# each step, since the bookkeeping is host-side as in the reference.


class _ScheduleFree(Optimizer):
    steps_in_state = False
    splittable = True  # Note [cache batches]

    def _beta(self, group: dict[str, Any]) -> float:
        raise NotImplementedError

    @torch.no_grad()
    def train(self) -> None:
        """Put the parameters at y, where gradients are taken (no-op in train mode)."""
        self._switch(True)

    @torch.no_grad()
    def eval(self) -> None:
        """Put the parameters at x, the averaged point to evaluate and save (no-op in eval mode)."""
        self._switch(False)

    def _switch(self, train: bool) -> None:
        for group in self.param_groups:
            if group["train_mode"] == train:
                continue
            beta = self._beta(group)
            weight = 1 - beta if train else 1 - 1 / beta
            for p in group["params"]:
                z = self.state.get(p, {}).get("z")  # .get: leave params never stepped out of state
                if z is not None:
                    p.lerp_(z.to(p.device), weight)
            group["train_mode"] = train

    def step(self, closure: Any = None) -> Any:
        if not all(group["train_mode"] for group in self.param_groups):
            raise RuntimeError(
                f"{type(self).__name__}: step() needs train mode; call optimizer.train() before "
                "training and optimizer.eval() before evaluating or saving"
            )
        return super().step(closure)

    def _begin_group(self, group: dict[str, Any]) -> tuple[float, float]:
        """This step's lr (after warmup) and averaging weight ``c_{k+1}``: ``ctx.now``."""
        k = group["k"]
        warmup = group["warmup_steps"]
        lr = as_float(group["lr"]) * ((k + 1) / warmup if k < warmup else 1.0)
        group["scheduled_lr"] = lr
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        weight = (k + 1) ** group["r"] * lr_max ** group["weight_lr_power"]
        weight_sum = group["weight_sum"] = group["weight_sum"] + weight
        return lr, weight / weight_sum if weight_sum != 0 else 0.0

    def _end_group(self, group: dict[str, Any]) -> None:
        group["k"] += 1

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"z": torch.clone(p, memory_format=torch.preserve_format).detach()}

    def _normalize(self, group: dict[str, Any], g: Tensor, buf: dict[str, Tensor]) -> Tensor:
        return g

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        lr, ckp1 = ctx.now
        y, z = p, buf["z"]
        g = self._normalize(group, g, buf)
        g = weight_decay_(group, y, g)
        y.lerp_(z, ckp1)
        y.add_(g, alpha=lr * (self._beta(group) * (1 - ckp1) - 1))
        z.sub_(g, alpha=lr)

    def _foreach_normalize(
        self, group: dict[str, Any], grads: TensorList, bufs: Buffers
    ) -> TensorList:
        return grads

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, ckp1 = ctx.now
        z = bufs["z"]
        grads = self._foreach_normalize(group, grads, bufs)
        grads = foreach_weight_decay_(group, params, grads)
        torch._foreach_lerp_(params, z, ckp1)
        torch._foreach_add_(params, grads, alpha=lr * (self._beta(group) * (1 - ckp1) - 1))
        torch._foreach_sub_(z, grads, alpha=lr)


_BOOKKEEPING = dict(k=0, train_mode=False, weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0)


@register(
    "adamw_schedulefree",
    "Schedule-free AdamW: no lr schedule needed; train()/eval()",
    "schedulefree.AdamWScheduleFree",
)
class AdamWScheduleFree(_ScheduleFree):
    r"""Schedule-free AdamW, as ``schedulefree.AdamWScheduleFree``.

    With ``g`` the gradient at y (Note [gradients] in ``base``), ``k`` the
    group's step, ``lr_k = lr * min(1, (k + 1) / warmup_steps)``,
    ``c = w_k / sum(w)`` with ``w_k = (k + 1)^r * max(lr_0..k)^weight_lr_power``::

        v <- beta2 * v + (1 - beta2) * g^2
        g <- g / (sqrt(v / (1 - beta2^(k+1))) + eps) + weight_decay * y
        y <- (1 - c) * y + c * z + lr_k * (beta1 * (1 - c) - 1) * g
        z <- z - lr_k * g

    which keeps ``y = (1 - beta1) z + beta1 x`` for the average ``x``; call
    ``train()``/``eval()`` (Note [schedule-free bookkeeping]). State: ``z``,
    ``exp_avg_sq``. Unlike the package, ``p.grad`` is left unchanged.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "betas": Param("float", lo=0.0, hi=1.0, lo_open=True, hi_open=True),
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "warmup_steps": Param("int", lo=0),
        "r": NONNEG,
        "weight_lr_power": NONNEG,
        "maximize": FLAG,
        "train_mode": FLAG,
    }

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
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
            r=r,
            warmup_steps=warmup_steps,
            weight_lr_power=weight_lr_power,
            weight_decay=weight_decay,
            maximize=maximize,
            **_BOOKKEEPING,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _beta(self, group: dict[str, Any]) -> float:
        return group["betas"][0]  # type: ignore[no-any-return]

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            **super()._init_state(p, group),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("z", "exp_avg_sq")

    def _normalize(self, group: dict[str, Any], g: Tensor, buf: dict[str, Tensor]) -> Tensor:
        beta2 = group["betas"][1]
        v = buf["exp_avg_sq"]
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        return g / v.div(1 - beta2 ** (group["k"] + 1)).sqrt_().add_(group["eps"])

    def _foreach_normalize(
        self, group: dict[str, Any], grads: TensorList, bufs: Buffers
    ) -> TensorList:
        beta2 = group["betas"][1]
        v = bufs["exp_avg_sq"]
        foreach_square_average_(v, grads, beta2)
        denom = torch._foreach_div(v, 1 - beta2 ** (group["k"] + 1))
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, group["eps"])
        return torch._foreach_div(grads, denom)


@register(
    "sgd_schedulefree",
    "Schedule-free SGD: no lr schedule needed; train()/eval()",
    "schedulefree.SGDScheduleFree",
)
class SGDScheduleFree(_ScheduleFree):
    r"""Schedule-free SGD, as ``schedulefree.SGDScheduleFree``.

    As :class:`AdamWScheduleFree` with ``beta1 = momentum`` and no
    normalisation: ``g <- g + weight_decay * y``, then the same y and z
    updates. State: ``z``.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "momentum": Param("float", lo=0.0, hi=1.0, lo_open=True, hi_open=True),
        "weight_decay": NONNEG,
        "warmup_steps": Param("int", lo=0),
        "r": NONNEG,
        "weight_lr_power": NONNEG,
        "maximize": FLAG,
        "train_mode": FLAG,
    }

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            r=r,
            warmup_steps=warmup_steps,
            weight_lr_power=weight_lr_power,
            weight_decay=weight_decay,
            maximize=maximize,
            **_BOOKKEEPING,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _beta(self, group: dict[str, Any]) -> float:
        return group["momentum"]  # type: ignore[no-any-return]

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("z",)


__all__ = ["AdamWScheduleFree", "SGDScheduleFree"]
