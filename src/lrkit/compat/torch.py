"""torch's schedulers (``torch.optim.lr_scheduler`` and ``swa_utils.SWALR``), same names,
arguments and numbers.

Every class subclasses torch's ``LRScheduler``, takes the anchor's
arguments, keeps its state-dict keys (``last_epoch``, ``base_lrs``,
``_last_lr``, ``_step_count`` and each class's own), loads state dicts the
anchor wrote, and computes its values from native schedules: ``schedules``
gives each param group's lr as a :class:`~lrkit.schedules.Schedule` to plot,
print or serialise.

Note [chained schedulers]
~~~~~~~~~~~~~~~~~~~~~~~~~
torch's *chainable* schedulers (StepLR, MultiStepLR, ConstantLR, LinearLR,
ExponentialLR, PolynomialLR, CosineAnnealingLR) compute each lr from the
one they find in the param group, so another scheduler on the same optimizer
(``ChainedScheduler``, or two stepped by hand) or a manual
``group["lr"] = ...`` changes everything they do next. The classes here
compute ``lr = schedule(t)`` in closed form (no drift) while the group's lr
is the one they last wrote; from the first step where it is not, that group
follows torch's one-step rule applied to the lr it finds, for good (until a
closed-form ``step(epoch)``), so stacked schedulers and manual edits give
torch's numbers. Where that rule cannot be continued (a factor that went
through 0 and rises again) they raise ``RuntimeError`` rather than diverge.
A resume through the constructor (``last_epoch=k``) keeps torch's
behaviour: ExponentialLR, PolynomialLR, CosineAnnealingLR (and LinearLR past
step 0) keep the lr they find, the others take one step from it.

Deliberate differences (``ValueError`` at construction where torch crashes
later or silently misbehaves): non-positive ``gamma``, ``step_size`` or
``T_max``; ``total_iters < 1``; ``ConstantLR(factor=0)`` (torch divides by
zero at ``total_iters``); a OneCycleLR whose phases are empty or out of
order (``pct_start * total_steps <= 1``, ``pct_start = 1``, or a
three-phase cycle whose second phase ends after the third);
``ReduceLROnPlateau(factor <= 0)``; a CyclicLR ``exp_range`` with
``gamma > 1``. One-element tensors are taken for lrs and momenta, as torch
takes them, and read as floats: torch's CyclicLR given a tensor ``base_lr``
over float lrs makes each group's lr that very tensor and then updates it in
place, so its base drifts; lrkit's keeps the base. Callables (``LambdaLR``'s
and ``MultiplicativeLR``'s ``lr_lambda``, ``CyclicLR``'s ``scale_fn``) are
accepted as torch accepts them; like torch, a state dict keeps only a
callable object's ``__dict__`` (a function or lambda is not saved), except a
native Schedule given as ``lr_lambda``, which is saved whole.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import ChainedScheduler as _TorchChained
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.lr_scheduler import SequentialLR as _TorchSequential

from lrkit.lr_scheduler import _as_float, _lrs, _write
from lrkit.schedules import (
    Constant,
    CosineRestarts,
    Cyclic,
    Exponential,
    Join,
    Linear,
    MultiStep,
    Piecewise,
    Polynomial,
    ReduceOnPlateau,
    Repeat,
    Scale,
    Schedule,
    StepDecay,
    Sum,
)
from lrkit.schedules.params import Param, normalize
from lrkit.schedules.shapes import segment


def _check(owner: str, name: str, value: Any, **spec: Any) -> Any:
    return normalize(owner, name, Param(**spec), value)


def _optimizer(owner: str, optimizer: Any) -> torch.optim.Optimizer:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"{owner}: `optimizer` must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    return optimizer


def _last_epoch(owner: str, value: Any) -> int:
    return int(_check(owner, "last_epoch", value, kind="int", lo=-1))


def _per_group(
    owner: str, name: str, optimizer: torch.optim.Optimizer, value: Any, **spec: Any
) -> list[float]:
    """One float per param group from a scalar or a list (torch's ``_format_param``)."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{owner}: `{name}` has {len(value)} values but the optimizer has {n} param groups"
            )
        return [
            float(_check(owner, f"{name}[{i}]", _number(owner, f"{name}[{i}]", v), **spec))
            for i, v in enumerate(value)
        ]
    return [float(_check(owner, name, _number(owner, name, value), **spec))] * n


def _number(owner: str, name: str, value: Any) -> Any:
    """A one-element tensor as its float (torch accepts them); anything else as it is."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            raise ValueError(
                f"{owner}: `{name}` must be a number or a one-element tensor, "
                f"got a tensor of shape {list(value.shape)}"
            )
        return float(value.detach().reshape(()).cpu())
    return value


def _set_momentum(group: dict[str, Any], use_beta1: bool, value: float) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _momentum_kind(owner: str, optimizer: torch.optim.Optimizer) -> bool:
    """``True`` if the optimizer's momentum is ``betas[0]`` (torch's ``use_beta1``)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{owner}: optimizer must support momentum or beta1 with `cycle_momentum` "
            "option enabled"
        )
    return "betas" in optimizer.defaults


