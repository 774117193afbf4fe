"""LAMB, as timm's ``Lamb`` (the NVIDIA FusedLAMB behaviour)."""

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
    as_float,
    foreach_add_scaled_,
    foreach_square_average_,
    register,
)
from lrkit.optim.hyper import BETA, FLAG, LR, NONNEG, POSITIVE
from lrkit.optim.layout import row_segments
from lrkit.validation import Param


def trust_ratio(w_norm: Tensor, u_norm: Tensor, clip: bool) -> Tensor:
    """``|p| / |u|``, 1 where either norm is 0; at most 1 with ``clip`` (LAMBC)."""
    one = torch.ones_like(w_norm)
    ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, one)
    return ratio.clamp(max=1.0) if clip else ratio


@register(
    "lamb", "LAMB: Adam with a layer-wise trust ratio (timm / NVIDIA FusedLAMB)", "timm.optim.Lamb"
)
class Lamb(Optimizer):
    r"""LAMB (You et al., 2020), as ``timm.optim.Lamb``.

    With ``g`` the gradient, first divided by ``max(1, ||grad||_global / max_grad_norm)``
    (timm's clipping rule, over every param group), and the group's step ``t``::

        m <- beta1 * m + (1 - beta1) * g          (grad_averaging=False: beta1 * m + g)
        v <- beta2 * v + (1 - beta2) * g^2
        u = (m / (1 - beta1^t)) / (sqrt(v) / sqrt(1 - beta2^t) + eps)   (bias_correction)
        u <- u * mask / max(mean(mask), 1e-3),  mask = [u * g > 0]      (caution)
        u <- u + weight_decay * p                 (decoupled_decay: p <- p - lr * weight_decay * p,
                                                   lr^2 / max_lr for lr with corrected_weight_decay)
        u <- u * ||p|| / ||u||                     (weight_decay != 0 or always_adapt;
                                                   1 if a norm is 0, at most 1 with trust_clip)
        p <- p - lr * u

    State: ``exp_avg``, ``exp_avg_sq``; the step counter is the group's ``step``
    (a tensor), as in timm.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "bias_correction": FLAG,
        "betas": BETA,
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "grad_averaging": FLAG,
        "trust_clip": FLAG,
        "always_adapt": FLAG,
        "caution": FLAG,
        "decoupled_decay": FLAG,
        "corrected_weight_decay": FLAG,
        "maximize": FLAG,
    }
    steps_in_state = False
    fused_kernels = True

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        bias_correction: bool = True,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
        grad_averaging: bool = True,
        max_grad_norm: float | None = 1.0,
        trust_clip: bool = False,
        always_adapt: bool = False,
        caution: bool = False,
        decoupled_decay: bool = False,
        corrected_weight_decay: bool = False,
        *,
        maximize: bool = False,
        impl: str = "auto",
        **torch_keywords: Any,
    ) -> None:
        max_lr = (
            float(lr) if isinstance(lr, (int, float, Tensor)) and not isinstance(lr, bool) else lr
        )
        if corrected_weight_decay and isinstance(max_lr, float) and max_lr <= 0:
            raise ValueError(
                f"Lamb: `lr` must be positive with corrected_weight_decay=True, got {max_lr}"
            )
        defaults = dict(
            lr=lr,
            bias_correction=bias_correction,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            grad_averaging=grad_averaging,
            max_grad_norm=max_grad_norm,
            trust_clip=trust_clip,
            always_adapt=always_adapt,
            caution=caution,
            decoupled_decay=decoupled_decay,
            corrected_weight_decay=corrected_weight_decay,
            max_lr_snapshot=max_lr,
            maximize=maximize,
        )
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _clip_rule(self, norm: Tensor, max_norm: float) -> Tensor:
        """timm's rule: divide by ``max(1, norm / max_grad_norm)`` (no 1e-6 term)."""
        coef: Tensor = 1.0 / (norm / max_norm).clamp_(min=1.0)
        return coef

    def _begin_group(self, group: dict[str, Any]) -> None:
        """timm's Lamb counts steps per group, in ``group["step"]``."""
        if "step" not in group:
            group["step"] = torch.tensor(0.0)
        group["step"].add_(1)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _corrections(self, group: dict[str, Any]) -> tuple[float, float]:
        if not group["bias_correction"]:
            return 1.0, 1.0
        t = float(group["step"])
        beta1, beta2 = group["betas"]
        return 1 - beta1**t, 1 - beta2**t

    def _decay_scale(self, group: dict[str, Any]) -> float | Tensor:
        lr = group["lr"]
        if group["corrected_weight_decay"]:
            return lr**2 / group["max_lr_snapshot"]  # type: ignore[no-any-return]
        return lr  # type: ignore[no-any-return]

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
        lr, (beta1, beta2), wd = as_float(group["lr"]), group["betas"], group["weight_decay"]
        m, v, eps, caution = bufs["exp_avg"], bufs["exp_avg_sq"], group["eps"], group["caution"]
        bc1, bc2 = self._corrections(group)
        decoupled = wd != 0 and group["decoupled_decay"]
        coupled = wd if wd != 0 and not decoupled else 0.0
        stats = k.lamb_phase1(
            params,
            grads,
            m,
            v,
            scale,
            beta1,
            beta2,
            bc1,
            math.sqrt(bc2),
            eps,
            coupled,
            group["grad_averaging"],
            caution,
        )
        # per tensor: the sums over its rows, then the reference's scalars (Note [fused cpu])
        on: dict[str, Any] = dict(dtype=torch.float64, device=stats.device)
        seg = row_segments(params, stats.device)
        cnt, uu, up, pp, ff = torch.zeros(len(params), 5, **on).index_add_(0, seg, stats).unbind(1)
        numel = torch.tensor([p.numel() for p in params], **on)
        mean = (cnt / numel).clamp(min=1e-3) if caution else torch.ones_like(cnt)
        # decoupled decay first: p <- shrink * p
        shrink = 1.0 - as_float(self._decay_scale(group)) * wd if decoupled else 1.0
        if coupled and caution:  # |u / mean + wd p|^2 expanded
            u_sq = uu / mean**2 + 2 * coupled * up / mean + coupled**2 * pp
        else:  # without caution the mean is 1 and ff is |u + wd p|^2 itself
            u_sq = ff if coupled else uu / mean**2
        ratio = torch.ones_like(cnt)
        if wd != 0 or group["always_adapt"]:
            ratio = trust_ratio(abs(shrink) * pp.sqrt(), u_sq.sqrt(), group["trust_clip"])
        d = 1 - lr * ratio * coupled if coupled else torch.full_like(cnt, shrink)
        k.lamb_phase2(
            params,
            grads,
            m,
            v,
            d.contiguous(),
            (lr * ratio / mean).contiguous(),
            scale,
            bc1,
            math.sqrt(bc2),
            eps,
            caution,
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
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        m, v = buf["exp_avg"], buf["exp_avg_sq"]
        bias_correction1, bias_correction2 = self._corrections(group)
        if group["grad_averaging"]:
            m.lerp_(g, 1 - beta1)
        else:
            m.mul_(beta1).add_(g)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
        u = (m / bias_correction1).div_(denom)
        if group["caution"]:
            mask = (u * g > 0).to(g.dtype)
            u.mul_(mask.div_(mask.mean().clamp_(min=1e-3)))
        if wd != 0:
            if group["decoupled_decay"]:
                add_scaled_(p, p, -self._decay_scale(group) * wd)
            else:
                u.add_(p, alpha=wd)
        if wd != 0 or group["always_adapt"]:
            u.mul_(trust_ratio(p.norm(2.0), u.norm(2.0), group["trust_clip"]))
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
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        bias_correction1, bias_correction2 = self._corrections(group)
        if group["grad_averaging"]:
            torch._foreach_lerp_(m, grads, 1 - beta1)
        else:
            torch._foreach_mul_(m, beta1)
            torch._foreach_add_(m, grads)
        foreach_square_average_(v, grads, beta2)
        # Note [lamb scale]: u = c * m / (sqrt(v) + eps sqrt(bc2)) with c = sqrt(bc2) / bc1 is
        # the reference's (m / bc1) / (sqrt(v) / sqrt(bc2) + eps); the foreach path keeps
        # u / c and folds c into the weight decay, the norms and the last scale (two passes
        # fewer than dividing by each correction)
        c = math.sqrt(bias_correction2) / bias_correction1
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, group["eps"] * math.sqrt(bias_correction2))
        adapt = wd != 0 or group["always_adapt"]
        coupled = wd != 0 and not group["decoupled_decay"]
        if wd != 0 and group["decoupled_decay"]:
            foreach_add_scaled_(params, params, -self._decay_scale(group) * wd)
        if not (adapt or group["caution"] or isinstance(lr, Tensor)):
            torch._foreach_addcdiv_(params, m, denom, value=-lr * c)  # no u needed
            return
        u = torch._foreach_div(m, denom)
        if group["caution"]:
            for ui, gi in zip(u, grads, strict=True):
                mask = (ui * gi > 0).to(gi.dtype)
                ui.mul_(mask.div_(mask.mean().clamp_(min=1e-3)))
        if coupled:
            torch._foreach_add_(u, params, alpha=wd / c)
        scale: float | list[Tensor] = c
        if adapt:
            ratios = trust_ratio(
                torch.stack(torch._foreach_norm(params)),
                torch.stack(torch._foreach_norm(u)) * c,
                group["trust_clip"],
            )
            scale = list((ratios * c).unbind())
        if params[0].device.type == "cpu" and not isinstance(lr, Tensor):
            # reading a CPU scalar costs no sync: scale and add in one pass per tensor
            factors = [c] * len(params) if isinstance(scale, float) else [float(r) for r in scale]
            for p, ui, f in zip(params, u, factors, strict=True):
                p.add_(ui, alpha=-lr * f)
            return
        torch._foreach_mul_(u, scale)
        foreach_add_scaled_(params, u, -lr)


__all__ = ["Lamb", "trust_ratio"]
