"""What every lrkit optimizer shares: validation, the `impl` dispatch, gradient
preparation (``maximize``, ``max_grad_norm``), state gathering and the registry.

An algorithm subclasses :class:`Optimizer` and supplies

* ``hyper``: each hyperparameter's accepted values (a :class:`Param`), checked
  for the defaults and for every param group at construction;
* ``_init_state(p, group)``: the per-parameter state, under the reference
  implementation's keys;
* ``_buffers(group)``: the state keys that hold a tensor shaped like the param,
  or, with ``_buffer_shapes(group, p)``, the shapes a param's buffers have
  (Adafactor's factored moments; a key that does not apply to ``p`` reaches
  the paths as None);
* ``scalar_state``: per-parameter 0-dim float32 state the update reads besides
  ``step`` (NAdam's ``mu_product``; Note [scalar state]);
* ``_reference(...)``: the per-tensor update that reads like the docstring;
* ``_foreach(...)``: the same update on lists of tensors of one device and dtype;
* optionally ``_fused(...)`` with ``fused_kernels = True``: the update with
  lrkit's fused kernels for ``impl="fused"`` (C++ on the CPU, Triton on CUDA;
  see ``optim/fused.py``), or ``_torch_kernel``/``_torch_step``: torch's own
  fused CPU kernel, which ``auto`` and ``fused`` run.

Note [gradients]: the update reads ``g``, which is ``p.grad`` negated under
``maximize`` and multiplied by the clipping coefficient under
``max_grad_norm``; ``p.grad`` itself is never modified. The coefficient follows
:func:`torch.nn.utils.clip_grad_norm_` (``max_norm / (total_norm + 1e-6)``,
at most 1), so ``clip_grad_norm_`` followed by a step gives the same
parameters as a step with ``max_grad_norm``.

Note [amp]: with ``impl="fused"``, lrkit's kernels take ``torch.amp.GradScaler``'s
scale and inf flag as torch's fused Adam does (``_step_supports_amp_scaling``):
``scaler.step(opt)`` sets ``opt.grad_scale`` and ``opt.found_inf`` instead of
unscaling the grads; the step then divides ``g`` by the scale inside the
kernels (folded into the factor of Note [gradients], so ``p.grad`` stays
scaled) and, when ``found_inf`` is set, returns without touching params,
state or step counters. Reading ``found_inf`` costs a sync on CUDA.

Note [scalar state]: a per-parameter number a reference keeps as a 0-dim
float32 CPU tensor (NAdam's ``mu_product``) reaches the paths beside the
buffers, in ``buf``/``bufs`` under its key. torch's ``load_state_dict`` casts
every state tensor but ``step`` to the parameter's dtype and device, so a
resumed torch NAdam multiplies ``mu_product`` in another precision than the
uninterrupted run and drifts; lrkit checks each one is a finite number and
keeps it in float32 on the CPU, so a resumed run is bit-identical.

Note [auto fused] (which path a step runs) is in ``optim/dispatch.py``.

Note [step counter]: optimizers whose reference keeps ``state["step"]`` keep it
as torch does, a 0-dim float32 tensor on the CPU, so state dicts move between
torch.optim and lrkit both ways; the base class increments it before the
update, and the update receives the new counts as floats.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, cast

import torch
from torch import Tensor

from lrkit.optim.dispatch import PATHS, Path, StepContext, check_fused, resolve
from lrkit.optim.hyper import (
    MAX_GRAD_NORM,
    check_betas,
    check_impl,
    check_lr,
    check_value,
    impl_from_torch_keywords,
    step_values,
)
from lrkit.optim.layout import CPU_BATCH, PLAIN, Buffers, TensorList, cache_batches, torch_fused_ok
from lrkit.optim.state_dicts import check_buffers, check_state_dict, replicate_small_buffers
from lrkit.optim.updates import (
    add_scaled_,
    as_float,
    foreach_add_scaled_,
    foreach_axpby_,
    foreach_square_average_,
    foreach_weight_decay_,
    global_norm,
    grads_of,
    prepare_grad,
    prepare_grads,
    weight_decay_,
)
from lrkit.registry import Registry
from lrkit.validation import Param, normalize


class Optimizer(torch.optim.Optimizer):
    """Base of the lrkit optimizers (see the module docstring)."""

    hyper: ClassVar[dict[str, Param]] = {}
    supports_complex: ClassVar[bool] = False
    splittable: ClassVar[bool] = False  # elementwise update: Note [cache batches] may split tensors
    fused_kernels: ClassVar[bool] = False  # has ``_fused`` (optim/fused.py)
    steps_in_state: ClassVar[bool] = True  # Note [step counter]
    lazy_buffers: ClassVar[bool] = False  # Note [state validation]: buffers made on first use
    scalar_state: ClassVar[tuple[str, ...]] = ()  # Note [scalar state]
    sharded: ClassVar[bool] = True  # takes FSDP2's DTensor parameters (docs/distributed.md)
    int_steps: ClassVar[bool] = False  # the reference's ``step`` is an int, checked on load

    def __init__(
        self,
        params: Any,
        defaults: dict[str, Any],
        *,
        impl: str = "auto",
        max_grad_norm: float | None = None,
        **torch_keywords: Any,
    ) -> None:
        """``defaults`` are the algorithm's hyperparameters; ``impl`` and
        ``max_grad_norm`` join them (every param group has them, as the state dict
        does); ``torch_keywords`` are Note [torch keywords]'s."""
        owner = type(self).__name__
        defaults = {
            **defaults,
            "impl": impl_from_torch_keywords(owner, impl, torch_keywords),
            "max_grad_norm": normalize(owner, "max_grad_norm", MAX_GRAD_NORM, max_grad_norm),
        }
        self._check_group(defaults)
        if isinstance(params, Tensor):
            raise TypeError(
                f"{owner}: `params` must be an iterable of tensors or of dicts, got a Tensor"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{owner}: `params` is empty; pass at least one tensor to optimize")
        super().__init__(params, defaults)

    @property
    def impl(self) -> str:
        """The ``impl`` the optimizer was built with (each param group has its own)."""
        return self.defaults["impl"]  # type: ignore[no-any-return]

    @property
    def max_grad_norm(self) -> float | None:
        """The global-norm clip, one for all param groups (Note [gradients])."""
        return self.param_groups[0]["max_grad_norm"] if self.param_groups else None

    @functools.cached_property
    def _auto_kernels(self) -> bool:
        """Note [auto fused]: whether ``auto`` runs lrkit's fused CPU kernels (AdamP, SGDP,
        LAMB, Prodigy, D-Adaptation): when they are already built, decided once per
        optimizer so that a run never switches paths midway (the paths round differently)."""
        from lrkit.optim import fused_cpu

        return fused_cpu.compiler_problem() is None and fused_cpu.built()

    @property
    def _step_supports_amp_scaling(self) -> bool:
        """Note [amp]: GradScaler hands a fused step its scale and inf flag."""
        return self.fused_kernels and any(g["impl"] == "fused" for g in self.param_groups)

    # -- construction ---------------------------------------------------------

    def _check_group(self, group: dict[str, Any]) -> None:
        owner = type(self).__name__
        for key, spec in self.hyper.items():
            if key not in group:
                continue
            if key == "lr":
                group[key] = check_lr(owner, group[key])
            elif key == "betas":
                group[key] = check_betas(owner, group[key], spec)
            else:
                group[key] = check_value(owner, key, spec, group[key])
        if "impl" in group:
            group["impl"] = check_impl(owner, group["impl"])
        if "max_grad_norm" in group:
            norm = normalize(owner, "max_grad_norm", MAX_GRAD_NORM, group["max_grad_norm"])
            group["max_grad_norm"] = norm
        self._check_combination(group)

    def _check_one_clip(self, groups: Sequence[dict[str, Any]]) -> None:
        """``max_grad_norm`` clips the norm of all gradients together: one value."""
        norms = {g.get("max_grad_norm") for g in groups}
        if len(norms) > 1:
            raise ValueError(
                f"{type(self).__name__}: `max_grad_norm` clips the norm of all gradients "
                f"together, so every param group has the same; got {sorted(map(str, norms))}"
            )

    def _check_combination(self, group: dict[str, Any]) -> None:
        """Cross-argument checks of one group (e.g. nesterov needs momentum)."""

    def _check_params(self, tensors: list[Tensor], group: dict[str, Any]) -> None:
        """What an algorithm requires of a new group's tensors (Muon: 2-D)."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        owner = type(self).__name__
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        tensors = [
            p[1] if isinstance(p, tuple) and len(p) == 2 else p for p in params
        ]  # named params
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(f"{owner}: `params` must hold tensors, got {type(p).__name__}")
            if p.is_complex() and not self.supports_complex:
                raise ValueError(f"{owner}: complex parameters are not supported, got {p.dtype}")
            if not self.sharded and type(p) not in PLAIN:
                raise ValueError(
                    f"{owner}: sharded parameters ({type(p).__name__}, as FSDP2 makes) are not "
                    "supported yet: its update reads whole tensors (DDP works)"
                )
        # the same tensor twice in one group: torch warns (in add_param_group), and
        # so does lrkit; in two groups both raise
        if param_group.get("impl", self.impl) == "fused":
            self._check_fused(tensors)
        candidate = {**self.defaults, **param_group}  # checked before it is added
        self._check_params(tensors, candidate)
        self._check_group(candidate)
        self._check_one_clip([*self.param_groups, candidate])
        super().add_param_group({**param_group, "params": params})
        self._check_group(self.param_groups[-1])

    @classmethod
    def fused_on(cls, device: str) -> bool:
        """Whether ``impl="fused"`` exists for this class on ``device`` ("cpu", "cuda"):
        lrkit's kernels (``fused_kernels``), or torch's fused CPU kernel (``_torch_kernel``)."""
        torch_kernel = cls._torch_kernel is not Optimizer._torch_kernel
        return (cls.fused_kernels and device in ("cpu", "cuda")) or (
            torch_kernel and device == "cpu"
        )

    def _check_fused(self, tensors: list[Tensor]) -> None:
        check_fused(self, tensors, [info.cls for info in REGISTRY.values()])

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict of this class or of the reference implementation.

        Hyperparameters the loaded groups lack (lrkit-only options, or a
        reference written before an option existed) keep their current values.
        The whole state dict is checked first (Note [state validation]): a
        wrong-shaped buffer, a missing key or an invalid hyperparameter is a
        ``ValueError`` naming it, and nothing has changed.
        """
        merged = check_state_dict(
            type(self).__name__,
            state_dict,
            self.param_groups,
            self._check_group,
            self._buffer_shapes,
            lazy_buffers=self.lazy_buffers,
            steps_in_state=self.steps_in_state,
            scalars=self.scalar_state,
            step_if_present=self.int_steps,
        )
        self._check_one_clip(merged)
        scalars = self._saved_scalars(state_dict)
        super().load_state_dict(state_dict)
        for p, saved in scalars.items():  # Note [scalar state]: float32, not the param's dtype
            self.state[p].update(saved)
        for group, checked in zip(self.param_groups, merged, strict=True):
            for key, value in checked.items():  # normalised; tensors stay torch's copies
                if key != "params" and not isinstance(group.get(key), Tensor):
                    group[key] = value
        for state in self.state.values():
            step = state.get("step")
            if step is not None and not isinstance(step, Tensor) and self.steps_in_state:
                state["step"] = torch.tensor(float(step), dtype=torch.float32)
        replicate_small_buffers(self.param_groups, self.state, self._buffer_shapes)

    def _saved_scalars(self, state_dict: dict[str, Any]) -> dict[Tensor, dict[str, Tensor]]:
        """Note [scalar state]: the incoming ``scalar_state`` values as float32 CPU
        tensors, by the parameter they will belong to (checked already)."""
        if not self.scalar_state:
            return {}
        ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        out: dict[Tensor, dict[str, Tensor]] = {}
        for sid, p in zip(ids, params, strict=True):
            entry = state_dict["state"].get(sid) or {}
            values = {
                k: torch.tensor(float(entry[k]), dtype=torch.float32)
                for k in self.scalar_state
                if k in entry
            }
            if values:
                out[p] = values
        return out

    # -- the step -------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        found_inf = getattr(self, "found_inf", None)  # Note [amp]
        if found_inf is not None and bool(found_inf):
            return loss
        coef = self._clip_coef(getattr(self, "grad_scale", None))
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if cast(Tensor, p.grad).is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            self._group_step(group, params, coef)
        return loss

    def _clip_coef(self, grad_scale: Tensor | None = None) -> Tensor | None:
        """The factor on every gradient (Note [gradients]): the clipping coefficient
        under ``max_grad_norm`` over ``1 / grad_scale`` (Note [amp]), or None for 1."""
        unscale = None if grad_scale is None else 1.0 / torch.as_tensor(grad_scale)
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        if self.max_grad_norm is None or not grads:
            return unscale
        norm = global_norm(grads)
        if unscale is None:
            return self._clip_rule(norm, self.max_grad_norm)
        unscale = unscale.to(norm.device)
        coef: Tensor = self._clip_rule(norm * unscale, self.max_grad_norm) * unscale
        return coef

    def _clip_rule(self, norm: Tensor, max_norm: float) -> Tensor:
        """torch.nn.utils.clip_grad_norm_'s: ``min(1, max_norm / (norm + 1e-6))``."""
        coef: Tensor = (max_norm / (norm + 1e-6)).clamp(max=1.0)
        return coef

    def explain(self) -> str:
        """Which path each param group's next step runs, and why (Note [auto fused]).

        >>> import torch, lrkit.optim as lo
        >>> print(lo.SGD([torch.zeros(3, requires_grad=True)], lr=0.1, impl="reference").explain())
        group 0 (1 tensor): reference -- impl='reference': the per-tensor update
        """
        scaled = self.max_grad_norm is not None
        lines = []
        for i, group in enumerate(self.param_groups):
            n = len(group["params"])
            path = resolve(self, cast(dict[str, Any], step_values(group)), group["params"], scaled)
            lines.append(f"group {i} ({n} tensor{'s' if n != 1 else ''}): {path}")
        return "\n".join(lines)

    def _group_step(self, group: dict[str, Any], params: list[Tensor], coef: Tensor | None) -> None:
        """One group's step: the algorithm's per-step bookkeeping, the state of new
        params, then the path :func:`resolve` picks, with an explicit :class:`StepContext`."""
        now = self._begin_group(group)  # also for a group without grads, as timm's Lamb counts
        if not params:
            self._end_group(group)
            return
        view = cast(dict[str, Any], step_values(group))  # Note [tensor hyperparameters]
        states = [self.state[p] for p in params]
        fresh = frozenset(self._ensure_state(view, params, states))
        path = resolve(self, view, params, coef is not None)
        if path.name == "torch":
            check_buffers(type(self).__name__, params, states, self._buffers(view))
            self._torch_step(view, params, states, StepContext(fresh, coef, now))
        else:
            self._lrkit_step(view, params, states, path, StepContext(fresh, coef, now))
        self._end_group(group)

    def _lrkit_step(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        states: list[dict[str, Any]],
        path: Path,
        ctx: StepContext,
    ) -> None:
        """The reference, fused and foreach paths: count the step, view complex
        tensors as real, then run ``_reference``, ``_fused`` (falling back to
        ``_foreach`` for the tensors the kernels do not take) or ``_foreach``."""
        steps: list[float] = []
        if self.steps_in_state:
            tensors = [s["step"] for s in states]
            torch._foreach_add_(tensors, 1.0)
            steps = [float(t) for t in tensors]
        # an empty tensor has its state and step count, as in torch, but nothing to update
        if any(p.numel() == 0 for p in params):
            kept = [i for i, p in enumerate(params) if p.numel()]
            params, states = [params[i] for i in kept], [states[i] for i in kept]
            steps = [steps[i] for i in kept] if steps else steps
            if not params:
                return
        keys = (*self._buffers(group), *self.scalar_state)
        real = self.supports_complex and any(p.is_complex() for p in params)
        view = torch.view_as_real if real else _same
        ps = [_real(p, view) for p in params]
        fresh = {id(v) for v, p in zip(ps, params, strict=True) if id(p) in ctx.fresh}
        ctx = dataclasses.replace(ctx, fresh=ctx.fresh | fresh)
        # a buffer that does not apply to a param is None (Adafactor's factored ones);
        # validated state has every buffer of ``_buffer_shapes``
        bufs = cast(
            dict[str, list[Tensor]],
            {k: [_optional_real(s.get(k), view) for s in states] for k in keys},
        )
        maximize, coef = group.get("maximize", False), ctx.coef
        if path.name == "reference":
            for i, p in enumerate(params):
                g = prepare_grad(_real(p.grad, view), maximize, coef)
                step = steps[i] if steps else 0.0
                self._reference(group, ps[i], g, {k: v[i] for k, v in bufs.items()}, step, ctx)
            return
        gs = [_real(p.grad, view) for p in params]
        if path.name == "fused":
            check_buffers(type(self).__name__, params, states, keys)
            rest = self._fused_step(group, ps, gs, bufs, steps, ctx)
            if not rest:
                return
            ps, gs = [ps[i] for i in rest], [gs[i] for i in rest]
            bufs = {k: [b[i] for i in rest] for k, b in bufs.items()}
            steps = [steps[i] for i in rest] if steps else []
        lists: list[list[Tensor | None]] = [list(ps), list(gs)]
        lists += [list(b) for b in bufs.values()]
        grouped = torch.optim.Optimizer._group_tensors_by_device_and_dtype(lists, with_indices=True)
        for part, indices in grouped.values():
            tensors = cast(list[list[Tensor]], part)
            part_steps = [steps[i] for i in indices] if steps else []
            for batch, batch_steps in cache_batches(tensors, part_steps, self.splittable):
                p_, g_, *b_ = batch
                grads = prepare_grads(g_, maximize, coef)
                self._foreach(group, p_, grads, dict(zip(keys, b_, strict=True)), batch_steps, ctx)

    def _ensure_state(
        self, group: dict[str, Any], params: list[Tensor], states: list[dict[str, Any]]
    ) -> set[int]:
        """Create the state of params that have none (and, with ``lazy_buffers``, the
        buffers a loaded state lacks); returns the ids of the params this step starts."""
        fresh: set[int] = set()
        for p, state in zip(params, states, strict=True):
            if not state:
                state.update(self._init_state(p, group))
                fresh.add(id(p))
            elif self.lazy_buffers:
                missing = [k for k in self._buffers(group) if state.get(k) is None]
                if missing:
                    init = self._init_state(p, group)
                    state.update({k: init[k] for k in missing})
                    fresh.add(id(p))
        return fresh

    def _fused_step(
        self,
        group: dict[str, Any],
        ps: list[Tensor],
        gs: list[Tensor],
        bufs: dict[str, list[Tensor]],
        steps: list[float],
        ctx: StepContext,
    ) -> list[int]:
        """``_fused`` (optim/fused.py) on the tensors the kernels take, one call per
        device, dtype and step count; returns the indices of the others (for ``_foreach``)."""
        from lrkit.optim import fused

        keys = list(bufs)
        rest: list[int] = []
        calls: dict[tuple[torch.device, torch.dtype, float], list[int]] = {}
        for i, p in enumerate(ps):
            others = (gs[i], *(bufs[k][i] for k in keys))
            if fused.runs_on(p, group["impl"]) and fused.takes(p, *others):
                calls.setdefault((p.device, p.dtype, steps[i] if steps else 0.0), []).append(i)
            else:
                rest.append(i)
        scale = -1.0 if group.get("maximize", False) else 1.0
        if ctx.coef is not None:
            scale *= float(ctx.coef)
        for (device, _, step), idx in calls.items():
            self._fused(
                group,
                fused.kernels(device),
                [ps[i] for i in idx],
                [gs[i] for i in idx],
                {k: [bufs[k][i] for i in idx] for k in keys},
                step,
                scale,
                ctx,
            )
        return rest

    # -- what an algorithm supplies ---------------------------------------------

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """``step`` (Note [step counter]) and a zero tensor for each of ``_buffer_shapes``."""
        state: dict[str, Any] = {"step": torch.tensor(0.0)} if self.steps_in_state else {}
        for key, shape in self._buffer_shapes(group, p).items():
            state[key] = (
                torch.zeros_like(p, memory_format=torch.preserve_format)
                if shape == p.shape
                else p.new_zeros(shape)
            )
        return state

    def _buffers(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ()

    def _buffer_shapes(self, group: dict[str, Any], p: Tensor) -> dict[str, torch.Size]:
        """The buffers ``p`` has, with their shapes: each of ``_buffers``, shaped like ``p``."""
        return dict.fromkeys(self._buffers(group), p.shape)

    def _begin_group(self, group: dict[str, Any]) -> Any:
        """Per-group bookkeeping before the update (a group step counter, schedule-free's
        averaging weight); what it returns reaches the paths as ``ctx.now``."""
        return None

    def _end_group(self, group: dict[str, Any]) -> None:
        """Per-group bookkeeping after the update."""

    def _reference(
        self,
        group: dict[str, Any],
        p: Tensor,
        g: Tensor,
        buf: dict[str, Tensor],
        step: float,
        ctx: StepContext,
    ) -> None:
        raise NotImplementedError

    def _foreach(
        self,
        group: dict[str, Any],
        params: TensorList,
        grads: TensorList,
        bufs: Buffers,
        steps: list[float],
        ctx: StepContext,
    ) -> None:
        raise NotImplementedError

    def _fused(
        self,
        group: dict[str, Any],
        kernels: Any,
        params: list[Tensor],
        grads: list[Tensor],
        bufs: dict[str, list[Tensor]],
        step: float,
        scale: float,
        ctx: StepContext,
    ) -> None:
        """The update with lrkit's fused ``kernels`` for the params' device (when
        ``fused_kernels``; optim/fused.py); the grads are raw, ``g = scale * grad``
        (Note [gradients]), all tensors of one device, dtype and step count."""
        raise NotImplementedError

    def _torch_kernel(self, group: dict[str, Any]) -> bool:
        """Whether torch.optim has a fused kernel for this group's update, which
        ``auto`` and ``fused`` run (through ``_torch_step``) when :func:`torch_fused_ok`."""
        return False

    def _torch_step(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        states: list[dict[str, Any]],
        ctx: StepContext,
    ) -> None:
        raise NotImplementedError


def _same(t: Tensor) -> Tensor:
    return t


def _optional_real(t: Tensor | None, view: Callable[[Tensor], Tensor]) -> Tensor | None:
    return None if t is None else _real(t, view)


def _real(t: Tensor | None, view: Callable[[Tensor], Tensor]) -> Tensor:
    t = cast(Tensor, t)  # the caller kept only params with a grad
    return view(t) if t.is_complex() else t


# -- registry ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OptimizerInfo:
    """One registered optimizer: what ``list_optimizers`` and ``create_optimizer`` read."""

    name: str
    cls: type[Optimizer]
    description: str
    reference: str  # the implementation whose numbers and state keys it follows


REGISTRY: Registry[OptimizerInfo] = Registry(
    "optimizer", key=lambda name: name.lower().replace("-", "_")
)


def register(
    name: str, description: str, reference: str
) -> Callable[[type[Optimizer]], type[Optimizer]]:
    def wrap(cls: type[Optimizer]) -> type[Optimizer]:
        REGISTRY.add(name, OptimizerInfo(name, cls, description, reference))
        return cls

    return wrap


def list_optimizers() -> list[OptimizerInfo]:
    """Every registered optimizer, sorted by name."""
    return [REGISTRY[k] for k in REGISTRY.names()]


def lookup(name: str) -> OptimizerInfo:
    """The optimizer registered as ``name`` (case and ``-``/``_`` folded)."""
    if not isinstance(name, str):
        raise TypeError(f"`name` must be an optimizer name, got {name!r}")
    return REGISTRY.get_or_raise(name)


__all__ = [
    "CPU_BATCH",
    "PATHS",
    "PLAIN",
    "REGISTRY",
    "Buffers",
    "Optimizer",
    "OptimizerInfo",
    "Path",
    "StepContext",
    "TensorList",
    "add_scaled_",
    "as_float",
    "cache_batches",
    "foreach_add_scaled_",
    "foreach_axpby_",
    "foreach_square_average_",
    "foreach_weight_decay_",
    "global_norm",
    "grads_of",
    "list_optimizers",
    "lookup",
    "prepare_grad",
    "prepare_grads",
    "register",
    "resolve",
    "torch_fused_ok",
    "weight_decay_",
]
