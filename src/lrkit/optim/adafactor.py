"""Adafactor (Shazeer & Stern, 2018) with factored second moments, as torch.optim.Adafactor."""

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
    as_float,
    register,
)
from lrkit.optim.hyper import FLAG, LR, NONNEG
from lrkit.optim.layout import PLAIN
from lrkit.validation import Param


@register(
    "adafactor",
    "Adafactor: factored second moments (row and column averages), relative step sizes",
    "torch.optim.Adafactor",
)
class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, 2018), as :class:`torch.optim.Adafactor`.

    With ``g`` the gradient (Note [gradients] in ``base``), step ``t``,
    ``eps = (eps1, eps2)`` (``eps1`` None: the dtype's machine epsilon) and a
    parameter of ``n`` elements::

        beta2_t = 1 - t^beta2_decay
        rho = min(lr, 1 / sqrt(t))
        alpha = max(eps2, |p| / sqrt(n)) * rho            (|p| before the decay)
        p <- p * (1 - lr * weight_decay)
        2-D and more (the last two dims factored):
            R <- beta2_t * R + (1 - beta2_t) * mean(g^2, dim=-1)
            C <- beta2_t * C + (1 - beta2_t) * mean(g^2, dim=-2)
            v = R C / max(mean(R, dim=-2), eps1)
        otherwise:
            v <- beta2_t * v + (1 - beta2_t) * g^2
        u = g / sqrt(max(v, eps1^2))
        p <- p - alpha / max(1, |u| / (sqrt(n) * d)) * u

    State: ``step``, and ``row_var`` and ``col_var`` (the shapes of ``p`` with
    the last, resp. second-to-last, dim 1) for a parameter of 2 or more
    dims, else ``variance``, as torch keeps them. The per-tensor norms make
    every step read them on the host, as torch's does.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "beta2_decay": Param("float", hi=0.0),
        "d": Param("float", lo=1.0),
        "weight_decay": NONNEG,
        "maximize": FLAG,
    }

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
            maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _check_combination(self, group: dict[str, Any]) -> None:
        eps = group.get("eps")
        if eps is None:
            return
        if isinstance(eps, (str, bytes, Tensor)) or not isinstance(eps, (tuple, list)):
            raise TypeError(f"Adafactor: `eps` must be a pair (eps1 or None, eps2), got {eps!r}")
        if len(eps) != 2:
            raise ValueError(f"Adafactor: `eps` must be a pair (eps1 or None, eps2), got {eps!r}")
        first = eps[0]
        for name, value in (("eps[0]", first), ("eps[1]", eps[1])):
            if value is None and name == "eps[0]":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Adafactor: `{name}` must be a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Adafactor: `{name}` must be a non-negative number, got {value}")
        group["eps"] = (None if first is None else float(first), float(eps[1]))

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("row_var", "col_var", "variance")

    def _buffer_shapes(self, group: dict[str, Any], p: Tensor) -> dict[str, torch.Size]:
        if p.dim() > 1:
            return {
                "row_var": torch.Size([*p.shape[:-1], 1]),
                "col_var": torch.Size([*p.shape[:-2], 1, p.shape[-1]]),
            }
        return {"variance": p.shape}

    @staticmethod
    def _coefficients(group: dict[str, Any], p: Tensor, t: float) -> tuple[float, float, float]:
        """``1 - beta2_t``, the relative step ``alpha`` (read before the decay) and ``eps1``."""
        lr = as_float(group["lr"])
        eps1, eps2 = group["eps"]
        rho = min(lr, 1 / (t**0.5))
        alpha = max(eps2, _norm(p) / (p.numel() ** 0.5)) * rho
        eps1 = torch.finfo(p.dtype).eps if eps1 is None else eps1
        return t ** group["beta2_decay"], alpha, eps1

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        lr, wd = as_float(group["lr"]), group["weight_decay"]
        one_minus_beta2, alpha, eps1 = self._coefficients(group, p, step)
        if wd != 0:
            p.mul_(1 - lr * wd)
        if g.dim() > 1:
            row, col = buf["row_var"], buf["col_var"]
            # out of place on the reductions: under FSDP2 they are partial DTensors
            row.lerp_(torch.linalg.vector_norm(g, dim=-1, keepdim=True).square().div(g.size(-1)),
                      one_minus_beta2)  # fmt: skip
            col.lerp_(torch.linalg.vector_norm(g, dim=-2, keepdim=True).square().div(g.size(-2)),
                      one_minus_beta2)  # fmt: skip
            v = row @ col
            v.div_(row.mean(dim=-2, keepdim=True).clamp(min=eps1))
        else:
            variance = buf["variance"]
            variance.lerp_(g * g, one_minus_beta2)
            v = variance.clone()
        u = v.clamp_(min=eps1 * eps1).rsqrt_().mul_(g)
        denom = max(1.0, _norm(u) / ((u.numel() ** 0.5) * group["d"]))
        p.add_(u, alpha=-alpha / denom)

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        lr, wd = as_float(group["lr"]), group["weight_decay"]
        coefs = [self._coefficients(group, p, t) for p, t in zip(params, steps)]
        if wd != 0:
            torch._foreach_mul_(params, 1 - lr * wd)
        for factored in (True, False):
            idx = [i for i, g in enumerate(grads) if (g.dim() > 1) == factored]
            if not idx:
                continue
            gs = [grads[i] for i in idx]
            decay = [coefs[i][0] for i in idx]
            if factored:
                # g^2 once, summed along each dim (a norm along a dim of 3 costs ~10x as
                # much); R / mean(R) before the outer product, which has more elements
                rows = [bufs["row_var"][i] for i in idx]
                cols = [bufs["col_var"][i] for i in idx]
                squares = torch._foreach_mul(gs, gs)
                for dim, moments in ((-1, rows), (-2, cols)):  # out of place (FSDP2's partials)
                    sums = [sq.sum(dim=dim, keepdim=True) for sq in squares]
                    means = torch._foreach_div(sums, [float(g.size(dim)) for g in gs])
                    torch._foreach_lerp_(moments, means, decay)
                row_means = [
                    r.mean(dim=-2, keepdim=True).clamp(min=coefs[i][2]) for r, i in zip(rows, idx)
                ]
                vs = [(r / m) * c for r, m, c in zip(rows, row_means, cols)]
            else:
                variances = [bufs["variance"][i] for i in idx]
                torch._foreach_lerp_(variances, torch._foreach_mul(gs, gs), decay)
                vs = [v.clone() for v in variances]
            for v, i in zip(vs, idx):
                v.clamp_(min=coefs[i][2] * coefs[i][2])
            torch._foreach_rsqrt_(vs)
            torch._foreach_mul_(vs, gs)
            params_in = [params[i] for i in idx]
            scales = [
                -coefs[i][1] / max(1.0, _norm(u) / ((u.numel() ** 0.5) * group["d"]))
                for u, i in zip(vs, idx)
            ]
            torch._foreach_mul_(vs, scales)
            torch._foreach_add_(params_in, vs)


def _norm(t: Tensor) -> float:
    """``|t|_2`` over the whole tensor, as a float. Under FSDP2 the norm of a sharded
    parameter is a per-rank partial DTensor until it is made whole: its ``.item()``
    would read this rank's part alone."""
    norm = torch.linalg.vector_norm(t)
    return float(norm if type(norm) in PLAIN else norm.full_tensor())


__all__ = ["Adafactor"]
