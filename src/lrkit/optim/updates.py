"""The arithmetic the algorithms share: gradients (Note [gradients] in ``base``),
scaled adds, weight decay, moment updates, for one tensor and for lists.

A leaf module: the algorithms import these from ``lrkit.optim.base``, which
re-exports them beside the class they subclass.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor

from lrkit.optim import layout
from lrkit.optim.layout import TensorList


def grads_of(params: list[Tensor]) -> list[Tensor]:
    """The ``.grad`` of params known to have one."""
    return [cast(Tensor, p.grad) for p in params]


def global_norm(grads: TensorList) -> Tensor:
    """The 2-norm of all ``grads`` together, on the first one's device."""
    by_device: dict[torch.device, list[Tensor]] = {}
    for g in grads:
        by_device.setdefault(g.device, []).append(g)
    device = grads[0].device
    norms = [n.to(device) for gs in by_device.values() for n in torch._foreach_norm(gs, 2.0)]
    total: Tensor = torch.linalg.vector_norm(torch.stack(norms), 2.0)
    return total


def prepare_grad(grad: Tensor, maximize: bool, coef: Tensor | None) -> Tensor:
    """The ``g`` of Note [gradients] for one tensor (a new tensor when it differs), in the
    gradient's dtype: the coefficient (float32 under GradScaler) is cast to it, as type
    promotion casts it for a tensor of any other shape, so a 0-d half-precision ``g``
    stays in its dtype."""
    if coef is not None:
        c = coef.to(grad.device, grad.dtype)
        return grad * (-c if maximize else c)
    return -grad if maximize else grad


def prepare_grads(grads: TensorList, maximize: bool, coef: Tensor | None) -> TensorList:
    """:func:`prepare_grad` for a list of tensors on one device."""
    if coef is not None:  # one device and dtype; cast as in prepare_grad
        c = coef.to(grads[0].device, grads[0].dtype)
        return torch._foreach_mul(grads, -c if maximize else c)
    return torch._foreach_neg(grads) if maximize else grads


def add_scaled_(p: Tensor, x: Tensor, scale: float | Tensor) -> None:
    """``p += scale * x`` for a float or tensor ``scale``."""
    if isinstance(scale, Tensor):
        p.add_(x * scale)
    else:
        p.add_(x, alpha=scale)


def foreach_add_scaled_(params: TensorList, xs: TensorList, scale: float | Tensor) -> None:
    """``p += scale * x`` for lists, with a float or tensor ``scale``."""
    if isinstance(scale, Tensor):
        torch._foreach_add_(params, torch._foreach_mul(xs, scale.to(params[0].device)))
    else:
        torch._foreach_add_(params, xs, alpha=scale)


def axpby_(y: Tensor, x: Tensor, a: float, b: float, one: Tensor | None = None) -> None:
    """``y <- a * y + b * x`` in place, in one pass over memory where it can.

    ``mul_`` then ``add_`` streams ``y`` twice. ``addr_`` computes ``beta * self +
    alpha * vec1 * vec2`` elementwise, so with ``self`` a column view of a contiguous
    ``y``, ``vec1 = x`` flat and ``vec2 = [1]`` it is this update in one pass (3 reads
    and writes per element instead of 5), with the same two products and one sum (a
    fused multiply-add may round the last bit apart). ``a == 0`` keeps ``mul_``'s
    NaN propagation, which ``addr_`` skips at ``beta=0``; with ``b == 1`` too (SGD-like
    steps to a target: D-Adaptation SGD without momentum) it is ``x + 0 * y`` in one
    ``add`` (``0 * y`` is exact, so the same bits and NaNs as ``mul_`` then ``add_``).
    ``one``: a reusable ``[1]``.
    """
    if a == 0 and b == 1 and x.shape == y.shape and x.dtype == y.dtype:
        torch.add(x, y, alpha=0, out=y)
        return
    if a == 0 or not y.is_contiguous() or y.numel() != x.numel() or y.dtype != x.dtype:
        y.mul_(a).add_(x, alpha=b)
        return
    if one is None or one.dtype != y.dtype or one.device != y.device:
        one = y.new_ones(1)
    y.view(-1, 1).addr_(x.reshape(-1), one, beta=a, alpha=b)


def foreach_axpby_(ys: TensorList, xs: TensorList, a: float, b: float) -> None:
    """:func:`axpby_` for lists: per tensor on the CPU for tensors of at least
    ``SMALL`` elements, where each op runs in turn anyway; the two foreach ops for the
    smaller ones (Note [small tensors] in ``layout``) and on other devices (one launch
    each on a GPU, not one per tensor)."""
    if not ys:
        return
    cpu = ys[0].device.type == "cpu"
    large = [cpu and y.numel() >= layout.SMALL for y in ys]
    if not all(large):
        few = [y for y, big in zip(ys, large) if not big]
        torch._foreach_mul_(few, a)
        torch._foreach_add_(few, [x for x, big in zip(xs, large) if not big], alpha=b)
    if any(large):
        one = ys[0].new_ones(1)
        for y, x, big in zip(ys, xs, large):
            if big:
                axpby_(y, x, a, b, one)


def foreach_square_average_(v: TensorList, grads: TensorList, beta2: float) -> None:
    """Adam's second moment for lists: ``v <- beta2 * v + (1 - beta2) * g^2``."""
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)


def weight_decay_(group: dict[str, Any], p: Tensor, g: Tensor) -> Tensor:
    """torch's two weight decays: ``p <- p (1 - lr wd)`` when the group has a
    true ``decoupled_weight_decay``, else ``g <- g + wd p`` (L2); returns ``g``."""
    lr, wd = group["lr"], group["weight_decay"]
    if wd == 0:
        return g
    if group.get("decoupled_weight_decay", False):
        p.mul_(1 - lr * wd)
        return g
    return g.add(p, alpha=wd)


def foreach_weight_decay_(
    group: dict[str, Any], params: TensorList, grads: TensorList
) -> TensorList:
    """:func:`weight_decay_` on lists."""
    lr, wd = group["lr"], group["weight_decay"]
    if wd == 0:
        return grads
    if group.get("decoupled_weight_decay", False):
        torch._foreach_mul_(params, 1 - lr * wd)
        return grads
    return torch._foreach_add(grads, params, alpha=wd)


def as_float(x: float | Tensor) -> float:
    return float(x) if isinstance(x, Tensor) else x


__all__ = [
    "add_scaled_",
    "as_float",
    "axpby_",
    "foreach_add_scaled_",
    "foreach_axpby_",
    "foreach_square_average_",
    "foreach_weight_decay_",
    "global_norm",
    "grads_of",
    "prepare_grad",
    "prepare_grads",
    "weight_decay_",
]
