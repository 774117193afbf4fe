"""Prodigy (Mishchenko & Defazio, 2024): Adam whose step size ``d`` is estimated, as
``prodigyopt.Prodigy``.

Note [distance estimation] (``optim/distance.py``) is the two-pass step;
Prodigy's sums are the numerator ``sum_k d_k dlr_k <g_k, x_0 - x_k>`` (decayed by
``beta3``) and ``|s|_1``. On the foreach path the sums are tensors read once at
the end of the pass, so ``foreach`` equals ``reference`` up to rounding; the fused
path (``csrc/distance_cpu.cpp``; ``distance_triton`` on CUDA) adds them up per row
in float64.

Note [moments in pass 2]
~~~~~~~~~~~~~~~~~~~~~~~~
The sums do not read ``m`` and ``v``, and prodigyopt's update changes in the new
``d`` only through ``eps``: ``p <- p - dlr m / (sqrt(v) + d_new eps)``, with
``m <- beta1 m + (1 - beta1) (d g)`` and ``v <- beta2 v + (1 - beta2) (d g)^2``
with the step's ``d``. That is Adam's step on the gradient ``d g`` with lr
``dlr``, eps ``d_new eps`` and no bias correction, which torch's fused Adam
kernel (``torch._fused_adam_``/``_fused_adamw_``, what ``torch.optim.Adam(
fused=True)`` calls) does on the CPU in one vectorized loop, ``m``, ``v`` and
``p`` read once. So on the CPU, for float32/float64 tensors with ``m`` whose
``p``, grad and moments are contiguous (the kernel walks raw memory), the
foreach path's pass 1 reads only ``g``, ``p``, ``p0`` and ``s``, and pass 2
runs that kernel batch by batch on ``d g`` in a reused buffer, its step
counters ``inf`` (``1 - beta^inf = 1``). Coupled decay is the kernel's
``d * weight_decay`` on ``p`` (``d g + d decay p``), the decoupled one its AdamW
form ``p (1 - dlr decay)``. The same numbers up to rounding: the kernel forms
``m`` as a lerp and the update as ``(-dlr m) / denom``. Other tensors (a
transposed or half-precision one, no ``m``) keep the moments in pass 1. A step
the estimate skips (``|s|_1 = 0``) still moves the moments, as prodigyopt's pass
1 does (``_skipped``); a frozen group (lr 0) runs no pass 1, so its moments stay
and its step is the one without the kernel, as prodigyopt's. On ResNet-50 shapes
(2-core AMD EPYC) the step took 0.64-0.80x of prodigyopt's in four runs, against
1.01-1.05x with the moments in pass 1.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from lrkit.optim import fused
from lrkit.optim.base import foreach_axpby_, register
from lrkit.optim.distance import (
    ESTIMATE,
    SUM,
    DistanceEstimating,
    Scratch,
    Work,
    adam_bias_correction,
    add_decay,
    batches,
    coupled,
    dot_terms,
    each,
    l1_terms,
    subset,
)
from lrkit.optim.hyper import BETA, FLAG, NONNEG, POSITIVE
from lrkit.optim.layout import PLAIN, takes
from lrkit.validation import Param

# torch's fused Adam kernels on the CPU (torch >= 2.4): Note [moments in pass 2]
ADAM_KERNEL = torch.torch_version.TorchVersion(torch.__version__) >= "2.4"


@register(
    "prodigy",
    "Prodigy: Adam with a learned step size d (lr-free; lr=1 multiplies d)",
    "prodigyopt.Prodigy",
)
class Prodigy(DistanceEstimating):
    r"""Prodigy, as ``prodigyopt.Prodigy`` (Note [distance estimation]).

    With ``g`` the gradient (Note [gradients] in ``base``; ``+ weight_decay * p``
    unless ``decouple``), step ``k`` (from 0), ``lr`` the groups' lr and
    ``beta3 = sqrt(beta2)`` unless given::

        dlr = d * lr * (sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1)) if use_bias_correction else 1)
        r <- beta3 * r + (d / d0) * dlr * <g, x0 - x>           (summed over all params)
        m <- beta1 * m + d (1 - beta1) g
        v <- beta2 * v + d^2 (1 - beta2) g^2
        s <- beta3 * s + (d / d0) * (d if safeguard_warmup else dlr) * g
        d_hat = d_coef * r / |s|_1
        d <- min(max(d, d_hat), d * growth_rate)            (max(d, .) only while d = d0;
                                                             d never exceeds the largest d_hat)
        p <- p - weight_decay * dlr * p                      (decouple)
        p <- p - dlr * m / (sqrt(v) + d * eps)

    With ``betas[0] == 0`` there is no ``m`` and the step is ``dlr * d * g / (...)``.
    State: ``step`` (an int), ``s``, ``p0`` (every ``slice_p``-th element of the
    flattened parameter), ``exp_avg``, ``exp_avg_sq``.
    """

    flat_when_sharded = ("s", "p0")  # Note [distance estimation]
    hyper: ClassVar[dict[str, Param]] = {
        "lr": NONNEG,
        "betas": BETA,
        "beta3": Param("float", lo=0.0, hi=1.0, hi_open=True, nullable=True),
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "decouple": FLAG,
        "use_bias_correction": FLAG,
        "safeguard_warmup": FLAG,
        "d0": POSITIVE,
        "d_coef": POSITIVE,
        "slice_p": Param("int", lo=1),
        "maximize": FLAG,
        "d": ESTIMATE,
        "d_max": ESTIMATE,
        "d_numerator": SUM,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        betas: tuple[float, float] = (0.9, 0.999),
        beta3: float | None = None,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decouple: bool = True,
        use_bias_correction: bool = False,
        safeguard_warmup: bool = False,
        d0: float = 1e-6,
        d_coef: float = 1.0,
        growth_rate: float = float("inf"),
        slice_p: int = 1,
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        defaults = dict(
            lr=lr, betas=betas, beta3=beta3, eps=eps, weight_decay=weight_decay,
            d=d0, d0=d0, d_max=d0, d_numerator=0.0, d_coef=d_coef, k=0,
            growth_rate=growth_rate, use_bias_correction=use_bias_correction,
            decouple=decouple, safeguard_warmup=safeguard_warmup, slice_p=slice_p,
            maximize=maximize, fsdp_in_use=False,  # read by prodigyopt from our state dicts
        )  # fmt: skip
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _check_combination(self, group: dict[str, Any]) -> None:
        self._check_growth_rate(group)

    def _check_params(self, tensors: list[Tensor], group: dict[str, Any]) -> None:
        super()._check_params(tensors, group)
        if group["slice_p"] != 1 and any(type(p) not in PLAIN for p in tensors):
            raise ValueError(
                f"Prodigy: sharded parameters need slice_p=1 (every element of p0 and s; "
                f"a slice of a shard is not a slice of the parameter), got {group['slice_p']}"
            )

    def _buffer_shapes(self, group: dict[str, Any], p: Tensor) -> dict[str, torch.Size]:
        sliced = torch.Size([math.ceil(p.numel() / group["slice_p"])])
        shapes = {"s": sliced if type(p) in PLAIN else p.shape, "exp_avg_sq": p.shape}
        if group["betas"][0] > 0:
            shapes["exp_avg"] = p.shape
        return shapes  # sharded: s in p's shape (Note [distance estimation])

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        if type(p) not in PLAIN:  # sharded: p0 in p's shape (a zero p gives zeros: same sums)
            p0 = p.detach().clone()
        elif bool(p.any()):
            p0 = p.detach().flatten()[:: group["slice_p"]].clone()
        else:
            p0 = torch.tensor(0, device=p.device, dtype=p.dtype)
        return {"step": 0, **super()._init_state(p, group), "p0": p0}  # zero buffers

    def _fused_takes(
        self, group: dict[str, Any], p: Tensor, g: Tensor, state: dict[str, Any]
    ) -> bool:
        """The kernels read ``s`` and ``p0`` in ``p``'s element order: a contiguous ``p``
        and ``slice_p=1`` (``p0`` may be the 0-d zero of a zero ``p``)."""
        s, p0 = state["s"], state["p0"]
        flat = s.numel() == p.numel() and s.is_contiguous() and s.dtype == p.dtype
        start = p0.dim() == 0 or (p0.numel() == p.numel() and p0.is_contiguous())
        moments = [state[k] for k in ("exp_avg", "exp_avg_sq") if k in state]
        return (
            group["slice_p"] == 1
            and p.is_contiguous()
            and flat
            and start
            and p0.dtype == p.dtype
            and fused.runs_on(p, group["impl"])
            and fused.takes(p, g, *moments)
        )

    def _begin(self, work: list[Work], lr: float) -> dict[str, Any]:
        first = self.param_groups[0]
        beta2 = first["betas"][1]
        beta3 = first["beta3"] if first["beta3"] is not None else math.sqrt(beta2)
        return {"d": first["d"], "dlr": adam_bias_correction(first, lr), "beta3": beta3,
                "moments": []}  # fmt: skip

    def _decay(self, group: dict[str, Any], begin: dict[str, Any]) -> float:
        return coupled(group)

    def _estimate(
        self, begin: dict[str, Any], sums: list[float], lr: float
    ) -> dict[str, Any] | None:
        first = self.param_groups[0]
        delta, denom = sums
        d = begin["d"]
        d_max, d_hat = first["d_max"], d
        numerator = first["d_numerator"] * begin["beta3"]
        if denom == 0:
            return None
        if lr > 0.0:
            numerator += delta
            d_hat = first["d_coef"] * numerator / denom
            if d == first["d0"]:
                d = max(d, d_hat)
            d_max = max(d_max, d_hat)
            d = min(d_max, d * first["growth_rate"])
        return {"d_numerator": numerator, "d_denom": denom, "d": d, "d_max": d_max,
                "d_hat": d_hat}  # fmt: skip

    def _sums(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        begin: dict[str, Any],
        path: str,
    ) -> tuple[float, float]:
        """Pass 1: the moments and ``s``, and the tensors' terms of the numerator and of
        ``|s|_1``, added in parameter order."""
        beta1, beta2 = group["betas"]
        d, dlr, beta3 = begin["d"], begin["dlr"], begin["beta3"]
        d0, step = group["d0"], group["slice_p"]
        scale = d if group["safeguard_warmup"] else dlr
        decay = self._decay(group, begin)
        if path == "fused":  # fused.distance_kernels
            m = [st["exp_avg"] for st in states] if beta1 > 0 else []
            v, s, p0 = ([st[k] for st in states] for k in ("exp_avg_sq", "s", "p0"))
            kernels = fused.distance_kernels(params[0].device)
            sums = kernels.prodigy_phase1(
                params, grads, m, v, s, p0, decay, beta1, d * (1 - beta1), beta2,
                d * d * (1 - beta2), beta3, (d / d0) * scale,
            )  # fmt: skip
            dot, total = sums.sum(0).tolist()
            return (d / d0) * dlr * dot, total
        if path == "reference":
            sliced = [g.flatten()[::step] for g in grads]
            delta = 0.0
            for g, p, state in zip(sliced, params, states):
                delta += (d / d0) * dlr * torch.dot(g, state["p0"] - p.flatten()[::step]).item()
            for g, g_sliced, state in zip(grads, sliced, states):
                if beta1 > 0:
                    state["exp_avg"].mul_(beta1).add_(g, alpha=d * (1 - beta1))
                state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=d * d * (1 - beta2))
                state["s"].mul_(beta3).add_(g_sliced, alpha=(d / d0) * scale)
            return delta, sum(st["s"].abs().sum().item() for st in states)
        # foreach: the same sums as tensors, one host read each at the end; each
        # batch's dots and moment updates read the gradients while they are in cache,
        # except where pass 2 updates the moments (Note [moments in pass 2])
        dots: list[Tensor] = []
        norms: list[Tensor] = []
        scratch, scratch_s = Scratch(), Scratch()
        later = _later(params, grads, states) if beta1 > 0 and ADAM_KERNEL else []
        taken = set(later)
        rest = [i for i in range(len(params)) if i not in taken]
        now, deferred = (subset((group, params, grads, states), idx) for idx in (rest, later))
        if later:
            begin["moments"].append((states, later, deferred))

        def flat(t: Tensor) -> Tensor:  # sliced as prodigyopt's slice_p
            return t.reshape(-1)[::step] if step > 1 else t.reshape(-1)

        moments = ("exp_avg_sq", "exp_avg") if beta1 > 0 else ("exp_avg_sq",)
        for (_, part_ps, part_gs, sts), keys in (
            (now, ("p0", "s", *moments)),
            (deferred, ("p0", "s")),
        ):
            lists = [part_gs, part_ps] + [[st[k] for st in sts] for k in keys]
            for small, (raw, ps, p0, ss, *vm) in batches(*lists) if part_ps else []:
                gs = add_decay(scratch, raw, ps, decay, small)
                sliced_gs, x = [flat(t) for t in gs], [flat(t) for t in ps]
                # p0 - x, then |s|, in a reused buffer; p0: a 0-d zero for a zero p
                diffs = each(scratch_s, "sub", small, [q.reshape(-1) for q in p0], x, like=x)
                dots += dot_terms(sliced_gs, diffs, small)
                if vm:
                    _moments(group, d, gs, *vm)
                foreach_axpby_(ss, sliced_gs, beta3, (d / d0) * scale)
                norms += l1_terms(scratch_s, ss, small)
        sums = torch.stack([torch.stack(dots).sum(), torch.stack(norms).sum()]).tolist()
        delta, total = (d / d0) * dlr * sums[0], sums[1]
        return delta, total

    def _skipped(self, begin: dict[str, Any]) -> None:
        """A step the estimate skips still updates the moments, as prodigyopt's pass 1
        does (Note [moments in pass 2])."""
        scratch = Scratch()
        for _, _, (group, params, grads, states) in begin["moments"]:
            decay = self._decay(group, begin)
            lists = [[st[k] for st in states] for k in ("exp_avg_sq", "exp_avg")]
            for small, (raw, ps, vs, ms) in batches(grads, params, *lists):
                _moments(group, begin["d"], add_decay(scratch, raw, ps, decay, small), vs, ms)

    def _update(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        begin: dict[str, Any],
        found: dict[str, Any],
        path: str,
    ) -> None:
        """Pass 2: the decoupled decay and the step with the new ``d``."""
        beta1, eps, decay = group["betas"][0], group["eps"], group["weight_decay"]
        d, dlr = found["d"], begin["dlr"]  # the new d, the step's dlr (as prodigyopt)
        for state in states:
            state["step"] += 1
        second = [st["exp_avg"] for st in states] if beta1 > 0 else grads
        v = [st["exp_avg_sq"] for st in states]
        wd = -decay * dlr if group["decouple"] else 0.0
        # without m the step reads g, raw here except on the reference path
        on_grads = self._decay(group, begin) if beta1 == 0 else 0.0
        if path == "fused":
            kernels = fused.distance_kernels(params[0].device)
            kernels.adam_step(
                params, second, v, on_grads, wd, -dlr if beta1 > 0 else -dlr * d, d * eps
            )
            return
        if path == "reference":
            for p, g, state in zip(params, grads, states):
                denom = state["exp_avg_sq"].sqrt().add_(d * eps)
                if decay != 0 and group["decouple"]:
                    p.add_(p, alpha=-decay * dlr)
                if beta1 > 0:
                    p.addcdiv_(state["exp_avg"], denom, value=-dlr)
                else:
                    p.addcdiv_(g, denom, value=-dlr * d)
            return
        deferred = next((entry[1:] for entry in begin["moments"] if entry[0] is states), None)
        if deferred is not None:  # Note [moments in pass 2]: m, v and p in torch's Adam kernel
            later, (_, part_ps, part_gs, sts) = deferred
            moments = [[st[k] for st in sts] for k in ("exp_avg_sq", "exp_avg")]
            _adam_kernel(group, begin["d"], dlr, d * eps, part_ps, part_gs, *moments)
            taken = set(later)
            rest = [i for i in range(len(params)) if i not in taken]
            params, second, v = ([t[i] for i in rest] for t in (params, second, v))
        scratch, scratch_denoms = Scratch(), Scratch()
        for small, (ps, vs, raw) in batches(params, v, second) if params else []:
            ms = add_decay(scratch, raw, ps, on_grads, small)
            denoms = each(scratch_denoms, "sqrt", small, vs)  # sqrt(v) + d eps
            torch._foreach_add_(denoms, d * eps)
            if decay != 0 and group["decouple"]:
                torch._foreach_add_(ps, ps, alpha=-decay * dlr)
            torch._foreach_addcdiv_(ps, ms, denoms, value=-dlr if beta1 > 0 else -dlr * d)


def _later(params: list[Tensor], grads: list[Tensor], states: list[dict[str, Any]]) -> list[int]:
    """The tensors whose moments pass 2 updates, in torch's fused Adam kernel (Note
    [moments in pass 2]): on the CPU, contiguous, with a grad and moments of the same
    layout and dtype (float32 or float64: ``layout.takes``), as the kernel walks raw
    memory."""
    return [
        i
        for i, (p, g, st) in enumerate(zip(params, grads, states))
        if p.device.type == "cpu"
        and p.is_contiguous()
        and takes(p, g, st["exp_avg"], st["exp_avg_sq"])
    ]


def _moments(
    group: dict[str, Any], d: float, gs: list[Tensor], v: list[Tensor], *m: list[Tensor]
) -> None:
    """``m <- beta1 m + d (1 - beta1) g`` (where there is an ``m``) and
    ``v <- beta2 v + d^2 (1 - beta2) g^2`` on one batch, as prodigyopt."""
    beta1, beta2 = group["betas"]
    if m:
        foreach_axpby_(m[0], gs, beta1, d * (1 - beta1))
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, gs, gs, value=d * d * (1 - beta2))


def _adam_kernel(
    group: dict[str, Any],
    d: float,
    dlr: float,
    eps: float,
    *rows: list[Tensor],
) -> None:
    """Note [moments in pass 2]: the moments with the step's ``d`` and the update with
    ``dlr`` and ``eps`` (the new ``d`` times the group's), batch by batch, in torch's
    fused Adam kernel on ``d * g`` (a reused buffer), its bias corrections 1. ``rows``:
    the params, grads, ``v`` and ``m``."""
    beta1, beta2 = group["betas"]
    decoupled = group["decouple"] and group["weight_decay"] != 0
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
    # AdamW: p * (1 - dlr wd); Adam: d g + (d decay) p = d (g + decay p), coupled
    wd = group["weight_decay"] if decoupled else d * coupled(group)
    never = torch.full((), math.inf)  # step inf: 1 - beta^step = 1, no bias correction
    scratch = Scratch()
    for small, (ps, gs, vs, ms) in batches(*rows):
        if small:
            scaled = list(torch._foreach_mul(gs, d))
        else:
            scaled = scratch.like(gs)
            for out, g in zip(scaled, gs):
                torch.mul(g, d, out=out)
        kernel(
            ps, scaled, ms, vs, [], [never] * len(ps), lr=dlr, beta1=beta1, beta2=beta2,
            weight_decay=wd, eps=eps, amsgrad=False, maximize=False,
        )  # fmt: skip


__all__ = ["Prodigy"]
