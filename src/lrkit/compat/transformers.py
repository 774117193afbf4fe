"""Hugging Face's ``get_*_schedule*`` functions and ``get_scheduler``, same numbers.

Each returns a :class:`lrkit.ScheduledLR` whose schedule is a native
composition reproducing the ``LambdaLR`` lambda Hugging Face builds (as of
transformers 5.23), past-horizon behaviour included:

* ``linear`` and ``polynomial`` hold their end value; ``constant`` holds 1;
* ``cosine`` (and ``cosine_with_min_lr``) keep following the cosine wave
  past ``num_training_steps`` (with the default ``num_cycles = 0.5`` it
  rises again), as Hugging Face's formula does;
* ``cosine_with_restarts`` drops to 0 from ``num_training_steps`` on;
* the warmup is ``t / max(1, num_warmup_steps)``.

``reduce_lr_on_plateau`` returns a :class:`lrkit.compat.torch.ReduceLROnPlateau`
(Hugging Face returns torch's, whose numbers it has), and ``greedy`` a
:class:`GreedyLR` with Hugging Face's rule and state-dict keys.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from lrkit.compat.arguments import check_optimizer, delegated, per_group
from lrkit.compat.torch import LambdaLR, ReduceLROnPlateau
from lrkit.lr_scheduler import ScheduledLR
from lrkit.schedules import (
    WSD,
    Constant,
    InverseSqrt,
    Join,
    Linear,
    Piecewise,
    Polynomial,
    ReduceOnPlateau,
    Repeat,
    Scale,
    Schedule,
    Shift,
    Sum,
)
from lrkit.validation import Param, did_you_mean, normalize

_log = logging.getLogger("lrkit")

SCHEDULER_TYPES = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
    "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr",
    "cosine_warmup_with_min_lr", "warmup_stable_decay", "greedy",
)  # fmt: skip
"""The ``name`` values ``get_scheduler`` takes, as Hugging Face's ``SchedulerType``."""


def _steps(owner: str, name: str, value: Any) -> int:
    return int(normalize(owner, name, Param(kind="int", lo=0), value))


def _scheduler(
    optimizer: torch.optim.Optimizer, schedule: Schedule, last_epoch: int
) -> ScheduledLR:
    """A ScheduledLR at LambdaLR's position for ``last_epoch`` (-1: a new run)."""
    sched = ScheduledLR(optimizer, schedule)
    if last_epoch != -1:
        sched.last_epoch = _steps("ScheduledLR", "last_epoch", last_epoch) + 1
        sched._apply()
    return sched


def _with_warmup(decay: Schedule, warmup: int) -> Schedule:
    """Hugging Face's warmup ``t / max(1, warmup)``, then ``decay`` on its own clock."""
    if warmup == 0:
        return decay
    return Join((Linear(warmup, start=0.0, end=1.0), decay), (warmup,))


def cosine_wave(period: float) -> Schedule:
    """``(1 + cos(2 pi t / period)) / 2`` for every ``t >= 0``: 1 at each multiple of
    ``period``, 0 half-way."""
    half = period / 2.0
    return Repeat(Piecewise((0.0, half, period), (1.0, 0.0, 1.0), "cosine"), period)


def _min_lr_rate(
    optimizer: torch.optim.Optimizer, min_lr: float | None, min_lr_rate: float | None
) -> float:
    """HF's rule: exactly one of ``min_lr`` (over ``defaults["lr"]``) or ``min_lr_rate``."""
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        return float(min_lr / optimizer.defaults["lr"])
    if min_lr_rate is None:
        raise ValueError(
            "One of min_lr or min_lr_rate should be set through the `lr_scheduler_kwargs`"
        )
    return min_lr_rate


def _decay_length(warmup: int, training: int) -> int:
    return max(1, training - warmup)


def get_constant_schedule(optimizer: torch.optim.Optimizer, last_epoch: int = -1) -> ScheduledLR:
    """A constant multiplier of 1."""
    return _scheduler(optimizer, Constant(1.0), last_epoch)


