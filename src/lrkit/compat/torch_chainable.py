"""torch's chainable schedulers: StepLR, MultiStepLR, ConstantLR, LinearLR,
ExponentialLR, PolynomialLR and CosineAnnealingLR (public in ``lrkit.compat.torch``).

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
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrkit.compat.arguments import (
    NativeSchedules,
    check,
    check_last_epoch,
    check_optimizer,
)
from lrkit.param_groups import as_float
from lrkit.schedules import (
    Constant,
    Exponential,
    Join,
    Linear,
    MultiStep,
    Piecewise,
    Polynomial,
    Repeat,
    Scale,
    Schedule,
    StepDecay,
)


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
        check_optimizer(owner, optimizer)
        self._chained = [False] * len(optimizer.param_groups)
        self._cache: tuple[tuple[float, ...], list[Schedule]] | None = None
        self._unit: Schedule | None = None
        super().__init__(optimizer, check_last_epoch(owner, last_epoch))

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
        bases = tuple(as_float(b) for b in self.base_lrs)
        if self._cache is None or self._cache[0] != bases:
            self._cache = (bases, [self._group_schedule(b) for b in bases])
        return self._cache[1]

    def _closed(self, t: float) -> list[float]:
        """Every group's lr at ``t`` in closed form: ``base * f(t)``."""
        value = float(self.unit(t))
        return [as_float(b) * value for b in self.base_lrs]

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
            before = self._closed(t - 1) if t > 0 else [as_float(b) for b in self.base_lrs]
        out = []
        for i, group in enumerate(self.optimizer.param_groups):
            current = as_float(group["lr"])
            if holds:
                self._chained[i] = current != closed[i]
                out.append(current)
                continue
            if self._is_initial:
                self._chained[i] = current != before[i]
            elif t == 0 or current != as_float(self._last_lr[i]):
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
        self.step_size = int(check("StepLR", "step_size", step_size, kind="int", lo=1))
        self.gamma = check("StepLR", "gamma", gamma, kind="float", lo=0.0, lo_open=True)
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
            sorted(check(owner, "milestones", list(milestones), kind="ints", lo=0))
        )
        self.gamma = check(owner, "gamma", gamma, kind="float", lo=0.0, lo_open=True)
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
        self.factor = check(owner, "factor", factor, kind="float", lo=0.0, hi=1.0, lo_open=True)
        self.total_iters = int(check(owner, "total_iters", total_iters, kind="int", lo=1))
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
        self.start_factor = check(
            owner, "start_factor", start_factor, kind="float", lo=0.0, hi=1.0, lo_open=True
        )
        self.end_factor = check(owner, "end_factor", end_factor, kind="float", lo=0.0, hi=1.0)
        self.total_iters = int(check(owner, "total_iters", total_iters, kind="int", lo=1))
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> Schedule:
        return Linear(self.total_iters, start=self.start_factor, end=self.end_factor)


class ExponentialLR(_Chainable):
    """``lr = base * gamma ** t`` (torch's ``ExponentialLR``)."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, gamma: float, last_epoch: int = -1
    ) -> None:
        self.gamma = check("ExponentialLR", "gamma", gamma, kind="float", lo=0.0, lo_open=True)
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
        self.total_iters = int(check(owner, "total_iters", total_iters, kind="int", lo=1))
        self.power = check(owner, "power", power, kind="float", lo=0.0, lo_open=True)
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
        self.T_max = int(check(owner, "T_max", T_max, kind="int", lo=1))
        self.eta_min = check(owner, "eta_min", eta_min, kind="float", lo=0.0)
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
        return [eta + (as_float(b) - eta) * u for b in self.base_lrs]

    def _advance(self, current: float, t: int, i: int) -> float:
        base, eta, n = as_float(self.base_lrs[i]), float(self.eta_min), self.T_max
        if self._step_count == 1 and t > 0:
            return self._closed(t)[i]
        if (t - 1 - n) % (2 * n) == 0:
            return current + (base - eta) * (1 - math.cos(math.pi / n)) / 2
        ratio = (1 + math.cos(math.pi * t / n)) / (1 + math.cos(math.pi * (t - 1) / n))
        return ratio * (current - eta) + eta


__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LinearLR",
    "MultiStepLR",
    "PolynomialLR",
    "StepLR",
]
