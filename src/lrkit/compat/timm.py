"""timm's schedulers (``timm.scheduler``), same names, arguments and numbers.

Each class keeps timm's API, ``step(epoch, metric=None)`` and
``step_update(num_updates, metric=None)`` with ``t_in_epochs`` choosing which
one moves the lr, per-group ``lr_scale``, and seeded noise, and keeps its
attributes under timm's names, so ``state_dict()`` (timm's is the
configuration; it has no step counter) loads either way. The lr of each
group is a native schedule of ``t``, built once from the group's base value:

* warmup: ``warmup_lr_init + t (target - warmup_lr_init) / warmup_t`` for
  ``t < warmup_t``; ``target`` is the base lr (timm 1.0.31 everywhere but
  Tanh without ``warmup_prefix``, which warms up to its decay's value at
  ``warmup_t``); after it, the decay reads ``t - warmup_t`` (prefix) or ``t``,
  so without the prefix the lr jumps at ``warmup_t``, as timm's does;
* ``CosineLRScheduler``: :class:`~lrkit.schedules.CosineRestarts` (cycles,
  ``cycle_mul``, ``cycle_decay``, ``cycle_limit``, ``k_decay``, floor);
* ``StepLRScheduler``: ``base * decay_rate ** (t // decay_t)``;
* ``MultiStepLRScheduler``: timm's convention that milestone ``m`` applies
  from ``t == m - 1``;
* ``TanhLRScheduler`` and ``PolyLRScheduler``: :class:`~lrkit.schedules.Restarts`
  of a ``tanh`` or ``polynomial`` curve, with the same cycles (and, for
  Poly, ``k_decay``).

Deliberate differences, each a ``ValueError`` where timm ``assert``\\s or
misbehaves: non-integer ``decay_t``, unsorted ``decay_t``, a zero base lr.

``PlateauLRScheduler`` (deprecated in timm 1.0.31, reproduced for the runs
that use it) is a warmup then :class:`lrkit.compat.torch.ReduceLROnPlateau`;
see its docstring.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import torch

from lrkit.compat.arguments import NativeSchedules
from lrkit.schedules import (
    Constant,
    CosineRestarts,
    Join,
    Linear,
    MultiStep,
    Polynomial,
    Restarts,
    Scale,
    Schedule,
    Shift,
    StepDecay,
    Tanh,
)
from lrkit.validation import Param, normalize


class _Scheduler(NativeSchedules):
    """timm's ``Scheduler`` contract over one native schedule per param group
    (``lr_schedules``; ``schedules`` is ``{"lr": lr_schedules}``)."""

    warmup_target_is_base = True  # every timm scheduler but Tanh
    warmup_t: int
    warmup_lr_init: float
    warmup_prefix: bool
    lr_schedules: list[Schedule]

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_group_field: str = "lr",
        t_in_epochs: bool = True,
        noise_range_t: list[int] | tuple[int, int] | int | None = None,
        noise_type: str = "normal",
        noise_pct: float = 0.67,
        noise_std: float = 1.0,
        noise_seed: int | None = None,
        initialize: bool = True,
    ) -> None:
        self.optimizer = optimizer
        self.param_group_field = param_group_field
        self._initial_param_group_field = f"initial_{param_group_field}"
        for i, group in enumerate(optimizer.param_groups):
            if initialize:
                if param_group_field not in group:
                    raise KeyError(f"{param_group_field} missing from param_groups[{i}]")
                group.setdefault(self._initial_param_group_field, group[param_group_field])
            elif self._initial_param_group_field not in group:
                raise KeyError(f"{self._initial_param_group_field} missing from param_groups[{i}]")
        self.base_values = [g[self._initial_param_group_field] for g in optimizer.param_groups]
        self.metric: Any = None
        self.t_in_epochs = t_in_epochs
        self.noise_range_t = noise_range_t
        self.noise_pct = noise_pct
        self.noise_type = noise_type
        self.noise_std = noise_std
        self.noise_seed = noise_seed if noise_seed is not None else 42
        self.update_groups(self.base_values)

    def _finish(self) -> None:
        """Build the per-group schedules; called by subclasses once configured."""
        for i, v in enumerate(self.base_values):
            if not float(v) > 0:
                raise ValueError(f"{type(self).__name__}: param group {i} has base lr {v}, not > 0")
        self._finish_from_state()
        if self.warmup_t:
            self.update_groups(self.warmup_lr_init)

    def _decay(self, base: float) -> Schedule:
        raise NotImplementedError

    def _warmup_targets(self) -> list[float]:
        """Where each group's warmup ends (the base lr, or Tanh's decay at ``warmup_t``)."""
        if self.warmup_target_is_base or self.warmup_prefix:
            return [float(v) for v in self.base_values]
        return [float(self._decay(float(v))(self.warmup_t)) for v in self.base_values]

    def _warmup_steps(self) -> list[float]:
        """timm's public ``warmup_steps``: the lr added per warmup step (1 without warmup)."""
        if not self.warmup_t:
            return [1 for _ in self.base_values]
        return [(v - self.warmup_lr_init) / self.warmup_t for v in self._warmup_targets()]

    def _warmup(self, owner: str, warmup_t: Any, warmup_lr_init: Any, prefix: bool) -> None:
        self.warmup_t = _check(owner, "warmup_t", warmup_t, kind="int", lo=0)
        self.warmup_lr_init = _check(owner, "warmup_lr_init", warmup_lr_init, kind="float", lo=0.0)
        self.warmup_prefix = prefix

    # -- cycles (Cosine, Tanh, Poly) -------------------------------------
    t_initial: int
    lr_min: float

    def _cycles(
        self, owner: str, t_initial: Any, lr_min: Any, cycle_mul: Any, cycle_decay: Any,
        cycle_limit: Any,
    ) -> None:  # fmt: skip
        self.t_initial = _check(owner, "t_initial", t_initial, kind="int", lo=1)
        self.lr_min = _check(owner, "lr_min", lr_min, kind="float", lo=0.0)
        self.cycle_mul = _check(owner, "cycle_mul", cycle_mul, kind="float", lo=1.0)
        self.cycle_decay = _check(
            owner, "cycle_decay", cycle_decay, kind="float", lo=0.0, hi=1.0, lo_open=True
        )
        self.cycle_limit = _check(owner, "cycle_limit", cycle_limit, kind="int", lo=0)

    def get_cycle_length(self, cycles: int = 0) -> int:
        """Steps in ``cycles`` cycles (``cycle_limit`` when 0), warmup included with
        ``warmup_prefix``: what timm's ``create_scheduler`` reads as the run's length."""
        cycles = max(1, cycles or self.cycle_limit)
        if self.cycle_mul == 1.0:
            t = self.t_initial * cycles
        else:
            t = math.floor(-self.t_initial * (self.cycle_mul**cycles - 1) / (1 - self.cycle_mul))
        return t + self.warmup_t if self.warmup_prefix else t

    def _restarts(self, curve: Schedule | None, base: float, k: float = 1.0) -> Schedule:
        """timm's cycles of ``curve`` (the cosine when None) from ``base`` to ``lr_min``."""
        if self.cycle_limit == 0:
            return Constant(self.lr_min)
        config = dict(
            period=self.t_initial, mult=self.cycle_mul, decay=self.cycle_decay,
            end=self.lr_min / base, k=k, cycles=self.cycle_limit,
        )  # fmt: skip
        cycles = CosineRestarts(**config) if curve is None else Restarts(**config, curve=curve)
        return Scale(cycles, base)

    def _with_warmup(self, decay: Schedule, base: float) -> Schedule:
        if not self.warmup_t:
            return decay
        target = (
            base if (self.warmup_prefix or self.warmup_target_is_base) else decay(self.warmup_t)
        )
        rise = Linear(self.warmup_t, start=self.warmup_lr_init, end=target)
        after = decay if self.warmup_prefix else Shift(decay, float(self.warmup_t))
        return Join((rise, after), (self.warmup_t,))

    # -- timm's API ---------------------------------------------------------
    def _get_lr(self, t: int) -> list[float]:
        return [s(t) for s in self.lr_schedules]

    def _get_values(self, t: int, on_epoch: bool = True) -> list[float] | None:
        proceed = (on_epoch and self.t_in_epochs) or (not on_epoch and not self.t_in_epochs)
        return self._get_lr(t) if proceed else None

    def step(self, epoch: int, metric: float | None = None) -> None:
        self.metric = metric
        values = self._get_values(epoch, on_epoch=True)
        if values is not None:
            self.update_groups(self._add_noise(values, epoch))

    def step_update(self, num_updates: int, metric: float | None = None) -> None:
        self.metric = metric
        values = self._get_values(num_updates, on_epoch=False)
        if values is not None:
            self.update_groups(self._add_noise(values, num_updates))

    def update_groups(self, values: float | list[float]) -> None:
        if not isinstance(values, (list, tuple)):
            values = [values] * len(self.optimizer.param_groups)
        for group, value in zip(self.optimizer.param_groups, values):
            group[self.param_group_field] = (
                value * group.get("lr_scale", 1.0) if "lr_scale" in group else value
            )

    def _is_apply_noise(self, t: int) -> bool:
        if self.noise_range_t is None:
            return False
        if isinstance(self.noise_range_t, (list, tuple)):
            return bool(self.noise_range_t[0] <= t < self.noise_range_t[1])
        return bool(t >= self.noise_range_t)

    def _calculate_noise(self, t: int) -> float:
        """timm's noise: a generator seeded with ``noise_seed + t``, normal or uniform."""
        g = torch.Generator()
        g.manual_seed(self.noise_seed + t)
        if self.noise_type == "normal":
            while True:
                noise = torch.randn(1, generator=g).item() * self.noise_std
                if abs(noise) < self.noise_pct:
                    return noise
        return 2 * (torch.rand(1, generator=g).item() - 0.5) * self.noise_pct

    def _add_noise(self, lrs: list[float], t: int) -> list[float]:
        if self._is_apply_noise(t):
            noise = self._calculate_noise(t)
            return [v + v * noise for v in lrs]
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """timm's keys: the configuration, without the optimizer and the built schedules."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_schedules")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "warmup_steps"})
        self._finish_from_state()

    def _finish_from_state(self) -> None:
        bases = [float(v) for v in self.base_values]
        self.lr_schedules = [self._with_warmup(self._decay(v), v) for v in bases]
        self.warmup_steps = self._warmup_steps()


def _check(owner: str, name: str, value: Any, **spec: Any) -> Any:
    return normalize(owner, name, Param(**spec), value)


class CosineLRScheduler(_Scheduler):
    """timm's cosine decay with restarts, warmup and noise (see the module docstring)."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, t_initial: int, lr_min: float = 0.0,
        cycle_mul: float = 1.0, cycle_decay: float = 1.0, cycle_limit: int = 1,
        warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
        t_in_epochs: bool = True, noise_range_t: Any = None, noise_pct: float = 0.67,
        noise_std: float = 1.0, noise_seed: int = 42, k_decay: float = 1.0, initialize: bool = True,
    ) -> None:  # fmt: skip
        owner = "CosineLRScheduler"
        super().__init__(optimizer, "lr", t_in_epochs, noise_range_t, "normal", noise_pct,
                         noise_std, noise_seed, initialize)  # fmt: skip
        self._cycles(owner, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit)
        self._warmup(owner, warmup_t, warmup_lr_init, warmup_prefix)
        self.k_decay = _check(owner, "k_decay", k_decay, kind="float", lo=0.0, lo_open=True)
        self._finish()

    def _decay(self, base: float) -> Schedule:
        return self._restarts(None, base, k=self.k_decay)