class NativeSchedules:
    """``schedules``: each hyperparameter a compat scheduler drives, as a list of one
    native schedule per param group -- ``{"lr": [...]}``, the shape of
    :attr:`lrkit.ScheduledLR.schedules` (and of every compat module's)."""

    @property
    def schedules(self) -> dict[str, list[Schedule]]:
        return {"lr": self.lr_schedules}  # type: ignore[attr-defined]


class _Chainable(NativeSchedules, LRScheduler):
    """A chainable torch scheduler over one native factor schedule (Note [chained schedulers]).

    Subclasses set their configuration, then call ``super().__init__``;
    they define ``_factor()`` (the unit schedule ``f``: ``lr = base * f(t)``)
    or override ``_group_schedule``/``_closed``/``_advance`` where torch's
    rule is not a ratio of factors.
    """

    _holds_from: int | None = 0  # in the initial step at t >= this, torch keeps the lr

    def __init__(self, optimizer: torch.optim.Optimizer, last_epoch: int) -> None:
        owner = type(self).__name__
        _optimizer(owner, optimizer)
        self._chained = [False] * len(optimizer.param_groups)
        self._cache: tuple[tuple[float, ...], list[Schedule]] | None = None
        self._unit: Schedule | None = None
        super().__init__(optimizer, _last_epoch(owner, last_epoch))

    def _factor(self) -> Schedule:
        raise NotImplementedError

    @property
    def unit(self) -> Schedule:
        """The unit schedule ``f`` (built once from the configuration)."""
        if self._unit is None:
            self._unit = self._factor()
        return self._unit

    def _group_schedule(self, base: float) -> Schedule:
        return Scale(self.unit, base)

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each param group's lr as a native schedule of ``last_epoch``."""
        bases = tuple(_as_float(b) for b in self.base_lrs)
        if self._cache is None or self._cache[0] != bases:
            self._cache = (bases, [self._group_schedule(b) for b in bases])
        return self._cache[1]

    def _closed(self, t: float) -> list[float]:
        """Every group's lr at ``t`` in closed form: ``base * f(t)``."""
        value = float(self.unit(t))
        return [_as_float(b) * value for b in self.base_lrs]

    def _advance(self, current: float, t: int, i: int) -> float:
        """torch's one-step rule from the lr ``current`` found in group ``i``."""
        f = self.unit
        now, before = float(f(t)), float(f(t - 1)) if t > 0 else 1.0
        if now == before:
            return current
        if before == 0.0:
            raise RuntimeError(
                f"{type(self).__name__}: param group {i}'s lr was changed from outside this "
                f"scheduler and torch's rule would divide by a zero factor at step {t}; "
                "lrkit cannot continue it (Note [chained schedulers])"
            )
        return current * (now / before)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        t = self.last_epoch
        closed = self._closed(t)
        holds = self._is_initial and self._holds_from is not None and t >= self._holds_from
        if self._is_initial and not holds:  # the lr the group should hold before this step
            before = self._closed(t - 1) if t > 0 else [_as_float(b) for b in self.base_lrs]
        out = []
        for i, group in enumerate(self.optimizer.param_groups):
            current = _as_float(group["lr"])
            if holds:
                self._chained[i] = current != closed[i]
                out.append(current)
                continue
            if self._is_initial:
                self._chained[i] = current != before[i]
            elif t == 0 or current != _as_float(self._last_lr[i]):
                # t == 0 outside the initial step: stepped again after SequentialLR undid
                # its construction step, torch applies its rule to the lr it finds
                self._chained[i] = True
            out.append(self._advance(current, t, i) if self._chained[i] else closed[i])
        return out

    def _get_closed_form_lr(self) -> list[float]:
        """``step(epoch)``: the closed form from ``base_lrs``, as torch does."""
        self._chained = [False] * len(self.optimizer.param_groups)
        return self._closed(self.last_epoch)

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_cache", "_unit")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by torch's."""
        self.__dict__.update(state_dict)
        if "_chained" not in state_dict:  # torch's own state dict
            self._chained = [False] * len(self.optimizer.param_groups)
        self._cache = self._unit = None


class StepLR(_Chainable):
    """``lr = base * gamma ** (t // step_size)`` (torch's ``StepLR``)."""

    _holds_from = None

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        step_size: int,
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.step_size = int(_check("StepLR", "step_size", step_size, kind="int", lo=1))
        self.gamma = _check("StepLR", "gamma", gamma, kind="float", lo=0.0, lo_open=True)
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> Schedule:
        return StepDecay(self.step_size, self.gamma)


