"""Monotone decays: constant, linear, step, multistep, exponential, inverse-time,
time-based (recursive), polynomial and REX."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lrkit.schedules.array_ops import MATH, log_rising_product, stirling_correction
from lrkit.schedules.base import Phase, Schedule, derived, register
from lrkit.schedules.params import param
from lrkit.schedules.shapes import progress, segment


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


@register("constant", "a constant value")
@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """``s(t) = value``.

    >>> Constant(0.5)(1000)
    0.5
    """

    value: float = param(1.0, kind="float", lo=0.0)

    def _eval(self, t: Any, ops: Any) -> Any:
        return self.value

    def bounds(self) -> tuple[float, float]:
        return (self.value, self.value)

    def monotone(self) -> int | None:
        return 0

    def horizon(self) -> float | None:
        return 0.0

    def continuous(self) -> bool:
        return True

    @classmethod
    def example(cls) -> Constant:
        return cls(0.5)


@register("linear", "linear from start to end over steps, then holds (textbook decay to a floor)")
@dataclass(frozen=True, repr=False)
class Linear(Phase):
    """Linear from ``start`` to ``end`` over ``steps``, then holds ``end``.

    ``s(t) = (1 - k/tau) start + (k/tau) end`` with ``k = min(t, tau)``,
    ``tau = steps``: the textbook decay to a floor (Goodfellow et al., 8.3.1,
    where the usual choice is ``end = 0.01 start``); with ``start < end`` it is
    a linear warmup.

    >>> s = Linear(steps=100, start=1.0, end=0.01)
    >>> s(0), s(50), s(100), s(1000)
    (1.0, 0.505, 0.01, 0.01)
    """

    steps: int = param(kind="int", lo=1)
    start: float = param(1.0, kind="float", lo=0.0)
    end: float = param(0.0, kind="float", lo=0.0)

    def _eval(self, t: Any, ops: Any) -> Any:
        return segment("linear", self.start, self.end, progress(t, self.steps, ops), ops)

    def bounds(self) -> tuple[float, float]:
        return (min(self.start, self.end), max(self.start, self.end))

    def monotone(self) -> int | None:
        return _sign(self.end - self.start)

    @classmethod
    def example(cls) -> Linear:
        return cls(steps=100, start=1.0, end=0.01)


@register("step", "step (drop) decay: gamma ** floor(t / every)")
@dataclass(frozen=True, repr=False)
class StepDecay(Schedule):
    """Step (drop) decay: ``s(t) = gamma ** floor(t / every)``.

    >>> s = StepDecay(every=10, gamma=0.5)
    >>> s(0), s(9), s(10), s(25)
    (1.0, 1.0, 0.5, 0.25)
    """

    every: int = param(kind="int", lo=1)
    gamma: float = param(0.1, kind="float", lo=0.0, lo_open=True)

    def _eval(self, t: Any, ops: Any) -> Any:
        return ops.power(self.gamma, ops.floor(t / self.every))

    def bounds(self) -> tuple[float, float]:
        return (0.0, 1.0) if self.gamma <= 1 else (1.0, math.inf)

    def monotone(self) -> int | None:
        return _sign(self.gamma - 1.0)

    @classmethod
    def example(cls) -> StepDecay:
        return cls(every=30, gamma=0.5)


@register("multistep", "gamma ** (number of milestones passed); repeated milestones compound")
@dataclass(frozen=True, repr=False)
class MultiStep(Schedule):
    """``s(t) = gamma ** #{m in milestones : m <= t}``; repeated milestones compound.

    >>> s = MultiStep(milestones=[30, 80], gamma=0.1)
    >>> s(29), s(30), round(s(80), 12)
    (1.0, 0.1, 0.01)
    """

    milestones: tuple[int, ...] = param(kind="ints", lo=0, increasing=True, min_len=1)
    gamma: float = param(0.1, kind="float", lo=0.0, lo_open=True)

    def _eval(self, t: Any, ops: Any) -> Any:
        count: Any = 0.0
        for m in self.milestones:
            count = count + ops.where(t >= m, 1.0, 0.0)
        return ops.power(self.gamma, count)

    def bounds(self) -> tuple[float, float]:
        final = self.gamma ** len(self.milestones)
        return (min(1.0, final), max(1.0, final))

    def monotone(self) -> int | None:
        return _sign(self.gamma - 1.0)

    def breakpoints(self) -> tuple[float, ...]:
        return tuple(float(m) for m in sorted(set(self.milestones)))

    def horizon(self) -> float | None:
        return float(self.milestones[-1])

    @classmethod
    def example(cls) -> MultiStep:
        return cls(milestones=(30, 60, 60, 90), gamma=0.5)


class _Periods(Schedule):
    """Families of Keras' form: a function of ``p = t / decay_steps``, floored
    when ``staircase``."""

    decay_steps: int
    staircase: bool

    def periods(self, t: Any, ops: Any) -> Any:
        p = t / self.decay_steps
        return ops.floor(p) if self.staircase else p

    def continuous(self) -> bool:
        return not self.staircase


@register("exponential", "exponential decay gamma ** (t / decay_steps), optionally staircase")
@dataclass(frozen=True, repr=False)
class Exponential(_Periods):
    """``s(t) = gamma ** p`` with ``p = t / decay_steps`` (``floor`` of it if ``staircase``).

    ``gamma`` is the factor per ``decay_steps`` steps (Keras' ``decay_rate``);
    ``gamma > 1`` grows, as in an exponential LR range test.

    >>> s = Exponential(gamma=0.5, decay_steps=10)
    >>> s(0), s(10), round(s(5), 6)
    (1.0, 0.5, 0.707107)
    """

    gamma: float = param(kind="float", lo=0.0, lo_open=True)
    decay_steps: int = param(1, kind="int", lo=1)
    staircase: bool = param(False, kind="bool")

    def _eval(self, t: Any, ops: Any) -> Any:
        return ops.power(self.gamma, self.periods(t, ops))

    def bounds(self) -> tuple[float, float]:
        return (0.0, 1.0) if self.gamma <= 1 else (1.0, math.inf)

    def monotone(self) -> int | None:
        return _sign(self.gamma - 1.0)

    @classmethod
    def example(cls) -> Exponential:
        return cls(gamma=0.5, decay_steps=100, staircase=True)


@register("inverse_time", "closed-form inverse-time decay 1 / (1 + decay t), as Keras")
@dataclass(frozen=True, repr=False)
class InverseTime(_Periods):
    """Inverse-time ("time-based") decay in closed form, as Keras defines it:
    ``s(t) = 1 / (1 + decay * p)`` with ``p = t / decay_steps`` (floored if ``staircase``).

    The other reading found in tutorials, ``lr <- lr / (1 + decay * t)``
    applied every step, is :class:`TimeBased`.

    >>> s = InverseTime(decay=0.5, decay_steps=10)
    >>> s(0), s(10), s(20)
    (1.0, 0.6666666666666666, 0.5)
    """

    decay: float = param(kind="float", lo=0.0)
    decay_steps: int = param(1, kind="int", lo=1)
    staircase: bool = param(False, kind="bool")

    def _eval(self, t: Any, ops: Any) -> Any:
        return 1.0 / (1.0 + self.decay * self.periods(t, ops))

    def bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def monotone(self) -> int | None:
        return -1 if self.decay > 0 else 0

    @classmethod
    def example(cls) -> InverseTime:
        return cls(decay=0.5, decay_steps=10, staircase=True)


@register("time_based", "recursive time-based decay lr_k = lr_{k-1} / (1 + decay k)")
@dataclass(frozen=True, repr=False)
class TimeBased(Schedule):
    """Recursive time-based decay: ``lr_k = lr_{k-1} / (1 + decay * k)`` each step, i.e.

    ``s(t) = prod_{k=1..n} 1 / (1 + decay * k)`` with ``n = floor(t)``,

    evaluated in closed form through the Gamma function
    (``prod (1 + decay k) = decay**n Gamma(n + 1 + 1/decay) / Gamma(1 + 1/decay)``),
    so that any step costs the same. It decays much faster than
    :class:`InverseTime`, which tutorials also call "time-based". ``decay``
    must be at least 1e-12 (below that the value differs from 1 by less
    than ``1e-12 t**2 / 2``, and ``1/decay`` loses the formula its precision).

    >>> s = TimeBased(decay=0.1)
    >>> s(0), round(s(1), 12), round(s(2), 12)
    (1.0, 0.909090909091, 0.757575757576)
    """

    decay: float = param(kind="float", lo=1e-12)

    @derived
    def _correction(self) -> float:
        return stirling_correction(1.0 + 1.0 / self.decay, MATH)  # type: ignore[no-any-return]

    def _eval(self, t: Any, ops: Any) -> Any:
        n = ops.floor(t)
        return ops.exp(-log_rising_product(self.decay, n, ops, self._correction))

    def bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def monotone(self) -> int | None:
        return -1

    @classmethod
    def example(cls) -> TimeBased:
        return cls(decay=0.01)


@register("polynomial", "polynomial decay to end with a power")
@dataclass(frozen=True, repr=False)
class Polynomial(Phase):
    """``s(t) = (start - end) (1 - min(t, T)/T) ** power + end`` with ``T = steps``.

    With ``cycle`` (TensorFlow/Keras' ``PolynomialDecay(cycle=True)``) the
    horizon grows instead of holding: ``T = steps * max(1, ceil(t / steps))``,
    so the value jumps back up at every multiple of ``steps``.

    >>> s = Polynomial(steps=100, power=2.0, end=0.1)
    >>> s(0), s(50), s(100), s(200)
    (1.0, 0.325, 0.1, 0.1)
    """

    steps: int = param(kind="int", lo=1)
    power: float = param(1.0, kind="float", lo=0.0, lo_open=True)
    end: float = param(0.0, kind="float", lo=0.0)
    start: float = param(1.0, kind="float", lo=0.0)
    cycle: bool = param(False, kind="bool")

    def _eval(self, t: Any, ops: Any) -> Any:
        if self.cycle:
            horizon = self.steps * ops.maximum(-ops.floor(-t / self.steps), 1.0)
            x = t / horizon
        else:
            x = progress(t, self.steps, ops)
        return (self.start - self.end) * ops.power(1.0 - x, self.power) + self.end

    def bounds(self) -> tuple[float, float]:
        return (min(self.start, self.end), max(self.start, self.end))

    def monotone(self) -> int | None:
        return None if self.cycle else _sign(self.end - self.start)

    def horizon(self) -> float | None:
        return None if self.cycle else float(self.steps)

    def continuous(self) -> bool:
        return not self.cycle

    @classmethod
    def example(cls) -> Polynomial:
        return cls(steps=100, power=2.0, end=0.1, start=0.9, cycle=True)


@register("rex", "REX rational decay, as pytorch_optimizer")
@dataclass(frozen=True, repr=False)
class REX(Phase):
    """REX, the rational decay of Chen et al. (2022), as ``pytorch_optimizer`` defines it:

    ``s(t) = end + (1 - end) (1 - x) / (1 - x/2)``, ``x = min(t, steps) / steps``.

    ``pytorch_optimizer.REXScheduler`` agrees from its first ``step()`` on
    (its lr after ``k`` calls is ``s(k)``), but sets the lr to ``end`` at
    construction, so its first update runs at the minimum, where lrkit's
    runs at ``s(0) = 1``.

    >>> s = REX(steps=100)
    >>> s(0), s(50), s(100)
    (1.0, 0.6666666666666666, 0.0)
    """

    steps: int = param(kind="int", lo=1)
    end: float = param(0.0, kind="float", lo=0.0)

    def _eval(self, t: Any, ops: Any) -> Any:
        x = progress(t, self.steps, ops)
        return self.end + (1.0 - self.end) * ((1.0 - x) / (1.0 - x / 2.0))

    def bounds(self) -> tuple[float, float]:
        return (min(1.0, self.end), max(1.0, self.end))

    def monotone(self) -> int | None:
        return _sign(self.end - 1.0)

    @classmethod
    def example(cls) -> REX:
        return cls(steps=100, end=0.05)


__all__ = [
    "REX",
    "Constant",
    "Exponential",
    "InverseTime",
    "Linear",
    "MultiStep",
    "Polynomial",
    "StepDecay",
    "TimeBased",
]
