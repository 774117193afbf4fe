"""Cosine annealing (with k-decay), cosine with warm restarts, and timm's tanh decay."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lrkit.schedules.array_ops import MATH
from lrkit.schedules.base import Phase, Schedule, register
from lrkit.schedules.params import param
from lrkit.schedules.shapes import progress


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


@register("cosine", "cosine annealing to a floor (exponent, k-decay)")
@dataclass(frozen=True, repr=False)
class Cosine(Phase):
    """Cosine annealing from ``start`` to the floor ``end`` over ``steps``, then holds:

    ``s(t) = end + (start - end) * ((1 + cos(pi * x**k)) / 2) ** exponent``,
    ``x = min(t, steps) / steps``.

    ``k`` is timm's k-decay (``t**k / T**k``; ``k > 1`` keeps the value high
    for longer) and ``exponent`` is optax's ``cosine_decay_schedule`` exponent.
    With ``start < end`` it is a cosine warmup.

    >>> s = Cosine(steps=100, end=0.1)
    >>> s(0), round(s(50), 12), s(100), s(10**9)
    (1.0, 0.55, 0.1, 0.1)
    """

    steps: int = param(kind="int", lo=1)
    start: float = param(1.0, kind="float", lo=0.0)
    end: float = param(0.0, kind="float", lo=0.0)
    exponent: float = param(1.0, kind="float", lo=0.0, lo_open=True)
    k: float = param(1.0, kind="float", lo=0.0, lo_open=True)

    def _eval(self, t: Any, ops: Any) -> Any:
        x = ops.power(progress(t, self.steps, ops), self.k)
        c = ops.power(0.5 * (1.0 + ops.cos(math.pi * x)), self.exponent)
        return self.end + (self.start - self.end) * c

    def bounds(self) -> tuple[float, float]:
        return (min(self.start, self.end), max(self.start, self.end))

    def monotone(self) -> int | None:
        return _sign(self.end - self.start)

    @classmethod
    def example(cls) -> Cosine:
        return cls(steps=100, start=0.9, end=0.1, exponent=2.0, k=1.5)


@register(
    "cosine_restarts", "cosine with warm restarts (SGDR): period, mult, per-cycle decay, floor"
)
@dataclass(frozen=True, repr=False)
class CosineRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle ``i`` (from 0) lasts ``T_i = period * mult**i`` steps and starts at
    ``S_i = period * (mult**i - 1) / (mult - 1)`` (``i * period`` when
    ``mult == 1``). Inside it, with ``u = t - S_i``,

    ``s(t) = end + (decay**i - end) * (1 + cos(pi * (u / T_i)**k)) / 2``.

    ``decay`` is timm's per-cycle peak decay (``cycle_decay``), ``end`` the
    floor (torch's ``eta_min``), ``k`` timm's k-decay. After ``cycles``
    cycles (when given) the value stays at ``end``. Fractional steps are
    allowed, as in torch's ``CosineAnnealingWarmRestarts.step(epoch)``.

    >>> s = CosineRestarts(period=10, mult=2.0)
    >>> s(0), s(5), s(10), s(20), s(30)
    (1.0, 0.5, 1.0, 0.5, 1.0)
    """

    period: int = param(kind="int", lo=1)
    mult: float = param(1.0, kind="float", lo=1.0)
    decay: float = param(1.0, kind="float", lo=0.0, hi=1.0, lo_open=True)
    end: float = param(0.0, kind="float", lo=0.0)
    k: float = param(1.0, kind="float", lo=0.0, lo_open=True)
    cycles: int | None = param(None, kind="int", lo=1, nullable=True)

    def _cycle(self, t: Any, ops: Any) -> tuple[Any, Any, Any]:
        """``(i, u, T_i)``: the cycle index, the step inside it and its length."""
        if self.mult == 1.0:
            i = ops.floor(t / self.period)
            return i, t - i * self.period, float(self.period)
        log_m = math.log(self.mult)
        if ops is MATH:
            return self._scalar_cycle(t, log_m)

        def start(j: Any) -> Any:
            return self.period * (ops.power(self.mult, j) - 1.0) / (self.mult - 1.0)

        i = ops.floor(ops.log1p(t / self.period * (self.mult - 1.0)) / log_m)
        i = ops.where(t < start(i), i - 1.0, i)  # float rounding at a restart
        i = ops.where(t >= start(i + 1.0), i + 1.0, i)
        return i, t - start(i), self.period * ops.power(self.mult, i)

    def _scalar_cycle(self, t: float, log_m: float) -> tuple[float, float, float]:
        """``_cycle`` for a Python float, taking only the branch it needs."""
        m, p = self.mult, self.period
        i = math.floor(math.log1p(t / p * (m - 1.0)) / log_m)
        begin = p * (m**i - 1.0) / (m - 1.0)
        if t < begin:  # float rounding at a restart
            i -= 1
            begin = p * (m**i - 1.0) / (m - 1.0)
        elif t >= (after := p * (m ** (i + 1) - 1.0) / (m - 1.0)):
            i, begin = i + 1, after
        return float(i), t - begin, p * m**i

    def _eval(self, t: Any, ops: Any) -> Any:
        if ops is MATH:
            return self._scalar_eval(t)
        i, u, length = self._cycle(t, ops)
        x = ops.power(ops.minimum(ops.maximum(u / length, 0.0), 1.0), self.k)
        peak = ops.power(self.decay, i)
        value = self.end + (peak - self.end) * self._curve(x, ops)
        if self.cycles is not None:
            value = ops.where(i >= self.cycles, self.end, value)
        return value

    def _scalar_eval(self, t: float) -> float:
        i, u, length = self._cycle(t, MATH)
        if self.cycles is not None and i >= self.cycles:
            return self.end
        x = min(max(u / length, 0.0), 1.0) ** self.k
        peak = float(self.decay**i)
        return self.end + (peak - self.end) * float(self._curve(x, MATH))

    def _curve(self, x: Any, ops: Any) -> Any:
        """What a cycle plays at progress ``x`` in [0, 1]: from 1 down to 0."""
        return 0.5 * (1.0 + ops.cos(math.pi * x))

    def bounds(self) -> tuple[float, float]:
        lo = min(self.end, 1.0) if self.decay == 1.0 else min(self.end, 0.0)
        return (lo, max(self.end, 1.0))

    def monotone(self) -> int | None:
        if self.cycles == 1:
            return _sign(self.end - 1.0)
        return None

    def horizon(self) -> float | None:
        return self.breakpoints()[-1] if self.cycles is not None else None

    def breakpoints(self) -> tuple[float, ...]:
        out, start, length = [], 0.0, float(self.period)
        for _ in range(self.cycles or 8):
            start += length
            out.append(start)
            length *= self.mult
        return tuple(out)

    @classmethod
    def example(cls) -> CosineRestarts:
        return cls(period=10, mult=2.0, decay=0.7, end=0.05, k=1.2, cycles=4)