def get_constant_schedule_with_warmup(
    optimizer: torch.optim.Optimizer, num_warmup_steps: int, last_epoch: int = -1
) -> ScheduledLR:
    """Linear warmup over ``num_warmup_steps``, then 1."""
    warmup = _steps("get_constant_schedule_with_warmup", "num_warmup_steps", num_warmup_steps)
    return _scheduler(optimizer, _with_warmup(Constant(1.0), warmup), last_epoch)


def get_linear_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    last_epoch: int = -1,
) -> ScheduledLR:
    """Warmup, then linear decay to 0 at ``num_training_steps``, then 0."""
    owner = "get_linear_schedule_with_warmup"
    warmup = _steps(owner, "num_warmup_steps", num_warmup_steps)
    training = _steps(owner, "num_training_steps", num_training_steps)
    length = _decay_length(warmup, training)
    # HF: max(0, (T - t) / max(1, T - W)); with T <= W it is 0 after the warmup
    start = min(1.0, (training - warmup) / length) if training > warmup else 0.0
    decay = Linear(length, start=start, end=0.0) if start > 0 else Constant(0.0)
    return _scheduler(optimizer, _with_warmup(decay, warmup), last_epoch)


def get_cosine_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> ScheduledLR:
    """Warmup, then ``(1 + cos(2 pi num_cycles p)) / 2`` with ``p = (t - W) / max(1, T - W)``,
    continued past the horizon as Hugging Face does."""
    return _scheduler(
        optimizer,
        _cosine(
            "get_cosine_schedule_with_warmup", num_warmup_steps, num_training_steps, num_cycles, 0.0
        ),
        last_epoch,
    )


def _cosine(owner: str, warmup: Any, training: Any, cycles: Any, floor: float) -> Schedule:
    w = _steps(owner, "num_warmup_steps", warmup)
    t = _steps(owner, "num_training_steps", training)
    c = normalize(owner, "num_cycles", Param(kind="float", lo=0.0), cycles)
    wave: Schedule = cosine_wave(_decay_length(w, t) / c) if c > 0 else Constant(1.0)
    if floor:
        wave = Sum((Scale(wave, 1.0 - floor), Constant(floor)))
    return _with_warmup(wave, w)


def get_cosine_with_hard_restarts_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: int = 1,
    last_epoch: int = -1,
) -> ScheduledLR:
    """Warmup, then ``num_cycles`` cosine decays from 1 to 0 (hard restarts), then 0."""
    owner = "get_cosine_with_hard_restarts_schedule_with_warmup"
    w = _steps(owner, "num_warmup_steps", num_warmup_steps)
    t = _steps(owner, "num_training_steps", num_training_steps)
    c = normalize(owner, "num_cycles", Param(kind="float", lo=0.0, lo_open=True), num_cycles)
    length = _decay_length(w, t)
    cycle = length / c
    restarts = Repeat(Piecewise((0.0, cycle), (1.0, 0.0), "cosine"), cycle)
    phases = Join((restarts, Constant(0.0)), (length,))  # HF: progress >= 1 -> 0
    return _scheduler(optimizer, _with_warmup(phases, w), last_epoch)


def get_polynomial_decay_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    lr_end: float = 1e-7,
    power: float = 1.0,
    last_epoch: int = -1,
) -> ScheduledLR:
    """Warmup, then ``(lr_init - lr_end) (1 - p) ** power + lr_end`` relative to
    ``lr_init = optimizer.defaults["lr"]`` (as Hugging Face divides), then held."""
    owner = "get_polynomial_decay_schedule_with_warmup"
    lr_init = optimizer.defaults["lr"]
    if not (lr_init > lr_end):
        raise ValueError(f"lr_end ({lr_end}) must be smaller than initial lr ({lr_init})")
    w = _steps(owner, "num_warmup_steps", num_warmup_steps)
    t = _steps(owner, "num_training_steps", num_training_steps)
    if t <= w:
        raise ValueError(
            f"{owner}: `num_training_steps` ({t}) must exceed `num_warmup_steps` ({w}); "
            "Hugging Face divides by their difference"
        )
    end = normalize(owner, "lr_end", Param(kind="float", lo=0.0), lr_end) / lr_init
    p = normalize(owner, "power", Param(kind="float", lo=0.0, lo_open=True), power)
    return _scheduler(optimizer, _with_warmup(Polynomial(t - w, power=p, end=end), w), last_epoch)