class TanhLRScheduler(_Scheduler):
    """timm's tanh decay with restarts, warmup and noise."""

    warmup_target_is_base = (
        False  # without warmup_prefix, timm's tanh warms up to its value at warmup_t
    )

    def __init__(
        self, optimizer: torch.optim.Optimizer, t_initial: int, lb: float = -7.0, ub: float = 3.0,
        lr_min: float = 0.0, cycle_mul: float = 1.0, cycle_decay: float = 1.0, cycle_limit: int = 1,
        warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
        t_in_epochs: bool = True, noise_range_t: Any = None, noise_pct: float = 0.67,
        noise_std: float = 1.0, noise_seed: int = 42, initialize: bool = True,
    ) -> None:  # fmt: skip
        owner = "TanhLRScheduler"
        super().__init__(optimizer, "lr", t_in_epochs, noise_range_t, "normal", noise_pct,
                         noise_std, noise_seed, initialize)  # fmt: skip
        self._cycles(owner, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit)
        self.lb, self.ub = float(lb), float(ub)
        if not self.lb < self.ub:
            raise ValueError(f"{owner}: `lb` must be < `ub` ({ub!r}), got {lb!r}")
        self._warmup(owner, warmup_t, warmup_lr_init, warmup_prefix)
        self._finish()

    def _decay(self, base: float) -> Schedule:
        return self._restarts(Tanh(1, self.lb, self.ub), base)