class MultiStepLR(_Chainable):
    """``lr = base * gamma ** #{m in milestones : m <= t}`` (torch's ``MultiStepLR``).

    Milestones may come in any order and repeat (a repeated one compounds),
    as torch's ``Counter`` allows.
    """

    _holds_from = None

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        owner = "MultiStepLR"
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise TypeError(f"{owner}: `milestones` must be a list of integers, got {milestones!r}")
        self._milestones = tuple(
            sorted(_check(owner, "milestones", list(milestones), kind="ints", lo=0))
        )
        self.gamma = _check(owner, "gamma", gamma, kind="float", lo=0.0, lo_open=True)
        super().__init__(optimizer, last_epoch)

    @property
    def milestones(self) -> dict[int, int]:
        """Milestone -> count, as torch's ``Counter``."""
        out: dict[int, int] = {}
        for m in self._milestones:
            out[m] = out.get(m, 0) + 1
        return out

    def _factor(self) -> Schedule:
        return MultiStep(self._milestones, self.gamma) if self._milestones else Constant(1.0)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["milestones"] = self.milestones
        del state["_milestones"]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        counts = state.pop("milestones")
        self._milestones = tuple(sorted(m for m, c in counts.items() for _ in range(c)))
        super().load_state_dict(state)


class ConstantLR(_Chainable):
    """``lr = base * factor`` for ``t < total_iters``, then ``base`` (torch's ``ConstantLR``)."""

    _holds_from = None

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        owner = "ConstantLR"
        self.factor = _check(owner, "factor", factor, kind="float", lo=0.0, hi=1.0, lo_open=True)
        self.total_iters = int(_check(owner, "total_iters", total_iters, kind="int", lo=1))
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> Schedule:
        return Join((Constant(self.factor), Constant(1.0)), (self.total_iters,))


class LinearLR(_Chainable):
    """``lr = base * (start + (end - start) * min(t, total_iters) / total_iters)`` (torch's)."""

    _holds_from = 1

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        owner = "LinearLR"
        self.start_factor = _check(
            owner, "start_factor", start_factor, kind="float", lo=0.0, hi=1.0, lo_open=True
        )
        self.end_factor = _check(owner, "end_factor", end_factor, kind="float", lo=0.0, hi=1.0)
        self.total_iters = int(_check(owner, "total_iters", total_iters, kind="int", lo=1))
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> Schedule:
        return Linear(self.total_iters, start=self.start_factor, end=self.end_factor)