def get_inverse_sqrt_schedule(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    timescale: int | None = None,
    last_epoch: int = -1,
) -> ScheduledLR:
    """Warmup, then ``1 / sqrt((t + timescale - W) / timescale)``."""
    owner = "get_inverse_sqrt_schedule"
    w = _steps(owner, "num_warmup_steps", num_warmup_steps)
    return _scheduler(optimizer, InverseSqrt(w, timescale), last_epoch)


def get_cosine_with_min_lr_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
) -> ScheduledLR:
    """As the cosine schedule, on a floor ``min_lr_rate`` (or ``min_lr / defaults["lr"]``)."""
    min_lr_rate = _min_lr_rate(optimizer, min_lr, min_lr_rate)
    owner = "get_cosine_with_min_lr_schedule_with_warmup"
    rate = normalize(owner, "min_lr_rate", Param(kind="float", lo=0.0, hi=1.0), min_lr_rate)
    schedule = _cosine(owner, num_warmup_steps, num_training_steps, num_cycles, rate)
    return _scheduler(optimizer, schedule, last_epoch)


def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
) -> ScheduledLR:
    """Hugging Face's "cosine_warmup_with_min_lr": its warmup is ``(t + 1) / max(1, W)``
    (or ``warmup_lr_rate + (1 - warmup_lr_rate) t / max(1, W - 1)``) and its decay
    reads progress ``(t - W + 1) / max(1, T - W)``, one step ahead of the others."""
    min_lr_rate = _min_lr_rate(optimizer, min_lr, min_lr_rate)
    owner = "get_cosine_with_min_lr_schedule_with_warmup_lr_rate"
    rate = normalize(owner, "min_lr_rate", Param(kind="float", lo=0.0, hi=1.0), min_lr_rate)
    w = _steps(owner, "num_warmup_steps", num_warmup_steps)
    decay = Shift(_cosine(owner, 0, _decay_length(w, num_training_steps), num_cycles, rate), 1.0)
    if w == 0:
        return _scheduler(optimizer, decay, last_epoch)
    if warmup_lr_rate is None:
        rise = Linear(w, start=1.0 / w, end=(w + 1.0) / w)
    else:
        r0 = normalize(owner, "warmup_lr_rate", Param(kind="float", lo=0.0, hi=1.0), warmup_lr_rate)
        rise = Linear(w, start=r0, end=r0 + (1.0 - r0) * w / max(1, w - 1))
    return _scheduler(optimizer, Join((rise, decay), (w,)), last_epoch)


def get_wsd_schedule(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_decay_steps: int,
    num_training_steps: int | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
) -> ScheduledLR:
    """Warmup from ``min_lr_ratio`` to 1, stable, decay to ``min_lr_ratio``, then held:
    lrkit's :class:`~lrkit.schedules.WSD` with ``start == end == min_lr_ratio``."""
    owner = "get_wsd_schedule"
    if num_training_steps is None and num_stable_steps is None:
        raise ValueError("Either num_training_steps or num_stable_steps must be specified.")
    for name, kind in (("warmup_type", warmup_type), ("decay_type", decay_type)):
        if kind not in ("linear", "cosine", "1-sqrt"):
            raise ValueError(
                f"Unknown {name.split('_')[0]} type: {kind}, "
                "expected 'linear', 'cosine' or '1-sqrt'"
            )
    w = _steps(owner, "num_warmup_steps", num_warmup_steps)
    d = _steps(owner, "num_decay_steps", num_decay_steps)
    stable = (
        _steps(owner, "num_stable_steps", num_stable_steps)
        if num_stable_steps is not None
        else _steps(owner, "num_training_steps", num_training_steps) - w - d
    )
    r = normalize(owner, "min_lr_ratio", Param(kind="float", lo=0.0, hi=1.0), min_lr_ratio)
    c = normalize(owner, "num_cycles", Param(kind="float", lo=0.0), num_cycles)
    if d >= 1 and stable >= 0 and not (decay_type == "cosine" and c != 0.5):
        wsd = WSD(
            steps=w + stable + d,
            cooldown=d,
            warmup=w,
            shape=decay_type,
            end=r,
            start=r,
            warmup_shape=warmup_type,
        )
        return _scheduler(optimizer, wsd, last_epoch)
    # What WSD has no field for: no decay phase, a negative stable phase, or a
    # cosine decay of other than half a cycle; the phases are joined as HF's are.
    phases: list[tuple[Schedule, int]] = []
    if w:
        phases.append((Piecewise((0.0, float(max(1, w))), (r, 1.0), warmup_type), w))
    if stable > 0:
        phases.append((Constant(1.0), stable))
    if d:
        decay: Schedule
        if decay_type == "cosine" and c != 0.5:
            wave = cosine_wave(max(1, d) / c) if c > 0 else Constant(1.0)
            decay = Sum((Scale(wave, 1.0 - r), Constant(r)))
        else:
            decay = Piecewise((0.0, float(max(1, d))), (1.0, r), decay_type)
        phases.append((decay, d))
    phases.append((Constant(r), 0))
    boundaries, at = [], 0
    for _, length in phases[:-1]:
        at += length
        boundaries.append(at)
    return _scheduler(optimizer, Join(tuple(s for s, _ in phases), tuple(boundaries)), last_epoch)