class PolyLRScheduler(_Scheduler):
    """timm's polynomial decay with restarts and k-decay, warmup and noise."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, t_initial: int, power: float = 0.5,
        lr_min: float = 0.0, cycle_mul: float = 1.0, cycle_decay: float = 1.0, cycle_limit: int = 1,
        warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
        t_in_epochs: bool = True, noise_range_t: Any = None, noise_pct: float = 0.67,
        noise_std: float = 1.0, noise_seed: int = 42, k_decay: float = 1.0, initialize: bool = True,
    ) -> None:  # fmt: skip
        owner = "PolyLRScheduler"
        super().__init__(optimizer, "lr", t_in_epochs, noise_range_t, "normal", noise_pct,
                         noise_std, noise_seed, initialize)  # fmt: skip
        self._cycles(owner, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit)
        self.power = _check(owner, "power", power, kind="float", lo=0.0, lo_open=True)
        self.k_decay = _check(owner, "k_decay", k_decay, kind="float", lo=0.0, lo_open=True)
        self._warmup(owner, warmup_t, warmup_lr_init, warmup_prefix)
        self._finish()

    def _decay(self, base: float) -> Schedule:
        return self._restarts(Polynomial(1, power=self.power), base, k=self.k_decay)


class StepLRScheduler(_Scheduler):
    """timm's step decay ``base * decay_rate ** (t // decay_t)``, warmup and noise."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, decay_t: int, decay_rate: float = 1.0,
        warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = True,
        t_in_epochs: bool = True, noise_range_t: Any = None, noise_pct: float = 0.67,
        noise_std: float = 1.0, noise_seed: int = 42, initialize: bool = True,
    ) -> None:  # fmt: skip
        owner = "StepLRScheduler"
        super().__init__(optimizer, "lr", t_in_epochs, noise_range_t, "normal", noise_pct,
                         noise_std, noise_seed, initialize)  # fmt: skip
        self.decay_t = _check(owner, "decay_t", decay_t, kind="int", lo=1)
        self.decay_rate = _check(
            owner, "decay_rate", decay_rate, kind="float", lo=0.0, lo_open=True
        )
        self._warmup(owner, warmup_t, warmup_lr_init, warmup_prefix)
        self._finish()

    def _decay(self, base: float) -> Schedule:
        return Scale(StepDecay(self.decay_t, self.decay_rate), base)


