"""Prodigy (Mishchenko & Defazio, 2024): Adam whose step size ``d`` is estimated, as
``prodigyopt.Prodigy``.

Note [prodigy d]
~~~~~~~~~~~~~~~~
Prodigy learns the distance to the solution, ``d``, from two sums over every
parameter of every group: the numerator ``sum_k d_k dlr_k <g_k, x_0 - x_k>``
(decayed by ``beta3``) and the denominator ``|s|_1``, with ``s`` a
``beta3``-average of the gradients. The estimate is global, so a step is two
passes over all groups (the sums, then the update) rather than the per-group
step of ``optim/base.py``; ``d`` and the sums stay in every param group under
prodigyopt's keys (``d``, ``d0``, ``d_max``, ``d_numerator``, ``d_denom``,
``d_hat``, ``k``), so they can be logged and plotted and a state dict moves
between the two. The group's ``lr`` multiplies ``d`` (prodigyopt's documented
use with a schedule: ScheduledLR on ``lr``). The sums are Python floats added
in parameter order on both paths, so ``foreach`` equals ``reference`` up to
the elementwise rounding of ``torch._foreach_*``. Under DDP every rank holds
the same parameters and gradients, so the sums agree without communication;
sharded (DTensor) parameters are not supported yet.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, cast

import torch
from torch import Tensor

from lrkit.optim.base import Optimizer, prepare_grad, register
from lrkit.optim.hyper import BETA, FLAG, NONNEG, POSITIVE
from lrkit.validation import Param

GROUP_STATE = ("d", "d0", "d_max", "d_numerator", "k")  # kept per group, as prodigyopt


@register(
    "prodigy",
    "Prodigy: Adam with a learned step size d (lr-free; lr=1 multiplies d)",
    "prodigyopt.Prodigy",
)
class Prodigy(Optimizer):
    r"""Prodigy, as ``prodigyopt.Prodigy`` (Note [prodigy d]).

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
    }
    steps_in_state = False  # prodigyopt's ``step`` is an int, kept as it is

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
        rate = group.get("growth_rate")
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate >= 1
        ):
            raise ValueError(f"Prodigy: `growth_rate` must be a number >= 1 (inf: no limit), "
                             f"got {rate!r}")  # fmt: skip
        for key, positive in (("d", True), ("d_max", True), ("d_numerator", False)):
            value = group.get(key)  # Note [prodigy d]: restored from state dicts too
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Prodigy: `{key}` must be a number, got {value!r}")
            if not math.isfinite(value) or (positive and value <= 0):
                what = "a positive finite number" if positive else "a finite number"
                raise ValueError(f"Prodigy: `{key}` must be {what}, got {value!r}")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        from lrkit.optim.layout import PLAIN

        params = param_group["params"]
        for item in [params] if isinstance(params, Tensor) else list(params):
            p = item[1] if isinstance(item, tuple) else item
            if isinstance(p, Tensor) and type(p) not in PLAIN:
                raise ValueError(
                    f"Prodigy: sharded parameters ({type(p).__name__}, as FSDP2 makes) are not "
                    "supported yet: the sums of Note [prodigy d] are over whole tensors"
                )
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A state dict of this class or of ``prodigyopt.Prodigy``, checked first
        (Note [state validation]; ``step`` is one integer >= 0, as prodigyopt keeps it)."""
        state = state_dict.get("state") if isinstance(state_dict, dict) else None
        saved = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        ids = [i for g in saved or [] if isinstance(g, dict) for i in g.get("params") or []]
        params = [p for g in self.param_groups for p in g["params"]]
        shapes = {i: list(p.shape) for i, p in zip(ids, params)}
        for index, entry in (state or {}).items():
            step = entry.get("step") if isinstance(entry, dict) else None
            if step is None:
                continue
            number = float(step) if isinstance(step, (int, float, Tensor)) else math.nan
            if isinstance(step, Tensor) and step.numel() != 1:
                number = math.nan
            if isinstance(step, bool) or not (math.isfinite(number) and number >= 0):
                raise ValueError(
                    f"Prodigy.load_state_dict: state 'step' of parameter {index} (shape "
                    f"{shapes.get(index, '?')}) must be one finite number >= 0, got {step!r}"
                )
        super().load_state_dict(state_dict)

    def _buffer_shapes(self, group: dict[str, Any], p: Tensor) -> dict[str, torch.Size]:
        sliced = torch.Size([math.ceil(p.numel() / group["slice_p"])])
        shapes = {"s": sliced, "exp_avg_sq": p.shape}
        if group["betas"][0] > 0:
            shapes["exp_avg"] = p.shape
        return shapes

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0}
        flat = p.detach().flatten()[:: group["slice_p"]]
        state["s"] = torch.zeros_like(flat)
        state["p0"] = flat.clone() if bool(p.any()) else torch.tensor(0, device=p.device,
                                                                      dtype=p.dtype)  # fmt: skip
        if group["betas"][0] > 0:
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One step: the sums over every group, ``d``, then the update (Note [prodigy d])."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        coef = self._clip_coef(getattr(self, "grad_scale", None))
        first = self.param_groups[0]
        beta1, beta2 = first["betas"]
        beta3 = first["beta3"] if first["beta3"] is not None else math.sqrt(beta2)
        k, d, d_max = first["k"], first["d"], first["d_max"]
        lr = max(float(g["lr"]) for g in self.param_groups)
        bias = (
            ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
            if first["use_bias_correction"]
            else 1.0
        )
        dlr = d * lr * bias
        numerator = first["d_numerator"] * beta3
        delta, denom = 0.0, 0.0
        work: list[tuple[dict[str, Any], list[Tensor], list[Tensor], list[dict[str, Any]]]] = []
        for group in self.param_groups:
            if float(group["lr"]) not in (lr, 0.0):
                raise RuntimeError(
                    "Prodigy: param groups may differ in lr only by 0 (a frozen group), got "
                    f"{sorted({float(g['lr']) for g in self.param_groups})}"
                )
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if cast(Tensor, p.grad).is_sparse:
                    raise RuntimeError("Prodigy does not support sparse gradients")
            grads = []
            for p in params:
                g = prepare_grad(cast(Tensor, p.grad), group["maximize"], coef)
                if group["weight_decay"] != 0 and not group["decouple"]:
                    g = g.add(p, alpha=group["weight_decay"])
                grads.append(g)
            states = [self.state[p] for p in params]
            for p, state in zip(params, states):
                if not state:
                    state.update(self._init_state(p, group))
            work.append((group, params, grads, states))
            if float(group["lr"]) > 0.0 and params:
                d_sum, s_sum = self._sums(group, params, grads, states, d, dlr, beta3)
                delta += d_sum
                denom += s_sum
        d_hat = d
        if denom == 0:
            return loss
        if lr > 0.0:
            numerator += delta
            d_hat = first["d_coef"] * numerator / denom
            if d == first["d0"]:
                d = max(d, d_hat)
            d_max = max(d_max, d_hat)
            d = min(d_max, d * first["growth_rate"])
        for group, params, grads, states in work:
            group.update(d_numerator=numerator, d_denom=denom, d=d, d_max=d_max, d_hat=d_hat)
            if params:
                self._update(group, params, grads, states, d, dlr)
            group["k"] = group["k"] + 1
        return loss

    def _sums(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        d: float,
        dlr: float,
        beta3: float,
    ) -> tuple[float, float]:
        """Pass 1 for one group: the moments and ``s``, and the group's terms of the
        numerator and of ``|s|_1``, added in parameter order."""
        beta1, beta2 = group["betas"]
        d0, step = group["d0"], group["slice_p"]
        scale = d if group["safeguard_warmup"] else dlr
        sliced = [g.flatten()[::step] for g in grads]
        if group["impl"] == "reference":
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
        # batch's dots and moment updates read the gradients while they are in cache
        dots: list[Tensor] = []
        norms: list[Tensor] = []
        for idx in _batches(params):
            gs = [grads[i] for i in idx]
            dots += [
                torch.dot(sliced[i], states[i]["p0"] - params[i].flatten()[::step]) for i in idx
            ]
            if beta1 > 0:
                m = [states[i]["exp_avg"] for i in idx]
                torch._foreach_mul_(m, beta1)
                torch._foreach_add_(m, gs, alpha=d * (1 - beta1))
            v = [states[i]["exp_avg_sq"] for i in idx]
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, gs, gs, value=d * d * (1 - beta2))
            ss = [states[i]["s"] for i in idx]
            torch._foreach_mul_(ss, beta3)
            torch._foreach_add_(ss, [sliced[i] for i in idx], alpha=(d / d0) * scale)
            norms += torch._foreach_norm(ss, 1)
        sums = torch.stack([torch.stack(dots).sum(), torch.stack(norms).sum()]).tolist()
        delta, total = (d / d0) * dlr * sums[0], sums[1]
        return delta, total

    def _update(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        d: float,
        dlr: float,
    ) -> None:
        """Pass 2 for one group: the decoupled decay and the step with the new ``d``."""
        beta1, eps, decay = group["betas"][0], group["eps"], group["weight_decay"]
        for state in states:
            state["step"] += 1
        if group["impl"] == "reference":
            for p, g, state in zip(params, grads, states):
                denom = state["exp_avg_sq"].sqrt().add_(d * eps)
                if decay != 0 and group["decouple"]:
                    p.add_(p, alpha=-decay * dlr)
                if beta1 > 0:
                    p.addcdiv_(state["exp_avg"], denom, value=-dlr)
                else:
                    p.addcdiv_(g, denom, value=-dlr * d)
            return
        for idx in _batches(params):
            ps = [params[i] for i in idx]
            denoms = torch._foreach_sqrt([states[i]["exp_avg_sq"] for i in idx])
            torch._foreach_add_(denoms, d * eps)
            if decay != 0 and group["decouple"]:
                torch._foreach_add_(ps, ps, alpha=-decay * dlr)
            if beta1 > 0:
                m = [states[i]["exp_avg"] for i in idx]
                torch._foreach_addcdiv_(ps, m, denoms, value=-dlr)
            else:
                torch._foreach_addcdiv_(ps, [grads[i] for i in idx], denoms, value=-dlr * d)


def _batches(params: list[Tensor]) -> list[list[int]]:
    """Note [cache batches] (``optim/layout.py``) for whole tensors: consecutive indices
    of about ``CPU_BATCH`` elements on the CPU, so that a chain of foreach ops finds its
    operands in cache; one batch elsewhere."""
    from lrkit.optim import layout

    if not params or params[0].device.type != "cpu":
        return [list(range(len(params)))]
    out: list[list[int]] = []
    size = 0
    for i, p in enumerate(params):
        if not out or size + p.numel() > layout.CPU_BATCH:
            out.append([])
            size = 0
        out[-1].append(i)
        size += p.numel()
    return out


__all__ = ["GROUP_STATE", "Prodigy"]