def get_reduce_on_plateau_schedule(optimizer: torch.optim.Optimizer, **kwargs: Any) -> Any:
    """``ReduceLROnPlateau(optimizer, **kwargs)`` (lrkit's torch compat, torch's numbers)."""
    return ReduceLROnPlateau(optimizer, **kwargs)


class GreedyLR:
    """Hugging Face's ``GreedyLR``: a plateau controller that also raises the lr.

    After more than ``patience`` improving metrics every group's lr becomes
    ``min(lr / factor, max_lr)`` (then ``warmup`` metrics are ignored);
    after more than ``patience`` non-improving ones ``max(lr * factor,
    min_lr)`` (then ``cooldown`` are ignored); a change of ``eps`` or less
    is skipped. Once every group sits at its ``min_lr`` for ``reset_start``
    reductions, the lrs, the best metric and the counters reset. With
    ``smooth`` the metric is first averaged over the last ``window_size``
    values. "Improving" is the native
    :class:`~lrkit.schedules.ReduceOnPlateau` rule (``mode``, ``threshold``,
    ``threshold_mode``). ``verbose`` logs to the ``lrkit`` logger instead of
    printing. Deliberate difference: ``factor`` must lie in (0, 1) (Hugging
    Face divides by a zero or negative one).
    """

    _KEYS = (
        "factor", "min_lrs", "max_lrs", "patience", "verbose", "cooldown", "warmup",
        "cooldown_counter", "warmup_counter", "mode", "threshold", "threshold_mode", "best",
        "num_bad_epochs", "num_good_epochs", "eps", "last_epoch", "smooth", "window_size",
        "reset_start", "reset_start_original", "_last_lr", "_init_lrs",
    )  # fmt: skip

    def __init__(
        self, optimizer: torch.optim.Optimizer, mode: str = "min", factor: float = 0.95,
        patience: int = 10, threshold: float = 1e-6, threshold_mode: str = "abs",
        cooldown: int = 0, warmup: int = 0, min_lr: float | list[float] = 1e-3,
        max_lr: float | list[float] = 1.0, eps: float = 1e-8, verbose: bool = False,
        smooth: bool = False, window_size: int = 50, reset_start: int = 500,
    ) -> None:  # fmt: skip
        owner = "GreedyLR"
        self.optimizer = check_optimizer(owner, optimizer)
        try:
            self._rule = ReduceOnPlateau(
                mode=mode, factor=factor, threshold=threshold, threshold_mode=threshold_mode
            )
        except (TypeError, ValueError) as err:
            raise type(err)(str(err).replace("ReduceOnPlateau", owner, 1)) from None
        self.patience = int(normalize(owner, "patience", Param(kind="int", lo=0), patience))
        self.cooldown = int(normalize(owner, "cooldown", Param(kind="int", lo=0), cooldown))
        self.warmup = int(normalize(owner, "warmup", Param(kind="int", lo=0), warmup))
        self.eps = float(normalize(owner, "eps", Param(kind="float", lo=0.0), eps))
        self.window_size = int(
            normalize(owner, "window_size", Param(kind="int", lo=1), window_size)
        )
        self.reset_start = int(
            normalize(owner, "reset_start", Param(kind="int", lo=0), reset_start)
        )
        self.min_lrs = per_group(owner, "min_lr", optimizer, min_lr, kind="float", lo=0.0)
        self.max_lrs = per_group(owner, "max_lr", optimizer, max_lr, kind="float", lo=0.0)
        self.verbose, self.smooth = bool(verbose), bool(smooth)
        self.reset_start_original = self.reset_start
        self.last_epoch = 0
        self._init_lrs = [g["lr"] for g in optimizer.param_groups]
        self._last_lr = list(self._init_lrs)
        self._window: list[float] = []
        self._sum = 0.0
        self._restart()

    def _restart(self) -> None:
        self._rule.reset()
        self.num_bad_epochs = self.num_good_epochs = 0
        self.cooldown_counter = self.warmup_counter = 0
        self.reset_start = self.reset_start_original
        self._window, self._sum = [], 0.0

    # Hugging Face's attribute names over the improvement rule's
    mode = delegated("_rule", "mode")
    factor = delegated("_rule", "factor")
    threshold = delegated("_rule", "threshold")
    threshold_mode = delegated("_rule", "threshold_mode")
    best = delegated("_rule", "best")

    def _smoothed(self, value: float) -> float:
        """Hugging Face's rolling mean, its running sum included (same rounding)."""
        self._window.append(value)
        self._sum += value
        if len(self._window) > self.window_size:
            self._sum -= self._window.pop(0)
        return self._sum / len(self._window)

    def step(self, metrics: Any, epoch: int | None = None) -> None:
        """Record one metric value and raise, lower or keep the lrs."""
        current = float(metrics)
        if self.smooth:
            current = self._smoothed(current)
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self.cooldown_counter > 0 or self.warmup_counter > 0:
            if self.cooldown_counter > 0:
                self.cooldown_counter -= 1
            else:
                self.warmup_counter -= 1
            self.num_bad_epochs = self.num_good_epochs = 0
        else:
            if self._rule.improves(current):
                self.best, self.num_bad_epochs = current, 0
                self.num_good_epochs += 1
            else:
                self.num_bad_epochs += 1
                self.num_good_epochs = 0
            if self.num_good_epochs > self.patience:
                self._move(up=True)
                self.reset_start = self.reset_start_original
                self.warmup_counter, self.num_good_epochs = self.warmup, 0
            elif self.num_bad_epochs > self.patience:
                self._move(up=False)
                self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _move(self, up: bool) -> None:
        groups = self.optimizer.param_groups
        for i, group in enumerate(groups):
            old = float(group["lr"])
            new = min(old / self.factor, self.max_lrs[i]) if up else max(
                old * self.factor, self.min_lrs[i]
            )  # fmt: skip
            if abs(new - old) > self.eps and (new > old) == up:
                group["lr"] = new
                if self.verbose:
                    _log.info("GreedyLR: group %d lr -> %.4e (step %d)", i, new, self.last_epoch)
        if not up and all(g["lr"] <= low for g, low in zip(groups, self.min_lrs)):
            self.reset_start -= 1
            if self.reset_start <= 0:
                for group, lr in zip(groups, self._init_lrs):
                    group["lr"] = lr
                self._restart()

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Hugging Face's keys (``_streaming_avg`` with ``smooth``)."""
        state = {k: getattr(self, k) for k in self._KEYS}
        state["min_lrs"], state["max_lrs"] = list(self.min_lrs), list(self.max_lrs)
        if self.smooth:
            state["_streaming_avg"] = {
                "window_size": self.window_size, "values": list(self._window),
                "sum": self._sum,
            }  # fmt: skip
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by Hugging Face's; the
        lrs of the saved step are restored into the optimizer, as there."""
        for key in self._KEYS:
            if key in state_dict:
                setattr(self, key, state_dict[key])
        if "_streaming_avg" in state_dict:
            avg = state_dict["_streaming_avg"]
            self._window, self._sum = list(avg.get("values", [])), float(avg.get("sum", 0.0))
        if "_last_lr" in state_dict:
            for group, lr in zip(self.optimizer.param_groups, self._last_lr):
                group["lr"] = lr


def get_greedy_schedule(optimizer: torch.optim.Optimizer, **kwargs: Any) -> GreedyLR:
    """Hugging Face's ``get_greedy_schedule``: a :class:`GreedyLR`."""
    return GreedyLR(optimizer, **kwargs)