class MultiStepLRScheduler(_Scheduler):
    """timm's multistep decay (milestone ``m`` applies from ``t == m - 1``), warmup and noise."""

    def __init__(
        self, optimizer: torch.optim.Optimizer, decay_t: list[int], decay_rate: float = 1.0,
        warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = True,
        t_in_epochs: bool = True, noise_range_t: Any = None, noise_pct: float = 0.67,
        noise_std: float = 1.0, noise_seed: int = 42, initialize: bool = True,
    ) -> None:  # fmt: skip
        owner = "MultiStepLRScheduler"
        super().__init__(optimizer, "lr", t_in_epochs, noise_range_t, "normal", noise_pct,
                         noise_std, noise_seed, initialize)  # fmt: skip
        self.decay_t = list(
            _check(owner, "decay_t", decay_t, kind="ints", lo=0, increasing=True, min_len=1)
        )
        self.decay_rate = _check(
            owner, "decay_rate", decay_rate, kind="float", lo=0.0, lo_open=True
        )
        self._warmup(owner, warmup_t, warmup_lr_init, warmup_prefix)
        self._finish()

    def _decay(self, base: float) -> Schedule:
        milestones = tuple(max(m - 1, 0) for m in self.decay_t)
        return Scale(MultiStep(milestones, self.decay_rate), base)

    def get_curr_decay_steps(self, t: int) -> int:
        """How many milestones have passed at ``t`` (timm's: milestone ``m`` counts from
        ``t == m - 1``; ``t`` after any warmup prefix)."""
        return bisect.bisect_right(self.decay_t, t + 1)


_PLATEAU_NAMES = {
    "factor": "decay_rate", "patience": "patience_t", "cooldown": "cooldown_t", "min_lr": "lr_min"
}  # fmt: skip