class ExponentialLR(_Chainable):
    """``lr = base * gamma ** t`` (torch's ``ExponentialLR``)."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, gamma: float, last_epoch: int = -1
    ) -> None:
        self.gamma = _check("ExponentialLR", "gamma", gamma, kind="float", lo=0.0, lo_open=True)
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> Schedule:
        return Exponential(self.gamma)

    def _advance(self, current: float, t: int, i: int) -> float:
        return current * float(self.gamma)  # the ratio, without its rounding (also at t == 0)


class PolynomialLR(_Chainable):
    """``lr = base * (1 - min(t, total_iters) / total_iters) ** power`` (torch's)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        owner = "PolynomialLR"
        self.total_iters = int(_check(owner, "total_iters", total_iters, kind="int", lo=1))
        self.power = _check(owner, "power", power, kind="float", lo=0.0, lo_open=True)
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> Schedule:
        return Polynomial(self.total_iters, power=self.power)

    def _advance(self, current: float, t: int, i: int) -> float:
        """torch's rule: the ratio of the bases before the power (also at t == 0)."""
        n = self.total_iters
        if t > n:
            return current
        ratio: float = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** float(self.power)
        return current * ratio


class CosineAnnealingLR(_Chainable):
    """``lr = eta_min + (base - eta_min) * (1 + cos(pi t / T_max)) / 2`` (torch's).

    Past ``T_max`` the cosine turns back up and keeps oscillating with period
    ``2 T_max``, as torch's does; the native schedule is that wave
    (``repeat(piecewise(...), 2 T_max)``). Chained (Note [chained
    schedulers]), it follows torch's affine rule around ``eta_min``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        owner = "CosineAnnealingLR"
        self.T_max = int(_check(owner, "T_max", T_max, kind="int", lo=1))
        self.eta_min = _check(owner, "eta_min", eta_min, kind="float", lo=0.0)
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> Schedule:
        """The unit wave: 1 at ``t = 0 (mod 2 T_max)``, 0 at ``t = T_max (mod 2 T_max)``."""
        knots = (0.0, float(self.T_max), 2.0 * self.T_max)
        return Repeat(Piecewise(knots, (1.0, 0.0, 1.0), "cosine"), 2.0 * self.T_max)

    def _group_schedule(self, base: float) -> Schedule:
        knots = (0.0, float(self.T_max), 2.0 * self.T_max)
        return Repeat(Piecewise(knots, (base, self.eta_min, base), "cosine"), 2.0 * self.T_max)

    def _closed(self, t: float) -> list[float]:
        u, eta = float(self.unit(t)), float(self.eta_min)
        return [eta + (_as_float(b) - eta) * u for b in self.base_lrs]

    def _advance(self, current: float, t: int, i: int) -> float:
        base, eta, n = _as_float(self.base_lrs[i]), float(self.eta_min), self.T_max
        if self._step_count == 1 and t > 0:
            return self._closed(t)[i]
        if (t - 1 - n) % (2 * n) == 0:
            return current + (base - eta) * (1 - math.cos(math.pi / n)) / 2
        ratio = (1 + math.cos(math.pi * t / n)) / (1 + math.cos(math.pi * (t - 1) / n))
        return ratio * (current - eta) + eta


class _Lambdas(NativeSchedules, LRScheduler):
    """torch's schedulers of user callables: one ``lr_lambda`` or one per group.

    State dicts as torch's: of a callable object only its ``__dict__`` is
    saved, of a function nothing; a native Schedule is saved whole.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        owner = type(self).__name__
        _optimizer(owner, optimizer)
        self.lr_lambdas = _lambdas(owner, optimizer, lr_lambda)
        super().__init__(optimizer, _last_epoch(owner, last_epoch))

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [_save_callable(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        self.lr_lambdas = [_load_callable(fn, s) for fn, s in zip(self.lr_lambdas, saved)]


class LambdaLR(_Lambdas):
    """``lr = base * lr_lambda(t)`` (torch's ``LambdaLR``).

    ``lr_lambda`` is any callable of the step, one or one per param group; a
    native :class:`~lrkit.schedules.Schedule` is the serialisable choice (it
    is saved whole in the state dict; of other callables, as in torch, only a
    callable object's ``__dict__`` is saved and a function is not).
    """

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native schedule (only when every ``lr_lambda`` is one)."""
        out: list[Schedule] = []
        for i, (fn, base) in enumerate(zip(self.lr_lambdas, self.base_lrs)):
            if not isinstance(fn, Schedule):
                raise TypeError(
                    f"{type(self).__name__}: lr_lambda {i} is a {type(fn).__name__}, not a "
                    "native Schedule, so it has no closed form to show"
                )
            out.append(Scale(fn, _as_float(base)))
        return out

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return [
            _as_float(base) * float(fn(self.last_epoch))
            for fn, base in zip(self.lr_lambdas, self.base_lrs)
        ]


class MultiplicativeLR(_Lambdas):
    """``lr <- lr * lr_lambda(t)`` at every step after the first (torch's).

    Recursive by definition: it multiplies whatever lr the group holds. Its
    closed form, when ``lr_lambda`` is a native Schedule, is
    :class:`~lrkit.schedules.Multiplicative`. State dicts: as ``LambdaLR``.
    """

    def get_lr(self) -> list[float]:  # type: ignore[override]
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [_as_float(g["lr"]) for g in groups]
        return [
            _as_float(g["lr"]) * float(fn(self.last_epoch))
            for fn, g in zip(self.lr_lambdas, groups)
        ]


def _lambdas(owner: str, optimizer: torch.optim.Optimizer, lr_lambda: Any) -> list[Any]:
    n = len(optimizer.param_groups)
    fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
    if len(fns) != n:  # torch's wording, which users match on
        raise ValueError(f"{owner}: Expected {n} lr_lambdas, but got {len(fns)}")
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{owner}: lr_lambda should be a function, but got {type(fn).__name__}")
    return fns


def _save_callable(fn: Any) -> dict[str, Any] | None:
    import types

    if isinstance(fn, Schedule):
        return {"schedule": fn.to_dict()}
    return None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)


def _load_callable(fn: Any, saved: dict[str, Any] | None) -> Any:
    if saved is None:
        return fn
    if isinstance(fn, Schedule):
        if "schedule" in saved:
            return Schedule.from_dict(saved["schedule"])
        # torch's own state dict keeps the object's ``__dict__``: its fields
        return type(fn)(**{k: v for k, v in saved.items() if not k.startswith("_")})
    fn.__dict__.update(saved)
    return fn


class CyclicLR(NativeSchedules, LRScheduler):
    """torch's ``CyclicLR``: ``lr = base_lr + (max_lr - base_lr) * wave(t)``.

    ``wave`` is the native :class:`~lrkit.schedules.Cyclic` from 0 to 1 (its
    ``mode``, ``gamma``), or its triangle times a custom ``scale_fn`` of the
    cycle or the step (``scale_mode``), which is not serialisable beyond a
    callable object's ``__dict__``. With ``cycle_momentum`` the momentum (or
    ``betas[0]``) moves the other way, from ``max_momentum`` to
    ``base_momentum``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        owner = "CyclicLR"
        _optimizer(owner, optimizer)
        last_epoch = _last_epoch(owner, last_epoch)
        base_lrs = _per_group(owner, "base_lr", optimizer, base_lr, kind="float", lo=0.0)
        self.max_lrs = _per_group(owner, "max_lr", optimizer, max_lr, kind="float", lo=0.0)
        up = _check(owner, "step_size_up", step_size_up, kind="int", lo=1)
        down = _check(owner, "step_size_down", step_size_down, kind="int", lo=1, nullable=True)
        self.total_size = float(up + (down if down is not None else up))
        self.step_ratio = up / self.total_size
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{owner}: `scale_fn` must be callable, got {type(scale_fn).__name__}")
        if scale_fn is None:
            _check(
                owner, "mode", mode, kind="str", choices=("triangular", "triangular2", "exp_range")
            )
        self.mode = mode
        self.gamma = _check(owner, "gamma", gamma, kind="float", lo=0.0, lo_open=True)
        if mode == "exp_range" and scale_fn is None:  # growth without bound otherwise
            _check(owner, "gamma", gamma, kind="float", lo=0.0, hi=1.0, lo_open=True)
        self._scale_fn_custom = scale_fn
        self.scale_mode = _check(
            owner, "scale_mode", scale_mode, kind="str", choices=("cycle", "iterations")
        )
        self.cycle_momentum = bool(cycle_momentum)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        if self.cycle_momentum:
            self.use_beta1 = _momentum_kind(owner, optimizer)
            self.base_momentums = _per_group(
                owner, "base_momentum", optimizer, base_momentum, kind="float", lo=0.0
            )
            self.max_momentums = _per_group(
                owner, "max_momentum", optimizer, max_momentum, kind="float", lo=0.0
            )
            if last_epoch == -1:
                for high, low, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups
                ):
                    _set_momentum(group, self.use_beta1, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        self._build()
        super().__init__(optimizer, last_epoch)
        self.base_lrs = list(base_lrs)

    def _build(self) -> None:
        up = round(self.step_ratio * self.total_size)
        down = round(self.total_size) - up
        if self._scale_fn_custom is None:
            gamma = self.gamma if self.mode == "exp_range" else 1.0
            self.wave = Cyclic(up, down, low=0.0, high=1.0, mode=self.mode, gamma=gamma)
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"
        else:
            self.wave = Cyclic(up, down, low=0.0, high=1.0)

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native schedule (not with a custom ``scale_fn``)."""
        if self._scale_fn_custom is not None:
            raise TypeError("CyclicLR: a custom `scale_fn` has no native schedule to show")
        return [
            _above(_as_float(b), self.wave, m, "CyclicLR")
            for b, m in zip(self.base_lrs, self.max_lrs)
        ]

    def _unit(self, t: int) -> float:
        h = float(self.wave(t))
        if self._scale_fn_custom is None:
            return h
        x = math.floor(1 + t / self.total_size) if self.scale_mode == "cycle" else t
        return h * float(self._scale_fn_custom(x))

    def get_lr(self) -> list[float]:  # type: ignore[override]
        u = self._unit(self.last_epoch)
        if self.cycle_momentum:
            for group, low, high in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums
            ):
                _set_momentum(group, self.use_beta1, high - (high - low) * u)
        return [_as_float(b) + (m - _as_float(b)) * u for b, m in zip(self.base_lrs, self.max_lrs)]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "wave")}
        state["_scale_fn_custom"] = (
            _save_callable(self._scale_fn_custom) if (self._scale_fn_custom is not None) else None
        )
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by torch's."""
        state = {k: v for k, v in state_dict.items() if k != "_scale_fn_ref"}
        saved = state.pop("_scale_fn_custom", None)
        self.__dict__.update(state)
        if saved is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom = _load_callable(self._scale_fn_custom, saved)
        self._build()


class OneCycleLR(NativeSchedules, LRScheduler):
    """torch's ``OneCycleLR``: ``initial_lr = max_lr / div_factor`` up to ``max_lr`` at
    step ``pct_start * total_steps - 1``, then down to ``initial_lr / final_div_factor``
    at ``total_steps - 1`` (three-phase: back to ``initial_lr`` at
    ``2 pct_start total_steps - 2`` first), each phase along ``anneal_strategy``;
    momentum the other way. Stepping past ``total_steps`` raises, as torch does.
    ``schedules`` gives the native :class:`~lrkit.schedules.Piecewise` of each group.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        owner = "OneCycleLR"
        _optimizer(owner, optimizer)
        last_epoch = _last_epoch(owner, last_epoch)
        if total_steps is not None:
            self.total_steps = int(_check(owner, "total_steps", total_steps, kind="int", lo=1))
        elif epochs is not None and steps_per_epoch is not None:
            e = _check(owner, "epochs", epochs, kind="int", lo=1)
            n = _check(owner, "steps_per_epoch", steps_per_epoch, kind="int", lo=1)
            self.total_steps = int(e * n)
        else:
            raise ValueError(
                f"{owner}: you must define either total_steps OR (epochs AND steps_per_epoch)"
            )
        pct = _check(owner, "pct_start", pct_start, kind="float", lo=0.0, hi=1.0)
        anneal = _check(
            owner, "anneal_strategy", anneal_strategy, kind="str", choices=("cos", "linear")
        )
        div = _check(owner, "div_factor", div_factor, kind="float", lo=0.0, lo_open=True)
        final = _check(
            owner, "final_div_factor", final_div_factor, kind="float", lo=0.0, lo_open=True
        )
        total = self.total_steps
        ends = (
            [float(pct * total) - 1, float(2 * pct * total) - 2, total - 1.0]
            if three_phase
            else [float(pct * total) - 1, total - 1.0]
        )
        if ends[0] <= 0 or any(b <= a for a, b in itertools.pairwise(ends)):
            raise ValueError(
                f"{owner}: the phases end at steps {ends}, which must be > 0 and increasing "
                f"(pct_start={pct_start!r}, total_steps={total}); torch would divide by zero or "
                "run a phase backwards"
            )
        keys = (
            [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
             ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
             ("initial_lr", "min_lr", "max_momentum", "max_momentum")]
            if three_phase
            else [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                  ("max_lr", "min_lr", "base_momentum", "max_momentum")]
        )  # fmt: skip
        names = ("start_lr", "end_lr", "start_momentum", "end_momentum")
        self._schedule_phases: list[dict[str, Any]] = [
            {"end_step": end, **dict(zip(names, k))} for end, k in zip(ends, keys)
        ]
        self._anneal_func_type = anneal
        max_lrs = _per_group(owner, "max_lr", optimizer, max_lr, kind="float", lo=0.0)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = _momentum_kind(owner, optimizer)
            highs = _per_group(owner, "max_momentum", optimizer, max_momentum, kind="float", lo=0.0)
            lows = _per_group(
                owner, "base_momentum", optimizer, base_momentum, kind="float", lo=0.0
            )
            if last_epoch == -1:
                for high, low, group in zip(highs, lows, optimizer.param_groups):
                    _set_momentum(group, self.use_beta1, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    @property
    def _shape(self) -> str:
        return "cosine" if self._anneal_func_type == "cos" else "linear"

    def _value(self, group: dict[str, Any], t: float, lr: bool) -> float:
        start, phases = 0.0, self._schedule_phases
        for i, phase in enumerate(phases):
            end = float(phase["end_step"])
            if t <= end or i == len(phases) - 1:
                a, b = (phase["start_lr"], phase["end_lr"]) if lr else (
                    phase["start_momentum"], phase["end_momentum"]
                )  # fmt: skip
                x = (t - start) / (end - start)
                return float(segment(self._shape, float(group[a]), float(group[b]), x, math))
            start = end
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native piecewise schedule up to ``total_steps - 1``."""
        phases = self._schedule_phases
        knots = (0.0, *(float(p["end_step"]) for p in phases))
        keys = [p["start_lr"] for p in phases] + [phases[-1]["end_lr"]]
        return [
            Piecewise(knots, tuple(float(g[k]) for k in keys), self._shape)
            for g in self.optimizer.param_groups
        ]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {t} times; the specified number of total steps "
                f"is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._value(group, t, lr=True))
            if self.cycle_momentum:
                _set_momentum(group, self.use_beta1, self._value(group, t, lr=False))
        return lrs


class CosineAnnealingWarmRestarts(NativeSchedules, LRScheduler):
    """torch's SGDR: a cosine from ``base`` to ``eta_min`` over ``T_i`` epochs,
    restarting with ``T_i *= T_mult``; ``step(epoch)`` takes fractional epochs.

    The position in the cycle (``T_cur``, ``T_i``) is kept as torch keeps it,
    so ``step()`` after a fractional ``step(epoch)`` continues from that
    fraction as torch's does. ``schedules`` gives the native
    :class:`~lrkit.schedules.CosineRestarts` of each group.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        owner = "CosineAnnealingWarmRestarts"
        _optimizer(owner, optimizer)
        self.T_0 = int(_check(owner, "T_0", T_0, kind="int", lo=1))
        self.T_i = self.T_0
        self.T_mult = int(_check(owner, "T_mult", T_mult, kind="int", lo=1))
        self.eta_min = _check(owner, "eta_min", eta_min, kind="float", lo=0.0)
        self.T_cur: float = _last_epoch(owner, last_epoch)
        super().__init__(optimizer, last_epoch)

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native schedule of the epoch."""
        wave = CosineRestarts(self.T_0, float(self.T_mult))
        return [
            _above(self.eta_min, wave, _as_float(b), type(self).__name__) for b in self.base_lrs
        ]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        x = self.T_cur / self.T_i
        return [
            float(segment("cosine", _as_float(b), self.eta_min, x, math)) for b in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (fractional allowed, >= 0)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not epoch >= 0:
                raise ValueError(
                    "CosineAnnealingWarmRestarts.step: expected a non-negative epoch, "
                    f"got {epoch!r}"
                )
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._get_lr_called_within_step = True  # torch's flag, kept for its state-dict keys
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            _write(group, "lr", lr)
        self._get_lr_called_within_step = False
        self._last_lr = _lrs(self.optimizer)


def _above(low: float, wave: Schedule, high: float, owner: str) -> Schedule:
    """``low + (high - low) * wave``: a unit wave between two absolute values."""
    if high < low:
        raise ValueError(f"{owner}: no native schedule for a wave from {low} up to {high}")
    return Sum((Constant(low), Scale(wave, high - low)))


def _delegated(holder: str, name: str) -> Any:
    """An attribute kept on ``self.<holder>`` under ``name`` (the anchor's name outside)."""
    return property(
        lambda self: getattr(getattr(self, holder), name),
        lambda self, value: setattr(getattr(self, holder), name, value),
    )


class ReduceLROnPlateau(LRScheduler):
    """torch's ``ReduceLROnPlateau``: when the metric stops improving, each
    group's lr becomes ``max(lr * factor, min_lr)`` (kept unchanged if that
    moves it by ``eps`` or less).

    The decision (``mode``, ``threshold``, ``patience``, ``cooldown``) is
    the native :class:`~lrkit.schedules.ReduceOnPlateau` controller
    (``controller``); the reduction acts on the lr the group holds, as
    torch's does. State dicts keep torch's keys (``best``,
    ``num_bad_epochs``, ``cooldown_counter``, ``min_lrs``, ...).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        self.optimizer = _optimizer(owner, optimizer)
        try:
            self.controller = ReduceOnPlateau(
                mode=mode, factor=factor, patience=patience, threshold=threshold,
                threshold_mode=threshold_mode, cooldown=cooldown, eps=eps,
            )  # fmt: skip
        except (TypeError, ValueError) as err:
            raise type(err)(str(err).replace("ReduceOnPlateau", owner, 1)) from None
        self.default_min_lr = (
            None if isinstance(min_lr, (list, tuple))
            else _check(owner, "min_lr", min_lr, kind="float", lo=0.0)
        )  # fmt: skip
        if isinstance(min_lr, (list, tuple)) and len(min_lr) != len(optimizer.param_groups):
            raise ValueError(  # torch's wording, which users match on
                f"{owner}: expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}"
            )
        self.min_lrs = _per_group(owner, "min_lr", optimizer, min_lr, kind="float", lo=0.0)
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)

    # torch's attribute names over the controller's state
    mode = _delegated("controller", "mode")
    factor = _delegated("controller", "factor")
    patience = _delegated("controller", "patience")
    threshold = _delegated("controller", "threshold")
    threshold_mode = _delegated("controller", "threshold_mode")
    cooldown = _delegated("controller", "cooldown")
    eps = _delegated("controller", "eps")
    best = _delegated("controller", "best")
    num_bad_epochs = _delegated("controller", "num_bad")
    cooldown_counter = _delegated("controller", "cooldown_left")

    @property
    def in_cooldown(self) -> bool:
        return bool(self.controller.cooldown_left > 0)

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record one metric value; reduce the lrs when it has stopped improving."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self.controller.record(metrics):
            groups = self.optimizer.param_groups
            if len(groups) != len(self.min_lrs):
                if self.default_min_lr is None:
                    raise RuntimeError(
                        f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups, "
                        f"but {len(self.min_lrs)} min_lrs were given (a group was added); "
                        "set `min_lrs` to match"
                    )
                self.min_lrs = [self.default_min_lr] * len(groups)
            for group, low in zip(groups, self.min_lrs):
                old = _as_float(group["lr"])
                new = max(old * self.factor, low)
                if old - new > self.eps:
                    _write(group, "lr", new)
        self._last_lr = _lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        """torch's keys."""
        c = self.controller
        return {
            "factor": c.factor, "min_lrs": list(self.min_lrs),
            "default_min_lr": self.default_min_lr, "patience": c.patience,
            "cooldown": c.cooldown, "eps": c.eps,
            "last_epoch": self.last_epoch, "_last_lr": list(self._last_lr), "mode": c.mode,
            "threshold": c.threshold, "threshold_mode": c.threshold_mode,
            "mode_worse": math.inf if c.mode == "min" else -math.inf,
            "best": c.best, "num_bad_epochs": c.num_bad, "cooldown_counter": c.cooldown_left,
        }  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by torch's."""
        s = state_dict
        self.controller = ReduceOnPlateau(
            mode=s["mode"], factor=s["factor"], patience=s["patience"], threshold=s["threshold"],
            threshold_mode=s["threshold_mode"], cooldown=s["cooldown"], eps=s["eps"],
        )  # fmt: skip
        self.controller.best = s["best"]
        self.controller.num_bad = s["num_bad_epochs"]
        self.controller.cooldown_left = s["cooldown_counter"]
        self.min_lrs = list(s["min_lrs"])
        self.default_min_lr = s.get("default_min_lr")
        self.last_epoch = s["last_epoch"]
        self._last_lr = list(s["_last_lr"])


class SequentialLR(NativeSchedules, _TorchSequential):
    """torch's ``SequentialLR`` over compat (or torch) schedulers: scheduler ``i``
    runs from ``milestones[i-1]``, restarted at its step 0 there."""

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native :class:`~lrkit.schedules.Join` of the parts'
        schedules: the run as long as no lr is changed from outside (each part
        starts in closed form at its milestone)."""
        parts = []
        for s in self._schedulers:
            if not hasattr(s, "lr_schedules"):
                raise TypeError(f"SequentialLR: {type(s).__name__} has no native schedule")
            parts.append(s.lr_schedules)
        return [
            Join(tuple(p[i] for p in parts), tuple(self._milestones)) for i in range(len(parts[0]))
        ]


class ChainedScheduler(_TorchChained):
    """torch's ``ChainedScheduler``: every scheduler steps, in order, on the lr
    the previous one left (Note [chained schedulers])."""


class SWALR(NativeSchedules, LRScheduler):
    """torch's ``torch.optim.swa_utils.SWALR``: anneal each group's lr to ``swa_lr``
    over ``anneal_epochs`` steps (``"cos"`` or ``"linear"``), then hold it.

    With ``a(k)`` the anneal weight at step ``k`` (the native
    :attr:`weight`, 0 at the start and 1 from ``anneal_epochs`` on)::

        lr_k = swa_lr * a(k) + L * (1 - a(k))

    where ``L`` is the lr the group had when the annealing started. As torch
    does, ``L`` is recovered at each step from the lr found in the group
    (``L = (lr - a(k-1) swa_lr) / (1 - a(k-1))``), so another scheduler that
    ran before (the usual SWA recipe) sets where the annealing starts. The
    clock is the count of ``step()`` calls; ``anneal_epochs=0`` jumps to
    ``swa_lr`` at construction.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        swa_lr: float | list[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        owner = "SWALR"
        _optimizer(owner, optimizer)
        swa_lrs = _per_group(owner, "swa_lr", optimizer, swa_lr, kind="float", lo=0.0)
        self._anneal_strategy = _check(
            owner, "anneal_strategy", anneal_strategy, kind="str", choices=("cos", "linear")
        )
        self.anneal_epochs = int(_check(owner, "anneal_epochs", anneal_epochs, kind="int", lo=0))
        for value, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = value
        super().__init__(optimizer, _last_epoch(owner, last_epoch))

    @property
    def weight(self) -> Schedule:
        """``a``: the anneal weight as a native schedule of the step count."""
        shape = "cosine" if self._anneal_strategy == "cos" else "linear"
        return Piecewise((0.0, float(max(1, self.anneal_epochs))), (0.0, 1.0), shape)

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr from the current start: ``L`` to ``swa_lr`` along the weight."""
        shape = "cosine" if self._anneal_strategy == "cos" else "linear"
        steps = (0.0, float(max(1, self.anneal_epochs)))
        return [
            Piecewise(steps, (start, float(group["swa_lr"])), shape)
            for start, group in zip(self._starts(), self.optimizer.param_groups, strict=True)
        ]

    def _step(self) -> int:
        step = self._step_count - 1
        return max(1, step) if self.anneal_epochs == 0 else step

    def _starts(self) -> list[float]:
        """``L`` of every group, from the lr in the group (torch's inversion)."""
        before = float(self.weight(max(0, self._step() - 1)))
        return [
            float(g["swa_lr"])
            if before == 1.0
            else (_as_float(g["lr"]) - before * float(g["swa_lr"])) / (1.0 - before)
            for g in self.optimizer.param_groups
        ]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        now = float(self.weight(max(0, self._step())))
        return [
            float(g["swa_lr"]) * now + start * (1.0 - now)
            for g, start in zip(self.optimizer.param_groups, self._starts(), strict=True)
        ]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by torch's."""
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "anneal_func"})


__all__ = [
    "SWALR", "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
    "CyclicLR", "ExponentialLR", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR",
    "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR",
]  # fmt: skip
