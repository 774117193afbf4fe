"""Piecewise interpolation between knots, and the multiplicative (cumulative product) family."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrkit.schedules.array_ops import MATH
from lrkit.schedules.base import Schedule, derived, register
from lrkit.schedules.params import param
from lrkit.schedules.shapes import SHAPES, segment

INTERPOLATIONS = ("constant", *SHAPES)


@register("piecewise", "interpolation through knots: constant, linear, cosine, 1-sqrt")
@dataclass(frozen=True, repr=False)
class Piecewise(Schedule):
    """Interpolation through the knots ``(steps[i], values[i])``.

    Between ``steps[i]`` and ``steps[i+1]`` the value moves from ``values[i]``
    to ``values[i+1]`` along ``interpolation`` (Note [shapes]), or holds
    ``values[i]`` (``constant``). Before the first knot it is ``values[0]``,
    from the last knot on ``values[-1]``. Knots may be fractional and may
    repeat (a jump: the later value wins at the knot).

    >>> s = Piecewise(steps=[0, 10, 100], values=[0.0, 1.0, 0.1])
    >>> s(5), s(10), s(55), s(1000)
    (0.5, 1.0, 0.55, 0.1)
    """

    steps: tuple[float, ...] = param(kind="floats", lo=0.0, increasing=True, min_len=1)
    values: tuple[float, ...] = param(kind="floats", lo=0.0, min_len=1)
    interpolation: str = param("linear", kind="str", choices=INTERPOLATIONS)

    def _check(self) -> None:
        if len(self.steps) != len(self.values):
            self._fail(
                f"`steps` and `values` must have the same length, got "
                f"{len(self.steps)} and {len(self.values)}"
            )

    def _eval(self, t: Any, ops: Any) -> Any:
        knots, values = self.steps, self.values
        if ops is MATH:  # a scalar needs only its own segment
            i = bisect_right(knots, t)  # knots[i-1] <= t < knots[i]
            if i == 0 or i == len(knots):
                return values[0] if i == 0 else values[-1]
            if self.interpolation == "constant":
                return values[i - 1]
            x = (t - knots[i - 1]) / (knots[i] - knots[i - 1])
            return segment(self.interpolation, values[i - 1], values[i], x, ops)
        value: Any = values[0]
        for i in range(len(knots) - 1):
            length = knots[i + 1] - knots[i]
            if self.interpolation == "constant":
                piece = values[i]
            elif length == 0:
                continue
            else:
                x = ops.minimum(ops.maximum((t - knots[i]) / length, 0.0), 1.0)
                piece = segment(self.interpolation, values[i], values[i + 1], x, ops)
            value = ops.where(t >= knots[i], piece, value)
        return ops.where(t >= knots[-1], values[-1], value)

    def bounds(self) -> tuple[float, float]:
        return (min(self.values), max(self.values))

    def monotone(self) -> int | None:
        diffs = {(b > a) - (b < a) for a, b in zip(self.values, self.values[1:])} - {0}
        return None if len(diffs) > 1 else (diffs.pop() if diffs else 0)

    def breakpoints(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.steps)))

    def horizon(self) -> float | None:
        return self.steps[-1]

    def continuous(self) -> bool:
        if self.interpolation == "constant":
            return len(set(self.values)) == 1
        return all(
            a != b or u == v
            for a, b, u, v in zip(self.steps, self.steps[1:], self.values, self.values[1:])
        )

    @classmethod
    def example(cls) -> Piecewise:
        return cls(
            steps=(0.0, 10.0, 60.0, 100.0), values=(0.1, 1.0, 0.5, 0.05), interpolation="cosine"
        )


@register(
    "multiplicative", "cumulative product of a per-step factor schedule (torch MultiplicativeLR)"
)
@dataclass(frozen=True, repr=False)
class Multiplicative(Schedule):
    """The cumulative product of a per-step factor, itself a schedule:

    ``s(t) = prod_{k=1..min(n, steps)} factor(k)``, ``n = floor(t)``,

    i.e. ``lr_k = lr_{k-1} * factor(k)`` (torch's ``MultiplicativeLR``) for
    ``steps`` steps, then held. The products are tabulated once (``steps``
    values, at most 10**7), so every evaluation is a lookup.

    >>> from lrkit.schedules import Constant
    >>> s = Multiplicative(Constant(0.5), steps=3)
    >>> s(0), s(1), s(3), s(10)
    (1.0, 0.5, 0.125, 0.125)
    """

    factor: Schedule = param(kind="schedule")
    steps: int = param(kind="int", lo=1, hi=10_000_000)

    @derived
    def table(self) -> np.ndarray:
        """``table[n] = prod_{k=1..n} factor(k)`` for ``n = 0..steps``."""
        factors = self.factor(np.arange(1, self.steps + 1, dtype=np.float64))
        with np.errstate(over="ignore", under="ignore"):
            return np.concatenate([[1.0], np.cumprod(factors)])

    @derived
    def _device_tables(self) -> dict[Any, Any]:
        """``table`` copied to each device it has been evaluated on."""
        return {}

    def _eval(self, t: Any, ops: Any) -> Any:
        n = ops.minimum(ops.floor(t), float(self.steps))
        return ops.take(self.table, n, self._device_tables)

    def bounds(self) -> tuple[float, float]:
        return (float(self.table.min()), float(self.table.max()))

    def monotone(self) -> int | None:
        factors = self.table[1:] / np.maximum(self.table[:-1], np.finfo(float).tiny)
        if np.all(factors == 1.0):
            return 0
        if np.all(factors <= 1.0):
            return -1
        return 1 if np.all(factors >= 1.0) else None

    def breakpoints(self) -> tuple[float, ...]:
        return (float(self.steps),)

    def horizon(self) -> float | None:
        return float(self.steps)

    @classmethod
    def example(cls) -> Multiplicative:
        from lrkit.schedules.decay import Linear

        return cls(Linear(steps=100, start=0.95, end=1.0), steps=150)


__all__ = ["INTERPOLATIONS", "Multiplicative", "Piecewise"]
