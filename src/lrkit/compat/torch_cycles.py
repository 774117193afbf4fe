"""torch's cyclic schedulers: CyclicLR, OneCycleLR and CosineAnnealingWarmRestarts
(public in ``lrkit.compat.torch``).

OneCycleLR's values are its own native schedules' (``schedules``) at every
step but ``total_steps``, where torch extrapolates the last phase past its end.
CosineAnnealingWarmRestarts keeps torch's position in the cycle (``T_cur``,
``T_i``): ``step(epoch)`` with fractional epochs moves it and ``step()``
continues from it, so the closed-form :class:`~lrkit.schedules.CosineRestarts`
its ``schedules`` give agrees with it to about 1e-10, not to the last bit.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrkit.compat.arguments import (
    NativeSchedules,
    above,
    check,
    check_last_epoch,
    check_optimizer,
    load_callable,
    momentum_kind,
    per_group,
    save_callable,
    set_momentum,
)
from lrkit.param_groups import as_float, lrs, write
from lrkit.schedules import (
    CosineRestarts,
    Cyclic,
    Piecewise,
    Schedule,
)
from lrkit.schedules.shapes import segment


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
        check_optimizer(owner, optimizer)
        last_epoch = check_last_epoch(owner, last_epoch)
        base_lrs = per_group(owner, "base_lr", optimizer, base_lr, kind="float", lo=0.0)
        self.max_lrs = per_group(owner, "max_lr", optimizer, max_lr, kind="float", lo=0.0)
        up = check(owner, "step_size_up", step_size_up, kind="int", lo=1)
        down = check(owner, "step_size_down", step_size_down, kind="int", lo=1, nullable=True)
        self.total_size = float(up + (down if down is not None else up))
        self.step_ratio = up / self.total_size
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{owner}: `scale_fn` must be callable, got {type(scale_fn).__name__}")
        if scale_fn is None:
            check(
                owner, "mode", mode, kind="str", choices=("triangular", "triangular2", "exp_range")
            )
        self.mode = mode
        self.gamma = check(owner, "gamma", gamma, kind="float", lo=0.0, lo_open=True)
        if mode == "exp_range" and scale_fn is None:  # growth without bound otherwise
            check(owner, "gamma", gamma, kind="float", lo=0.0, hi=1.0, lo_open=True)
        self._scale_fn_custom = scale_fn
        self.scale_mode = check(
            owner, "scale_mode", scale_mode, kind="str", choices=("cycle", "iterations")
        )
        self.cycle_momentum = bool(cycle_momentum)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        if self.cycle_momentum:
            self.use_beta1 = momentum_kind(owner, optimizer)
            self.base_momentums = per_group(
                owner, "base_momentum", optimizer, base_momentum, kind="float", lo=0.0
            )
            self.max_momentums = per_group(
                owner, "max_momentum", optimizer, max_momentum, kind="float", lo=0.0
            )
            if last_epoch == -1:
                for high, low, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups
                ):
                    set_momentum(group, self.use_beta1, high)
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
            above(as_float(b), self.wave, m, "CyclicLR")
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
                set_momentum(group, self.use_beta1, high - (high - low) * u)
        return [as_float(b) + (m - as_float(b)) * u for b, m in zip(self.base_lrs, self.max_lrs)]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "wave")}
        state["_scale_fn_custom"] = (
            save_callable(self._scale_fn_custom) if (self._scale_fn_custom is not None) else None
        )
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by torch's."""
        state = {k: v for k, v in state_dict.items() if k != "_scale_fn_ref"}
        saved = state.pop("_scale_fn_custom", None)
        self.__dict__.update(state)
        if saved is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom = load_callable(self._scale_fn_custom, saved)
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
        check_optimizer(owner, optimizer)
        last_epoch = check_last_epoch(owner, last_epoch)
        if total_steps is not None:
            self.total_steps = int(check(owner, "total_steps", total_steps, kind="int", lo=1))
        elif epochs is not None and steps_per_epoch is not None:
            e = check(owner, "epochs", epochs, kind="int", lo=1)
            n = check(owner, "steps_per_epoch", steps_per_epoch, kind="int", lo=1)
            self.total_steps = int(e * n)
        else:
            raise ValueError(
                f"{owner}: you must define either total_steps OR (epochs AND steps_per_epoch)"
            )
        pct = check(owner, "pct_start", pct_start, kind="float", lo=0.0, hi=1.0)
        anneal = check(
            owner, "anneal_strategy", anneal_strategy, kind="str", choices=("cos", "linear")
        )
        div = check(owner, "div_factor", div_factor, kind="float", lo=0.0, lo_open=True)
        final = check(
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
        max_lrs = per_group(owner, "max_lr", optimizer, max_lr, kind="float", lo=0.0)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.use_beta1 = momentum_kind(owner, optimizer)
            highs = per_group(owner, "max_momentum", optimizer, max_momentum, kind="float", lo=0.0)
            lows = per_group(owner, "base_momentum", optimizer, base_momentum, kind="float", lo=0.0)
            if last_epoch == -1:
                for high, low, group in zip(highs, lows, optimizer.param_groups):
                    set_momentum(group, self.use_beta1, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    @property
    def _shape(self) -> str:
        return "cosine" if self._anneal_func_type == "cos" else "linear"

    def _value(self, group: dict[str, Any], t: float, lr: bool) -> float:
        """torch's formula, used only at ``t = total_steps``, where torch extrapolates
        the last phase past its end (Note [chained schedulers]: a step no schedule has)."""
        phases = self._schedule_phases
        start = float(phases[-2]["end_step"]) if len(phases) > 1 else 0.0
        end, last = float(phases[-1]["end_step"]), phases[-1]
        a, b = ("start_lr", "end_lr") if lr else ("start_momentum", "end_momentum")
        x = (t - start) / (end - start)
        return float(segment(self._shape, float(group[last[a]]), float(group[last[b]]), x, math))

    def _piecewise(self, lr: bool) -> list[Piecewise]:
        """Each group's lr (or momentum) as a native piecewise schedule up to
        ``total_steps - 1``, from the group's current ``initial_lr``/``max_lr``/..."""
        phases = self._schedule_phases
        knots = (0.0, *(float(p["end_step"]) for p in phases))
        start, end = ("start_lr", "end_lr") if lr else ("start_momentum", "end_momentum")
        keys = [p[start] for p in phases] + [phases[-1][end]]
        return [
            _piecewise(knots, tuple(float(g[k]) for k in keys), self._shape)
            for g in self.optimizer.param_groups
        ]

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native piecewise schedule up to ``total_steps - 1``."""
        return list(self._piecewise(lr=True))

    def get_lr(self) -> list[float]:  # type: ignore[override]
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {t} times; the specified number of total steps "
                f"is {self.total_steps}"
            )
        groups = self.optimizer.param_groups
        if t == self.total_steps:
            values = [self._value(g, t, lr=True) for g in groups]
        else:  # the values are the native schedules'
            values = [float(s(t)) for s in self._piecewise(lr=True)]
        if self.cycle_momentum:
            if t == self.total_steps:
                momenta = [self._value(g, t, lr=False) for g in groups]
            else:
                momenta = [float(s(t)) for s in self._piecewise(lr=False)]
            for group, momentum in zip(groups, momenta):
                set_momentum(group, self.use_beta1, momentum)
        return values


@functools.lru_cache(maxsize=256)
def _piecewise(knots: tuple[float, ...], values: tuple[float, ...], shape: str) -> Piecewise:
    """One validated schedule per distinct curve: ``OneCycleLR.step()`` asks for the same
    ones every step, and building (validating) them cost 30x torch's whole step."""
    return Piecewise(knots, values, shape)


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
        check_optimizer(owner, optimizer)
        self.T_0 = int(check(owner, "T_0", T_0, kind="int", lo=1))
        self.T_i = self.T_0
        self.T_mult = int(check(owner, "T_mult", T_mult, kind="int", lo=1))
        self.eta_min = check(owner, "eta_min", eta_min, kind="float", lo=0.0)
        self.T_cur: float = check_last_epoch(owner, last_epoch)
        super().__init__(optimizer, last_epoch)

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native schedule of the epoch."""
        wave = CosineRestarts(self.T_0, float(self.T_mult))
        return [above(self.eta_min, wave, as_float(b), type(self).__name__) for b in self.base_lrs]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        x = self.T_cur / self.T_i
        return [float(segment("cosine", as_float(b), self.eta_min, x, math)) for b in self.base_lrs]

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
            write(group, "lr", lr)
        self._get_lr_called_within_step = False
        self._last_lr = lrs(self.optimizer)


__all__ = ["CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR"]