class PlateauLRScheduler(_Scheduler):
    """timm's plateau scheduler: a linear warmup to the base lr, then
    :class:`lrkit.compat.torch.ReduceLROnPlateau` on the metric passed to
    ``step(epoch, metric)``; with noise, the lr is perturbed for one epoch
    and restored before the next, as timm's.

    timm's clock, reproduced: the warmup covers ``epoch <= warmup_t``, and
    ``step(0)`` without warmup sets the lr to ``warmup_lr_init`` (timm's
    train loop never steps epoch 0). ``step_update`` does nothing.
    ``state_dict()`` has timm's ``best`` and ``last_epoch`` and also the
    counters timm drops (``num_bad_epochs``, ``cooldown_counter``) and the
    noise's ``restore_lr``, so a resumed run continues exactly; timm's
    two-key dict loads too. A negative epoch is a ``ValueError``.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, decay_rate: float = 0.1, patience_t: int = 10,
        threshold: float = 1e-4, cooldown_t: int = 0, warmup_t: int = 0,
        warmup_lr_init: float = 0.0, lr_min: float = 0.0, mode: str = "max",
        noise_range_t: Any = None, noise_type: str = "normal", noise_pct: float = 0.67,
        noise_std: float = 1.0, noise_seed: int | None = None, initialize: bool = True,
    ) -> None:  # fmt: skip
        from lrkit.compat.torch import ReduceLROnPlateau

        owner = "PlateauLRScheduler"
        super().__init__(optimizer, "lr", True, noise_range_t, noise_type, noise_pct, noise_std,
                         noise_seed, initialize)  # fmt: skip
        try:
            self.lr_scheduler = ReduceLROnPlateau(
                optimizer, patience=patience_t, factor=decay_rate, threshold=threshold,
                cooldown=cooldown_t, mode=mode, min_lr=lr_min,
            )  # fmt: skip
        except (TypeError, ValueError) as err:
            message = str(err).replace("ReduceLROnPlateau", owner, 1)
            for torch_name, timm_name in _PLATEAU_NAMES.items():
                message = message.replace(f"`{torch_name}`", f"`{timm_name}`")
            raise type(err)(message) from None
        self.warmup_t = _check(owner, "warmup_t", warmup_t, kind="int", lo=0)
        self.warmup_lr_init = _check(owner, "warmup_lr_init", warmup_lr_init, kind="float", lo=0.0)
        self.lr_schedules = [
            Linear(self.warmup_t, start=self.warmup_lr_init, end=float(v))
            if self.warmup_t
            else Constant(self.warmup_lr_init)
            for v in self.base_values
        ]
        self.warmup_steps = self._warmup_steps()
        if self.warmup_t:
            self.update_groups(self.warmup_lr_init)
        self.restore_lr: list[float] | None = None

    def step(self, epoch: int, metric: float | None = None) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(
                f"PlateauLRScheduler.step: `epoch` must be an integer >= 0, got {epoch!r}"
            )
        if epoch <= self.warmup_t:
            self.update_groups([float(s(epoch)) for s in self.lr_schedules])
            return
        if self.restore_lr is not None:
            for group, lr in zip(self.optimizer.param_groups, self.restore_lr):
                group["lr"] = lr
            self.restore_lr = None
        if metric is not None:
            self.lr_scheduler.step(metric)
        if self._is_apply_noise(epoch):
            noise = self._calculate_noise(epoch)
            self.restore_lr = [float(g["lr"]) for g in self.optimizer.param_groups]
            for group, lr in zip(self.optimizer.param_groups, self.restore_lr):
                group["lr"] = lr + lr * noise

    def step_update(self, num_updates: int, metric: float | None = None) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        """timm's ``best`` and ``last_epoch``, and the counters and noise state timm drops."""
        p = self.lr_scheduler
        return {
            "best": p.best, "last_epoch": p.last_epoch, "num_bad_epochs": p.num_bad_epochs,
            "cooldown_counter": p.cooldown_counter, "restore_lr": self.restore_lr,
        }  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load this class's state dict or timm's (``best``, ``last_epoch``)."""
        c = self.lr_scheduler.controller
        c.best = state_dict["best"]
        if "last_epoch" in state_dict:
            self.lr_scheduler.last_epoch = state_dict["last_epoch"]
        c.num_bad = state_dict.get("num_bad_epochs", c.num_bad)
        c.cooldown_left = state_dict.get("cooldown_counter", c.cooldown_left)
        self.restore_lr = state_dict.get("restore_lr", self.restore_lr)


__all__ = [
    "CosineLRScheduler", "MultiStepLRScheduler", "PlateauLRScheduler", "PolyLRScheduler",
    "StepLRScheduler", "TanhLRScheduler",
]  # fmt: skip
