"""Muon (Jordan et al., 2024) for 2-D weights, as torch.optim.Muon, with AdamW groups.

Note [muon groups]
~~~~~~~~~~~~~~~~~~
Muon orthogonalises the update of a weight matrix; embeddings, the output
layer, biases and norm gains are trained with AdamW beside it, which users
of Muon wire by hand as two optimizers. lrkit's :class:`Muon` takes param
groups with ``use_muon=False`` and runs AdamW on them (their own ``lr``,
``betas``, ``eps``, ``weight_decay``; ``adam_reference``/``adam_foreach``,
the numbers of :class:`~lrkit.optim.AdamW`), so one optimizer object holds
both with one state dict (the way Keller Jordan's ``MuonWithAuxAdam`` does).
:func:`lrkit.optim.create_optimizer` with ``"muon"`` builds those groups
from a model (Note [muon split] in ``factory.py``). Muon groups' params must
be 2-D, as torch requires, at construction; their state is torch's
(``momentum_buffer``, no step count), so state dicts move between torch and
lrkit; AdamW groups keep ``step``, ``exp_avg`` and ``exp_avg_sq``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

import torch
from torch import Tensor

from lrkit.optim.adam import adam_foreach, adam_reference
from lrkit.optim.base import (
    Buffers,
    Optimizer,
    StepContext,
    TensorList,
    as_float,
    register,
)
from lrkit.optim.hyper import BETA, FLAG, LR, NONNEG, check_betas
from lrkit.optim.layout import PLAIN
from lrkit.validation import Param

ADJUST_LR_FNS = ("original", "match_rms_adamw", "spectral_unclamped")
NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)


class Workspace:
    """Scratch for :func:`newton_schulz` over a list of matrices, allocated once a step.

    Two bfloat16 iterates (the products write one from the other) and two bfloat16
    Gram matrices, each sized for the largest matrix, and a buffer per params' dtype
    for the nesterov update and the widened result. A step of fresh temporaries for
    every matrix and iteration costs page faults on CPU (each large allocation is new
    memory to the allocator); reusing these makes the foreach step as fast as torch's,
    with the same numbers (``out=`` products)."""

    def __init__(self, params: TensorList) -> None:
        self.device = params[0].device
        self.size = max(p.numel() for p in params)
        side = max(min(p.shape) for p in params)
        self.iterates = [self._empty(self.size, torch.bfloat16) for _ in "ab"]
        self.grams = [self._empty(side * side, torch.bfloat16) for _ in "ab"]
        self.updates: dict[torch.dtype, Tensor] = {}

    def _empty(self, size: int, dtype: torch.dtype) -> Tensor:
        return torch.empty(size, dtype=dtype, device=self.device)

    def update(self, like: Tensor) -> Tensor:
        """A scratch matrix of ``like``'s shape and dtype (one per dtype, reused)."""
        if like.dtype not in self.updates:
            self.updates[like.dtype] = self._empty(self.size, like.dtype)
        return self.view(self.updates[like.dtype], *like.shape)

    @staticmethod
    def view(flat: Tensor, rows: int, cols: int) -> Tensor:
        return flat[: rows * cols].view(rows, cols)


