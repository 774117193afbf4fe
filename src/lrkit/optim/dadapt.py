"""D-Adaptation (Defazio & Mishchenko, 2023): Adam and SGD whose step size ``d`` is
estimated, as the ``dadaptation`` package's ``DAdaptAdam`` and ``DAdaptSGD``.

Both run the two-pass step of Note [distance estimation] (``optim/distance.py``).
``reference`` reads like the references (a host read per tensor for each sum);
``foreach`` runs the same passes batched for the cache, its sums read once;
``fused`` runs each pass as one C++ loop on the CPU (``csrc/distance_cpu.cpp``) or
one multi-tensor Triton launch on CUDA (``distance_triton``).
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
    Early,
    Scratch,
    Work,
    adam_bias_correction,
    add_decay,
    batches,
    coupled,
    dot_terms,
    each,
    l1_terms,
    second_pass,
)
from lrkit.optim.hyper import BETA, FLAG, NONNEG, POSITIVE
from lrkit.validation import Param, normalize


def _decoupled(group: dict[str, Any], dlr: float) -> float:
    """DAdaptAdam's decoupled decay factor on ``p`` in its update (0 when coupled)."""
    return -group["weight_decay"] * dlr if group["decouple"] else 0.0


@register(
    "dadapt_adam",
    "D-Adaptation Adam: Adam with a learned step size d (lr-free; lr=1 multiplies d)",
    "dadaptation.DAdaptAdam",
)
class DAdaptAdam(DistanceEstimating):
    r"""D-Adapted Adam, as ``dadaptation.DAdaptAdam`` (Note [distance estimation]).

    With ``g`` the gradient (``+ weight_decay * p`` unless ``decouple``), step
    ``k`` (from 0), a group's ``layer_scale`` ``r`` and ``b = sqrt(beta2)``::

        dlr = d * lr * (sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1)) if use_bias_correction else 1)
        n <- b n + (1 - b) sum r dlr <g, s / (sqrt(v) + eps)>      (over all params)
        m <- beta1 m + r dlr (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        s <- b s + dlr (1 - b) g
        d <- max(d, min(n / ((1 - b) sum r |s|_1), d * growth_rate))
        p <- p - weight_decay * dlr * p                            (decouple)
        p <- p - m / (sqrt(v) + eps)

    State: ``step`` (an int), ``s``, ``exp_avg``, ``exp_avg_sq``; group keys
    ``d``, ``k``, ``numerator_weighted``, ``layer_scale``.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": NONNEG,
        "betas": BETA,
        "eps": POSITIVE,
        "weight_decay": NONNEG,
        "decouple": FLAG,
        "use_bias_correction": FLAG,
        "layer_scale": POSITIVE,
        "log_every": Param("int", lo=0),
        "maximize": FLAG,
        "d": ESTIMATE,
        "numerator_weighted": SUM,
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        log_every: int = 0,
        decouple: bool = False,
        use_bias_correction: bool = False,
        d0: float = 1e-6,
        growth_rate: float = float("inf"),
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        """``log_every`` is accepted and kept for the reference's state dicts; lrkit
        does not log (read ``d`` from ``param_groups``)."""
        d = normalize("DAdaptAdam", "d0", POSITIVE, d0)  # the estimate starts at d0
        defaults = dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, d=d, k=0,
            layer_scale=1.0, numerator_weighted=0.0, log_every=log_every,
            growth_rate=growth_rate, use_bias_correction=use_bias_correction,
            decouple=decouple, fsdp_in_use=False, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _check_combination(self, group: dict[str, Any]) -> None:
        self._check_growth_rate(group)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("s", "exp_avg", "exp_avg_sq")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, **super()._init_state(p, group)}  # zero buffers

    def _begin(self, work: list[Work], lr: float) -> dict[str, Any]:
        first = self.param_groups[0]
        dlr = adam_bias_correction(first, lr)
        return {"d": first["d"], "dlr": dlr, "sqrt_beta2": first["betas"][1] ** 0.5}

    def _decay(self, group: dict[str, Any], begin: dict[str, Any]) -> float:
        return coupled(group)

    def _sums(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        begin: dict[str, Any],
        path: str,
    ) -> tuple[float, float]:
        beta1, beta2 = group["betas"]
        dlr, b, r, eps = begin["dlr"], begin["sqrt_beta2"], group["layer_scale"], group["eps"]
        decay = self._decay(group, begin)
        if path == "fused":  # fused.distance_kernels
            m, v, s = ([st[k] for st in states] for k in ("exp_avg", "exp_avg_sq", "s"))
            kernels = fused.distance_kernels(grads[0].device)
            args = (params, grads, m, v, s, decay, beta1, r * dlr * (1 - beta1), beta2, b,
                    dlr * (1 - b), eps)  # fmt: skip
            if hasattr(kernels, "dadapt_adam_one_pass"):  # Note [update in pass 1]: C++
                sums = kernels.dadapt_adam_one_pass(*args, _decoupled(group, dlr), -1.0)
                begin["updated"].append((states, sums))
            else:
                sums = kernels.dadapt_adam_phase1(*args)
            dot, norm = sums[:, :2].sum(0).tolist()
            return r * dlr * dot, r * norm
        if path == "reference":
            numerator, norm = 0.0, 0.0
            for g, state in zip(grads, states):
                m, v, s = state["exp_avg"], state["exp_avg_sq"], state["s"]
                denom = v.sqrt().add_(eps)
                numerator += r * dlr * torch.dot(g.flatten(), s.div(denom).flatten()).item()
                m.mul_(beta1).add_(g, alpha=r * dlr * (1 - beta1))
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                s.mul_(b).add_(g, alpha=dlr * (1 - b))
                norm += r * s.abs().sum().item()
            return numerator, norm
        dots: list[Tensor] = []
        norms: list[Tensor] = []
        scratch, scratch_ratios = Scratch(), Scratch()
        early = Early(lambda small, ps, v, m: self._step_batch(group, begin, scratch_ratios,
                                                               small, ps, v, m))  # fmt: skip
        buffers = ([st[k] for st in states] for k in ("exp_avg", "exp_avg_sq", "s"))
        for small, (raw, ps, m, v, s) in batches(grads, params, *buffers):  # the sums read once
            gs = add_decay(scratch, raw, ps, decay, small)
            ratios = each(scratch_ratios, "sqrt", small, v)  # s / (sqrt(v) + eps)
            torch._foreach_add_(ratios, eps)
            if small:
                ratios = list(torch._foreach_div(s, ratios))
            else:
                for q, st in zip(ratios, s):
                    torch.div(st, q, out=q)
            dots += dot_terms(gs, ratios, small)
            foreach_axpby_(m, gs, beta1, r * dlr * (1 - beta1))
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, gs, gs, value=1 - beta2)
            foreach_axpby_(s, gs, b, dlr * (1 - b))
            norms += (terms := l1_terms(scratch_ratios, s, small))
            early.after(small, [ps, v, m], terms)  # Note [update in pass 1]
        early.finish(begin, states)
        dot, norm = torch.stack([torch.stack(dots).sum(), torch.stack(norms).sum()]).tolist()
        return r * dlr * dot, r * norm

    def _estimate(
        self, begin: dict[str, Any], sums: list[float], lr: float
    ) -> dict[str, Any] | None:
        first = self.param_groups[0]
        b, d = begin["sqrt_beta2"], begin["d"]
        numerator = b * first["numerator_weighted"] + (1 - b) * sums[0]
        if sums[1] == 0:
            return None
        if lr > 0.0:
            d_hat = numerator / ((1 - b) * sums[1])
            d = max(d, min(d_hat, d * first["growth_rate"]))
        return {"numerator_weighted": numerator, "d": d}

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
        decay, eps = group["weight_decay"], group["eps"]
        for state in states:
            state["step"] += 1
        if path == "fused":
            wd = _decoupled(group, begin["dlr"])
            m, v = ([st[k] for st in states] for k in ("exp_avg", "exp_avg_sq"))
            kernels = fused.distance_kernels(params[0].device)
            second_pass(
                begin,
                states,
                lambda: kernels.adam_step(params, m, v, 0.0, wd, -1.0, eps),
                lambda done: kernels.adam_step_rest(params, m, v, wd, -1.0, eps, done),
            )
            return
        if path == "reference":
            for p, state in zip(params, states):
                denom = state["exp_avg_sq"].sqrt().add_(eps)
                if decay != 0 and group["decouple"]:
                    p.add_(p, alpha=-decay * begin["dlr"])
                p.addcdiv_(state["exp_avg"], denom, value=-1)
            return
        scratch = Scratch()
        buffers = [[st[k] for st in states] for k in ("exp_avg_sq", "exp_avg")]

        def whole() -> None:
            for small, (ps, v, m) in batches(params, *buffers):
                self._step_batch(group, begin, scratch, small, ps, v, m)

        second_pass(begin, states, whole)  # none if foreach's pass 1 applied it

    def _step_batch(
        self,
        group: dict[str, Any],
        begin: dict[str, Any],
        scratch: Scratch,
        small: bool,
        ps: list[Tensor],
        v: list[Tensor],
        m: list[Tensor],
    ) -> None:
        """The foreach update of one batch: the decoupled decay, then the step."""
        decay = group["weight_decay"]
        denoms = each(scratch, "sqrt", small, v)
        torch._foreach_add_(denoms, group["eps"])
        if decay != 0 and group["decouple"]:
            torch._foreach_add_(ps, ps, alpha=-decay * begin["dlr"])
        torch._foreach_addcdiv_(ps, m, denoms, value=-1)


@register(
    "dadapt_sgd",
    "D-Adaptation SGD: SGD (dual averaging) with a learned step size d (lr-free)",
    "dadaptation.DAdaptSGD",
)
class DAdaptSGD(DistanceEstimating):
    r"""D-Adapted SGD, as ``dadaptation.DAdaptSGD`` (Note [distance estimation]).

    With ``g`` the gradient ``+ weight_decay * p`` (the first group's decay,
    for every group, as the reference), ``|g_0|`` the norm of the first
    step's gradients (without the decay, as the reference) and
    ``c = 1 - momentum``::

        dlr = d * lr / |g_0|
        n <- n + sum dlr <g, s>                      (over all params, before s moves)
        s <- s + dlr g
        d <- max(d, min(2 n / |s|_2, d * growth_rate))
        z = x0 - s
        p <- (1 - c) p + c z

    State: ``z``, ``s``, ``x0``; group keys ``d``, ``k``,
    ``numerator_weighted``, ``g0_norm``.
    """

    hyper: ClassVar[dict[str, Param]] = {
        "lr": NONNEG,
        "momentum": Param("float", lo=0.0, hi=1.0, hi_open=True),
        "weight_decay": NONNEG,
        "log_every": Param("int", lo=0),
        "maximize": FLAG,
        "d": ESTIMATE,
        "numerator_weighted": SUM,
        "g0_norm": Param("float", lo=0.0),  # 0 while every first gradient is 0
    }

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        log_every: int = 0,
        d0: float = 1e-6,
        growth_rate: float = float("inf"),
        *,
        maximize: bool = False,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        d = normalize("DAdaptSGD", "d0", POSITIVE, d0)  # the estimate starts at d0
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay, k=0, log_every=log_every,
            numerator_weighted=0.0, d=d, growth_rate=growth_rate,
            fsdp_in_use=False, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults, impl=impl, max_grad_norm=max_grad_norm, **torch_keywords)

    def _check_combination(self, group: dict[str, Any]) -> None:
        self._check_growth_rate(group)

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("z", "s", "x0")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"z": p.detach().clone(), "s": torch.zeros_like(p), "x0": p.detach().clone()}

    def _begin(self, work: list[Work], lr: float) -> dict[str, Any]:
        first = self.param_groups[0]
        if first["k"] == 0:
            squares = sum(
                (g * g).sum().item()
                for group, _, grads, _ in work
                if float(group["lr"]) > 0.0
                for g in grads
            )
            squares = self._global([squares])[0]  # over every rank's shard
            for group in self.param_groups:
                group["g0_norm"] = math.sqrt(squares)
        g0 = self.param_groups[-1]["g0_norm"]
        d = first["d"]
        return {"d": d, "dlr": d * lr / g0 if g0 > 0 else 0.0,
                "decay": first["weight_decay"], "c": 1 - first["momentum"]}  # fmt: skip

    def _decay(self, group: dict[str, Any], begin: dict[str, Any]) -> float:
        return float(begin["decay"])  # the first group's, for every group (as the reference)

    def _sums(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        begin: dict[str, Any],
        path: str,
    ) -> tuple[float, float]:
        dlr, decay = begin["dlr"], self._decay(group, begin)
        if path == "fused":  # fused.distance_kernels
            kernels = fused.distance_kernels(grads[0].device)
            s = [st["s"] for st in states]
            if hasattr(kernels, "dadapt_sgd_one_pass"):  # Note [update in pass 1]: C++
                z, x0 = ([st[k] for st in states] for k in ("z", "x0"))
                sums = kernels.dadapt_sgd_one_pass(params, grads, s, z, x0, decay, dlr, begin["c"])
                begin["updated"].append((states, sums))
            else:
                sums = kernels.dadapt_sgd_phase1(params, grads, s, decay, dlr)
            dot, square = sums[:, :2].sum(0).tolist()
            return dlr * dot, square
        if path == "reference":
            numerator, square = 0.0, 0.0
            for g, state in zip(grads, states):
                s = state["s"]
                numerator += dlr * torch.dot(g.flatten(), s.flatten()).item()
                s.add_(g, alpha=dlr)
                square += (s * s).sum().item()
            return numerator, square
        dots: list[Tensor] = []
        squares: list[Tensor] = []
        scratch = Scratch()
        early = Early(lambda *rows: self._step_batch(begin, *rows))
        buffers = ([st[k] for st in states] for k in ("s", "z", "x0"))
        for small, (raw, ps, ss, z, x0) in batches(grads, params, *buffers):
            gs = add_decay(scratch, raw, ps, decay, small)
            dots += dot_terms(gs, ss, small)
            torch._foreach_add_(ss, gs, alpha=dlr)
            squares += (terms := dot_terms(ss, ss, small))  # a dot: 2x a 2-norm on large tensors
            early.after(small, [ps, z, x0, ss], terms)  # Note [update in pass 1]
        early.finish(begin, states)
        dot, square = torch.stack([torch.stack(dots).sum(), torch.stack(squares).sum()]).tolist()
        return dlr * dot, square

    def _estimate(
        self, begin: dict[str, Any], sums: list[float], lr: float
    ) -> dict[str, Any] | None:
        first = self.param_groups[0]
        numerator, d = first["numerator_weighted"] + sums[0], begin["d"]
        if lr > 0.0 and sums[1] > 0:
            d_hat = 2 * numerator / math.sqrt(sums[1])
            d = max(d, min(d_hat, d * first["growth_rate"]))
        if sums[1] == 0:
            return None
        return {"numerator_weighted": numerator, "d": d}

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
        c = begin["c"]
        if path == "fused":
            z, x0, s = ([st[k] for st in states] for k in ("z", "x0", "s"))
            kernels = fused.distance_kernels(params[0].device)
            second_pass(
                begin,
                states,
                lambda: kernels.dadapt_sgd_phase2(params, z, x0, s, c),
                lambda done: kernels.dadapt_sgd_phase2_rest(params, z, x0, s, c, done),
            )
            return
        if path == "reference":
            for p, state in zip(params, states):
                state["z"].copy_(state["x0"] - state["s"])
                p.mul_(1 - c).add_(state["z"], alpha=c)
            return
        buffers = [[st[k] for st in states] for k in ("z", "x0", "s")]

        def whole() -> None:
            for small, (ps, z, x0, s) in batches(params, *buffers):
                self._step_batch(begin, small, ps, z, x0, s)

        second_pass(begin, states, whole)  # none if foreach's pass 1 applied it

    def _step_batch(
        self,
        begin: dict[str, Any],
        small: bool,
        ps: list[Tensor],
        z: list[Tensor],
        x0: list[Tensor],
        s: list[Tensor],
    ) -> None:
        """The foreach update of one batch: ``z = x0 - s``, then ``p`` towards it."""
        c = begin["c"]
        if small:
            torch._foreach_copy_(z, x0)
            torch._foreach_sub_(z, s)
        else:
            for zt, start, st in zip(z, x0, s):  # z = x0 - s, no temporary, one pass
                torch.sub(start, st, out=zt)
        foreach_axpby_(ps, z, 1 - c, c)


__all__ = ["DAdaptAdam", "DAdaptSGD"]