_FUNCTIONS: dict[str, Any] = {
    "linear": get_linear_schedule_with_warmup,
    "cosine": get_cosine_schedule_with_warmup,
    "cosine_with_restarts": get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": get_polynomial_decay_schedule_with_warmup,
    "constant": get_constant_schedule,
    "constant_with_warmup": get_constant_schedule_with_warmup,
    "inverse_sqrt": get_inverse_sqrt_schedule,
    "reduce_lr_on_plateau": get_reduce_on_plateau_schedule,
    "cosine_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup,
    "cosine_warmup_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "warmup_stable_decay": get_wsd_schedule,
    "greedy": get_greedy_schedule,
}


class AdafactorSchedule(LambdaLR):
    """Hugging Face's ``AdafactorSchedule``: a proxy that reports the lr Hugging Face's
    ``Adafactor`` computes itself (its relative step), for loops that log the lr.

    It has no schedule of its own: ``get_lr`` asks the optimizer's ``_get_lr``
    for each group whose first parameter has a gradient, and returns
    ``initial_lr`` before any step, exactly as Hugging Face's does.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, initial_lr: float = 0.0) -> None:
        owner = "AdafactorSchedule"
        check_optimizer(owner, optimizer)
        initial = normalize(owner, "initial_lr", Param(kind="float", lo=0.0), initial_lr)
        for group in optimizer.param_groups:
            group["initial_lr"] = initial
        super().__init__(optimizer, lambda _: initial)
        for group in optimizer.param_groups:
            del group["initial_lr"]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        opt: Any = self.optimizer
        lrs = [
            opt._get_lr(group, opt.state[group["params"][0]])
            for group in opt.param_groups
            if group["params"][0].grad is not None
        ]
        return lrs if lrs else [float(b) for b in self.base_lrs]  # before the first step


def get_adafactor_schedule(
    optimizer: torch.optim.Optimizer, initial_lr: float = 0.0
) -> AdafactorSchedule:
    """Hugging Face's ``get_adafactor_schedule``: the proxy for its ``Adafactor``."""
    return AdafactorSchedule(optimizer, initial_lr)


