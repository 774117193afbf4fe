"""Composition as data: Join, Scale, Product, Sum, Clip, Repeat."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lrkit.schedules.array_ops import MATH
from lrkit.schedules.base import Schedule, register
from lrkit.schedules.params import param
from lrkit.schedules.spec import parse  # examples name other families by spec

_TOL = 1e-12


def _latest(horizons: Iterable[float | None]) -> float | None:
    """The last of several horizons; None if any part never settles."""
    values = list(horizons)
    return None if None in values else max(v for v in values if v is not None)


def _same_direction(schedules: tuple[Schedule, ...]) -> int | None:
    """The common monotone direction of ``schedules`` (constants join either)."""
    signs = {s.monotone() for s in schedules}
    if None in signs or signs == {1, -1} or signs >= {1, -1}:
        return None
    signs.discard(0)
    return signs.pop() if signs else 0


@register("join", "phases in sequence, each on its own relative clock")
@dataclass(frozen=True, repr=False)
class Join(Schedule):
    """Phases in sequence: ``schedules[i]`` runs from ``boundaries[i-1]`` to
    ``boundaries[i]``, each seeing its own relative step:

    ``s(t) = schedules[i](t - boundaries[i-1])`` for ``boundaries[i-1] <= t < boundaries[i]``.

    >>> from lrkit.schedules import Constant, Linear
    >>> s = Join([Linear(steps=10, start=0.0, end=1.0), Constant(1.0)], boundaries=[10])
    >>> s(0), s(5), s(10), s(100)
    (0.0, 0.5, 1.0, 1.0)
    """

    schedules: tuple[Schedule, ...] = param(kind="schedules", min_len=1)
    boundaries: tuple[int, ...] = param((), kind="ints", lo=1, increasing=True)

    def _check(self) -> None:
        if len(self.boundaries) != len(self.schedules) - 1:
            self._fail(
                f"`boundaries` must have one entry fewer than `schedules` "
                f"({len(self.schedules)}), got {len(self.boundaries)}"
            )
        if len(set(self.boundaries)) != len(self.boundaries):
            self._fail(f"`boundaries` must be strictly increasing, got {list(self.boundaries)!r}")

    def _eval(self, t: Any, ops: Any) -> Any:
        if ops is MATH:  # a scalar needs only its own phase
            i = bisect_right(self.boundaries, t)
            return self.schedules[i]._eval(t - (self.boundaries[i - 1] if i else 0), ops)
        value = self.schedules[0]._eval(t, ops)
        for b, phase in zip(self.boundaries, self.schedules[1:]):
            value = ops.where(t >= b, phase._eval(ops.maximum(t - b, 0.0), ops), value)
        return value

    def _phase_ends(self) -> list[tuple[float, float]]:
        """``(last value of phase i, first value of phase i+1)`` at each boundary."""
        starts = (0, *self.boundaries)
        return [
            (self.schedules[i](b - starts[i]), self.schedules[i + 1](0))
            for i, b in enumerate(self.boundaries)
        ]

    def bounds(self) -> tuple[float, float]:
        los, his = zip(*(s.bounds() for s in self.schedules))
        return (min(los), max(his))

    def monotone(self) -> int | None:
        direction = _same_direction(self.schedules)
        if direction is None:
            return None
        for end, start in self._phase_ends():
            step = start - end
            if step * direction < -_TOL or (direction == 0 and abs(step) > _TOL):
                return None
        return direction

    def breakpoints(self) -> tuple[float, ...]:
        starts = (0, *self.boundaries)
        ends = (*self.boundaries, math.inf)
        inner = {
            start + b
            for start, end, phase in zip(starts, ends, self.schedules)
            for b in phase.breakpoints()
            if start + b < end
        }
        return tuple(sorted({*map(float, self.boundaries), *inner}))

    def horizon(self) -> float | None:
        last = self.schedules[-1].horizon()
        if last is None:
            return None
        return (self.boundaries[-1] if self.boundaries else 0) + last

    def continuous(self) -> bool:
        if not all(s.continuous() for s in self.schedules):
            return False
        return all(
            abs(end - start) <= _TOL * max(1.0, abs(end)) for end, start in self._phase_ends()
        )

    @classmethod
    def example(cls) -> Join:
        return cls(
            (parse("linear(steps=10, start=0.1, end=1.0)"), parse("cosine(steps=90, end=0.1)")),
            (10,),
        )


@register("scale", "a schedule times a constant factor")
@dataclass(frozen=True, repr=False)
class Scale(Schedule):
    """``s(t) = factor * schedule(t)``.

    >>> from lrkit.schedules import Constant
    >>> Scale(Constant(0.5), factor=3.0)(7)
    1.5
    """

    schedule: Schedule = param(kind="schedule")
    factor: float = param(kind="float", lo=0.0)

    def _eval(self, t: Any, ops: Any) -> Any:
        return self.factor * self.schedule._eval(t, ops)

    def bounds(self) -> tuple[float, float]:
        lo, hi = self.schedule.bounds()
        return (self.factor * lo, self.factor * hi if self.factor else 0.0)

    def monotone(self) -> int | None:
        return self.schedule.monotone() if self.factor else 0

    def breakpoints(self) -> tuple[float, ...]:
        return self.schedule.breakpoints()

    def horizon(self) -> float | None:
        return self.schedule.horizon()

    def continuous(self) -> bool:
        return self.schedule.continuous()

    @classmethod
    def example(cls) -> Scale:
        return cls(parse("cosine(steps=100)"), factor=0.5)


class _Combination(Schedule):
    """Schedules combined pointwise by an associative operator."""

    schedules: tuple[Schedule, ...]

    @staticmethod
    def _combine(a: Any, b: Any, ops: Any) -> Any:
        raise NotImplementedError

    def _eval(self, t: Any, ops: Any) -> Any:
        value = self.schedules[0]._eval(t, ops)
        for s in self.schedules[1:]:
            value = self._combine(value, s._eval(t, ops), ops)
        return value

    def monotone(self) -> int | None:
        return _same_direction(self.schedules)

    def breakpoints(self) -> tuple[float, ...]:
        return tuple(sorted({b for s in self.schedules for b in s.breakpoints()}))

    def horizon(self) -> float | None:
        return _latest(s.horizon() for s in self.schedules)

    def continuous(self) -> bool:
        return all(s.continuous() for s in self.schedules)


@register("product", "the product of schedules")
@dataclass(frozen=True, repr=False)
class Product(_Combination):
    """``s(t) = prod_i schedules[i](t)``.

    >>> from lrkit.schedules import Constant, Linear
    >>> Product([Constant(0.5), Linear(steps=10)])(5)
    0.25
    """

    schedules: tuple[Schedule, ...] = param(kind="schedules", min_len=2)

    @staticmethod
    def _combine(a: Any, b: Any, ops: Any) -> Any:
        return a * b

    def bounds(self) -> tuple[float, float]:
        los, his = zip(*(s.bounds() for s in self.schedules))
        return (math.prod(los), 0.0 if 0.0 in his else math.prod(his))

    @classmethod
    def example(cls) -> Product:
        return cls((parse("linear(steps=200, end=0.2)"), parse("cyclic(up=10, low=0.5)")))


@register("sum", "the sum of schedules")
@dataclass(frozen=True, repr=False)
class Sum(_Combination):
    """``s(t) = sum_i schedules[i](t)``.

    >>> from lrkit.schedules import Constant, Linear
    >>> Sum([Constant(0.1), Linear(steps=10)])(5)
    0.6
    """

    schedules: tuple[Schedule, ...] = param(kind="schedules", min_len=2)

    @staticmethod
    def _combine(a: Any, b: Any, ops: Any) -> Any:
        return a + b

    def bounds(self) -> tuple[float, float]:
        los, his = zip(*(s.bounds() for s in self.schedules))
        return (sum(los), sum(his))

    @classmethod
    def example(cls) -> Sum:
        return cls((parse("constant(0.1)"), parse("cosine(steps=100, end=0.2)")))


@register("minimum", "the smallest of schedules at each step")
@dataclass(frozen=True, repr=False)
class Minimum(_Combination):
    """``s(t) = min_i schedules[i](t)``.

    >>> from lrkit.schedules import Constant, Linear
    >>> s = Minimum([Constant(0.5), Linear(steps=4)])
    >>> s(1), s(3)
    (0.5, 0.25)
    """

    schedules: tuple[Schedule, ...] = param(kind="schedules", min_len=2)

    @staticmethod
    def _combine(a: Any, b: Any, ops: Any) -> Any:
        return ops.minimum(a, b)

    def bounds(self) -> tuple[float, float]:
        los, his = zip(*(s.bounds() for s in self.schedules))
        return (min(los), min(his))

    @classmethod
    def example(cls) -> Minimum:
        return cls(
            (parse("linear(steps=100, start=0.0, end=1.0)"), parse("cosine(steps=200, end=0.1)"))
        )


@register("maximum", "the largest of schedules at each step")
@dataclass(frozen=True, repr=False)
class Maximum(_Combination):
    """``s(t) = max_i schedules[i](t)``: e.g. a decay that never falls below a floor curve.

    >>> from lrkit.schedules import Constant, Linear
    >>> s = Maximum([Constant(0.3), Linear(steps=4)])
    >>> s(1), s(3)
    (0.75, 0.3)
    """

    schedules: tuple[Schedule, ...] = param(kind="schedules", min_len=2)

    @staticmethod
    def _combine(a: Any, b: Any, ops: Any) -> Any:
        return ops.maximum(a, b)

    def bounds(self) -> tuple[float, float]:
        los, his = zip(*(s.bounds() for s in self.schedules))
        return (max(los), max(his))

    @classmethod
    def example(cls) -> Maximum:
        return cls((parse("exponential(gamma=0.97)"), parse("cosine(steps=200, end=0.2)")))


@register("clip", "a schedule clipped to [low, high]")
@dataclass(frozen=True, repr=False)
class Clip(Schedule):
    """``s(t) = min(max(schedule(t), low), high)`` (no upper clip when ``high`` is None).

    >>> from lrkit.schedules import Linear
    >>> s = Clip(Linear(steps=10), low=0.2)
    >>> s(0), s(9)
    (1.0, 0.2)
    """

    schedule: Schedule = param(kind="schedule")
    low: float = param(0.0, kind="float", lo=0.0)
    high: float | None = param(None, kind="float", lo=0.0, nullable=True)

    def _check(self) -> None:
        if self.high is not None and self.high < self.low:
            self._fail(f"`high` must be >= `low` ({self.low!r}), got {self.high!r}")

    def _eval(self, t: Any, ops: Any) -> Any:
        value = ops.maximum(self.schedule._eval(t, ops), self.low)
        return value if self.high is None else ops.minimum(value, self.high)

    def bounds(self) -> tuple[float, float]:
        lo, hi = self.schedule.bounds()
        top = math.inf if self.high is None else self.high
        return (min(max(lo, self.low), top), min(max(hi, self.low), top))

    def monotone(self) -> int | None:
        return self.schedule.monotone()

    def breakpoints(self) -> tuple[float, ...]:
        return self.schedule.breakpoints()

    def horizon(self) -> float | None:
        return self.schedule.horizon()

    def continuous(self) -> bool:
        return self.schedule.continuous()

    @classmethod
    def example(cls) -> Clip:
        return cls(parse("cyclic(up=10, low=0.0)"), low=0.2, high=0.8)


@register("repeat", "a schedule restarted every period steps")
@dataclass(frozen=True, repr=False)
class Repeat(Schedule):
    """``s(t) = schedule(t mod period)``: restart the same schedule every ``period`` steps
    (a period may be fractional, as Hugging Face's cosine cycles are).

    >>> from lrkit.schedules import Linear
    >>> s = Repeat(Linear(steps=10), period=10)
    >>> s(0), s(5), s(10), s(15)
    (1.0, 0.5, 1.0, 0.5)
    """

    schedule: Schedule = param(kind="schedule")
    period: float = param(kind="float", lo=1e-6)

    def _eval(self, t: Any, ops: Any) -> Any:
        # clamped: with a fractional period, rounding can put t - P floor(t / P) just below 0
        return self.schedule._eval(
            ops.maximum(t - self.period * ops.floor(t / self.period), 0.0), ops
        )

    def bounds(self) -> tuple[float, float]:
        return self.schedule.bounds()

    def monotone(self) -> int | None:
        return 0 if self.schedule.monotone() == 0 else None

    def breakpoints(self) -> tuple[float, ...]:
        return tuple(float(self.period * k) for k in range(1, 5))

    @classmethod
    def example(cls) -> Repeat:
        return cls(parse("cosine(steps=40, end=0.1)"), period=50)


@register("shift", "a schedule read offset steps ahead: schedule(t + offset)")
@dataclass(frozen=True, repr=False)
class Shift(Schedule):
    """``s(t) = schedule(t + offset)``: start a schedule part-way through.

    >>> from lrkit.schedules import Linear
    >>> s = Shift(Linear(steps=10), offset=5.0)
    >>> s(0), s(5)
    (0.5, 0.0)
    """

    schedule: Schedule = param(kind="schedule")
    offset: float = param(kind="float", lo=0.0)

    def _eval(self, t: Any, ops: Any) -> Any:
        return self.schedule._eval(t + self.offset, ops)

    def bounds(self) -> tuple[float, float]:
        return self.schedule.bounds()

    def monotone(self) -> int | None:
        return self.schedule.monotone()

    def breakpoints(self) -> tuple[float, ...]:
        return tuple(b - self.offset for b in self.schedule.breakpoints() if b > self.offset)

    def horizon(self) -> float | None:
        inner = self.schedule.horizon()
        return None if inner is None else max(0.0, inner - self.offset)

    def continuous(self) -> bool:
        return self.schedule.continuous()

    @classmethod
    def example(cls) -> Shift:
        return cls(parse("cosine(steps=100, end=0.1)"), offset=30.0)


__all__ = ["Clip", "Join", "Maximum", "Minimum", "Product", "Repeat", "Scale", "Shift", "Sum"]