@register("restarts", "any decay restarted in cycles: period, mult, per-cycle decay, floor")
@dataclass(frozen=True, repr=False)
class Restarts(CosineRestarts):
    """Warm restarts of any decay ``curve``, in the cycles of :class:`CosineRestarts`.

    Cycle ``i`` lasts ``T_i = period * mult**i`` steps; inside it, with
    ``u`` the step in the cycle, ``H`` the curve's horizon and
    ``x = (u / T_i)**k``,

    ``s(t) = end + (decay**i - end) * curve(x * H)``,

    so a curve falling from 1 to 0 falls from the cycle's peak to ``end``.
    After ``cycles`` cycles (when given) the value stays at ``end``. timm
    restarts its tanh and polynomial decays this way (``curve`` =
    ``tanh(1)``, ``polynomial(1, power)``); with the default cosine curve it
    equals :class:`CosineRestarts`.

    >>> from lrkit.schedules import Polynomial
    >>> s = Restarts(period=10, mult=2.0, curve=Polynomial(1, power=1.0))
    >>> s(0), s(5), s(10), s(20)
    (1.0, 0.5, 1.0, 0.5)
    """

    curve: Schedule = param(Cosine(1), kind="schedule")

    def _check(self) -> None:
        horizon = self.curve.horizon()
        if horizon is None or not horizon > 0:
            self._fail(f"`curve` must have a finite horizon > 0, got {self.curve}")

    def _curve(self, x: Any, ops: Any) -> Any:
        return self.curve._eval(x * float(self.curve.horizon() or 1.0), ops)

    def bounds(self) -> tuple[float, float]:
        lo, hi = self.curve.bounds()
        peaks = [1.0] if self.decay == 1.0 else [1.0, 0.0]
        values = [self.end + (p - self.end) * v for p in peaks for v in (lo, hi)] + [self.end]
        return (min(values), max(values))

    def monotone(self) -> int | None:
        c = self.curve.monotone()
        if self.cycles != 1 or not c:
            return None
        # one cycle, then `end` for good: the jump from the curve's last value to `end`
        # must go the way the cycle went (an increasing curve drops back to `end`)
        direction = c * _sign(1.0 - self.end)
        lo, hi = self.curve.bounds()
        last = lo if c < 0 else hi
        return direction if direction * (1.0 - self.end) * last <= 0 else None

    @classmethod
    def example(cls) -> Restarts:
        return cls(period=10, mult=1.5, decay=0.8, end=0.05, k=1.2, cycles=3, curve=Tanh(1))


@register("tanh", "tanh decay, as timm's TanhLRScheduler")
@dataclass(frozen=True, repr=False)
class Tanh(Phase):
    """Hyperbolic-tangent decay (Hsueh et al. 2019) as timm's ``TanhLRScheduler`` defines it:

    ``s(t) = end + (1 - end) * (1 - tanh(lower * (1 - x) + upper * x)) / 2``,
    ``x = t / steps``, for ``t < steps``; ``s(t) = end`` from ``t == steps`` on
    (timm's end of its single cycle: the value drops from about
    ``(1 - tanh(upper)) / 2`` to ``end`` there).

    >>> s = Tanh(steps=100)
    >>> round(s(0), 6), round(s(70), 6), s(100)
    (0.999999, 0.5, 0.0)
    """

    steps: int = param(kind="int", lo=1)
    lower: float = param(-7.0, kind="float")
    upper: float = param(3.0, kind="float")
    end: float = param(0.0, kind="float", lo=0.0)

    def _check(self) -> None:
        if not self.lower < self.upper:
            self._fail(f"`lower` must be < `upper` ({self.upper!r}), got {self.lower!r}")

    def _eval(self, t: Any, ops: Any) -> Any:
        x = progress(t, self.steps, ops)
        z = self.lower * (1.0 - x) + self.upper * x
        curve = self.end + (1.0 - self.end) * 0.5 * (1.0 - ops.tanh(z))
        return ops.where(t >= self.steps, self.end, curve)

    def bounds(self) -> tuple[float, float]:
        return (min(self.end, 1.0), max(self.end, 1.0))

    def monotone(self) -> int | None:
        return -1 if self.end <= 1.0 else None

    def continuous(self) -> bool:
        return False  # the drop to `end` at t == steps

    @classmethod
    def example(cls) -> Tanh:
        return cls(steps=100, lower=-6.0, upper=4.0, end=0.05)


__all__ = ["Cosine", "CosineRestarts", "Restarts", "Tanh"]