def get_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Hugging Face's ``get_scheduler``: the schedule called ``name`` (a SchedulerType value)."""
    key = getattr(name, "value", name)
    if key not in _FUNCTIONS:
        raise ValueError(
            f"get_scheduler: unknown scheduler {key!r}" + did_you_mean(str(key), list(_FUNCTIONS))
        )
    kwargs = dict(scheduler_specific_kwargs or {})
    fn = _FUNCTIONS[key]
    if key in ("constant", "reduce_lr_on_plateau", "greedy"):
        return fn(optimizer, **kwargs)
    if num_warmup_steps is None:
        raise ValueError(f"{key} requires `num_warmup_steps`, please provide that argument.")
    if key in ("constant_with_warmup", "inverse_sqrt"):
        return fn(optimizer, num_warmup_steps=num_warmup_steps, **kwargs)
    if key == "warmup_stable_decay":
        return fn(
            optimizer,
            num_warmup_steps=num_warmup_steps,
            num_training_steps=num_training_steps,
            **kwargs,
        )
    if num_training_steps is None:
        raise ValueError(f"{key} requires `num_training_steps`, please provide that argument.")
    return fn(
        optimizer,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
        **kwargs,
    )


__all__ = [
    "SCHEDULER_TYPES",
    "AdafactorSchedule",
    "GreedyLR",
    "cosine_wave",
    "get_adafactor_schedule",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_greedy_schedule",
    "get_inverse_sqrt_schedule",
    "get_linear_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_reduce_on_plateau_schedule",
    "get_scheduler",
    "get_wsd_schedule",
]