def newton_schulz(grad: Tensor, coefficients: tuple[float, float, float], steps: int,
                  eps: float, work: Workspace | None = None) -> Tensor:  # fmt: skip
    """torch's ``_zeropower_via_newtonschulz``: ``steps`` quintic Newton-Schulz iterations
    in bfloat16 towards the orthogonal factor ``U V^T`` of ``grad = U S V^T``.

    The iterates and Gram matrices are views of ``work``'s buffers (the result is one
    too, valid until the next call with it); without ``work``, the call makes its own.

    A sharded (FSDP2, DTensor) ``grad`` is gathered whole on every rank (one all-gather),
    orthogonalised there, and this rank's shard of the result returned: the iterations
    read the whole matrix (its norm, its Gram matrix), and each rank computing all of it
    gives every rank the numbers of one process."""
    if type(grad) not in PLAIN:
        from torch.distributed.tensor import DTensor, distribute_tensor

        shard = cast(DTensor, grad)
        whole = newton_schulz(shard.full_tensor(), coefficients, steps, eps)
        return distribute_tensor(whole, shard.device_mesh, shard.placements, src_data_rank=None)
    a, b, c = coefficients
    if work is None:
        work = Workspace([grad])
    rows, cols = grad.shape
    # a copy: a bfloat16 grad is its own .bfloat16(), and may be the momentum buffer
    x = work.view(work.iterates[0], rows, cols).copy_(grad)
    tall = rows > cols
    if tall:
        x, rows, cols = x.T, cols, rows
    x.div_(x.norm().clamp(min=eps))  # spectral norm at most 1
    gram, poly = (work.view(g, rows, rows) for g in work.grams)
    for i in range(steps):  # the iterates written one from the other
        out = work.view(work.iterates[(i + 1) % 2], rows, cols)
        torch.mm(x, x.T, out=gram)
        torch.addmm(gram, gram, gram, beta=b, alpha=c, out=poly)
        x = torch.addmm(x, poly, x, beta=a, out=out)
    return x.T if tall else x


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size) -> float:
    """torch's ``_adjust_lr``: ``lr`` scaled for a ``(A, B)`` matrix -- ``original``
    (Keller Jordan's): ``sqrt(max(1, A / B))``; ``match_rms_adamw`` (Moonshot's):
    ``0.2 sqrt(max(A, B))``; ``spectral_unclamped`` (Bernstein's): ``sqrt(A / B)``."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = math.sqrt(rows / cols)
    return lr * ratio


@register(
    "muon",
    "Muon: orthogonalised momentum for 2-D weights (Newton-Schulz), AdamW groups beside it",
    "torch.optim.Muon",
)
class Muon(Optimizer):
    r"""Muon, as :class:`torch.optim.Muon`, for 2-D weights (Note [muon groups]).

    With ``g`` the gradient (Note [gradients] in ``base``) of an ``(A, B)``
    weight::

        B <- momentum * B + (1 - momentum) * g
        u = g + momentum * (B - g)        (nesterov; else u = B)
        O = NS(u)                          (ns_steps Newton-Schulz iterations, in bfloat16)
        p <- p * (1 - lr * weight_decay)
        p <- p - adjusted_lr(lr, A, B) * O

    Param groups with ``use_muon=False`` run AdamW with their ``betas``, ``eps``
    and ``weight_decay``. State: ``momentum_buffer`` (Muon groups), ``step``,
    ``exp_avg``, ``exp_avg_sq`` (AdamW groups).
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": LR,
        "weight_decay": NONNEG,
        "momentum": Param("float", lo=0.0, hi=1.0),
        "nesterov": FLAG,
        "eps": NONNEG,
        "ns_steps": Param("int", lo=0, hi=99),
        "adjust_lr_fn": Param("str", choices=ADJUST_LR_FNS, nullable=True),
        "use_muon": FLAG,
        "maximize": FLAG,
    }

    def __init__(
        self,
        params: Any,
        lr: float | Tensor = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
        *,
        betas: tuple[float, float] = (0.9, 0.95),
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        """``betas`` (and a group's own ``eps``) serve the ``use_muon=False`` groups."""
        defaults = dict(
            lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
            ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn, betas=betas, use_muon=True, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _check_combination(self, group: dict[str, Any]) -> None:
        coefficients = group.get("ns_coefficients")
        if coefficients is not None:
            if (
                isinstance(coefficients, (str, bytes, Tensor))
                or not isinstance(coefficients, (tuple, list))
                or len(coefficients) != 3
                or not all(
                    isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                    for c in coefficients
                )
            ):
                raise ValueError(
                    "Muon: `ns_coefficients` must be three finite numbers (a, b, c), "
                    f"got {coefficients!r}"
                )
            group["ns_coefficients"] = tuple(float(c) for c in coefficients)
        if "betas" in group:
            group["betas"] = check_betas("Muon", group["betas"], BETA)

    def _check_params(self, tensors: list[Tensor], group: dict[str, Any]) -> None:
        if not group["use_muon"]:
            return
        for i, p in enumerate(tensors):
            if p.ndim != 2:
                raise ValueError(
                    f"Muon: param {i} of group {len(self.param_groups)} has shape "
                    f"{list(p.shape)}; Muon takes 2-D weights only: put the others in a "
                    "group with use_muon=False (AdamW), as create_optimizer(model, "
                    "'muon') does"
                )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A state dict of this class or of ``torch.optim.Muon`` (whose params have no
        ``step``: Muon's update reads none, so it starts at 0)."""
        if isinstance(state_dict, dict) and isinstance(state_dict.get("state"), dict):
            state = dict(state_dict["state"])
            for group, saved in zip(self.param_groups, state_dict.get("param_groups") or []):
                if not (group["use_muon"] and isinstance(saved, dict)):
                    continue
                for sid in saved.get("params") or []:
                    entry = state.get(sid)
                    if isinstance(entry, dict) and entry and "step" not in entry:
                        state[sid] = {**entry, "step": torch.tensor(0.0)}
            state_dict = {**state_dict, "state": state}
        super().load_state_dict(state_dict)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if group["use_muon"] else ("exp_avg", "exp_avg_sq")

    @staticmethod
    def _adamw(group: dict[str, Any]) -> dict[str, Any]:
        return {**group, "amsgrad": False, "decoupled_weight_decay": True}

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        if not group["use_muon"]:
            adam_reference(self._adamw(group), p, g, buf, step)
            return
        lr, momentum = as_float(group["lr"]), group["momentum"]
        b = buf["momentum_buffer"]
        b.lerp_(g, 1 - momentum)
        update = g.lerp(b, momentum) if group["nesterov"] else b
        o = newton_schulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(o, alpha=-adjusted_lr(lr, group["adjust_lr_fn"], p.shape))

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        if not group["use_muon"]:
            adam_foreach(self._adamw(group), params, grads, bufs, steps)
            return
        lr, momentum = as_float(group["lr"]), group["momentum"]
        momenta = bufs["momentum_buffer"]
        torch._foreach_lerp_(momenta, grads, 1 - momentum)
        # Newton-Schulz is matrix products, one tensor at a time, as in the reference, in
        # one workspace; p.mul_, not _foreach_mul_, which rounds the factor to a bfloat16
        # param's dtype; and a bfloat16 result widened into the workspace before p.add_
        # (the same numbers: add_ widens it anyway, into a fresh temporary)
        decay = 1 - lr * group["weight_decay"]
        work = Workspace(params) if all(type(p) in PLAIN for p in params) else None
        for p, g, m in zip(params, grads, momenta):
            p.mul_(decay)
            u = m
            if group["nesterov"]:
                u = torch.lerp(g, m, momentum, out=None if work is None else work.update(p))
            o = newton_schulz(u, group["ns_coefficients"], group["ns_steps"], group["eps"], work)
            if work is not None and torch.promote_types(p.dtype, o.dtype) == p.dtype != o.dtype:
                o = work.update(p).copy_(o)
            p.add_(o, alpha=-adjusted_lr(lr, group["adjust_lr_fn"], p.shape))


__all__ = ["ADJUST_LR_FNS", "NS_COEFFICIENTS", "Muon", "Workspace", "adjusted_lr", "newton_schulz"]
