"""Warmup wrappers: shaped warmup before or on top of any schedule, and the
untuned and RAdam-derived warmups of Ma & Yarats (2021) as ``pytorch_warmup``
defines them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lrkit.schedules.base import Schedule, derived, register
from lrkit.schedules.params import param
from lrkit.schedules.shapes import SHAPES, progress, segment

WARMUP_SHAPES = (*SHAPES, "exponential")
WARMUP_MODES = ("prefix", "multiply")


@register("warmup", "linear/cosine/1-sqrt/exponential warmup before or on top of a schedule")
@dataclass(frozen=True, repr=False)
class Warmup(Schedule):
    """A warmup of ``steps`` steps whose factor ``w`` rises from ``start`` to 1.

    ``w(x)``, ``x = min(t, steps) / steps``, follows ``shape``: ``linear``,
    ``cosine`` or ``1-sqrt`` (Note [shapes]: ``start + (1 - start)(1 - sqrt(1 - x))``),
    or ``exponential``, the geometric ramp ``start ** (1 - x)`` (``start > 0``).

    ``mode="prefix"``: the warmup comes first and the wrapped schedule starts
    after it, ``s(t) = w(x) * inner(0)`` for ``t < steps`` and
    ``inner(t - steps)`` after (Hugging Face's and timm's ``warmup_prefix``).
    ``mode="multiply"``: the wrapped schedule keeps its own clock and the
    factor dampens it, ``s(t) = w(x) * inner(t)`` (``pytorch_warmup``).

    >>> from lrkit.schedules import Cosine
    >>> s = Warmup(Cosine(steps=100), steps=10)
    >>> s(0), s(5), s(10), s(60)
    (0.0, 0.5, 1.0, 0.5)
    """

    schedule: Schedule = param(kind="schedule")
    steps: int = param(kind="int", lo=1)
    shape: str = param("linear", kind="str", choices=WARMUP_SHAPES)
    start: float = param(0.0, kind="float", lo=0.0, hi=1.0)
    mode: str = param("prefix", kind="str", choices=WARMUP_MODES)

    def _check(self) -> None:
        if self.shape == "exponential" and self.start <= 0:
            self._fail(f"shape='exponential' needs `start` > 0, got {self.start!r}")

    def factor(self, t: Any, ops: Any) -> Any:
        """The warmup factor ``w`` at step ``t``."""
        x = progress(t, self.steps, ops)
        if self.shape == "exponential":
            return ops.power(self.start, 1.0 - x)
        return segment(self.shape, self.start, 1.0, x, ops)

    def _eval(self, t: Any, ops: Any) -> Any:
        if self.mode == "multiply":
            return self.factor(t, ops) * self.schedule._eval(t, ops)
        after = self.schedule._eval(ops.maximum(t - self.steps, 0.0), ops)
        during = self.factor(t, ops) * self.schedule._eval(0.0 * t, ops)
        return ops.where(t < self.steps, during, after)

    def bounds(self) -> tuple[float, float]:
        lo, hi = self.schedule.bounds()
        return (lo * self.start, hi)

    def monotone(self) -> int | None:
        inner = self.schedule.monotone()
        return 1 if inner is not None and inner >= 0 else None

    def horizon(self) -> float | None:
        inner = self.schedule.horizon()
        if inner is None:
            return None
        return self.steps + inner if self.mode == "prefix" else max(float(self.steps), inner)

    def breakpoints(self) -> tuple[float, ...]:
        shift = self.steps if self.mode == "prefix" else 0
        return (float(self.steps), *(b + shift for b in self.schedule.breakpoints()))

    def continuous(self) -> bool:
        return self.schedule.continuous()

    @classmethod
    def example(cls) -> Warmup:
        from lrkit.schedules.cosine import Cosine

        return cls(Cosine(steps=90, end=0.1), steps=10, shape="cosine", start=0.1, mode="multiply")


class _WarmupFactor(Schedule):
    """``s(t) = w(t) * schedule(t)``: a warmup factor in [0, 1] on the wrapped
    schedule's own clock (``pytorch_warmup``'s dampening)."""

    schedule: Schedule

    def factor(self, t: Any, ops: Any) -> Any:
        raise NotImplementedError

    def _eval(self, t: Any, ops: Any) -> Any:
        return self.factor(t, ops) * self.schedule._eval(t, ops)

    def bounds(self) -> tuple[float, float]:
        return (0.0, self.schedule.bounds()[1])

    def monotone(self) -> int | None:
        inner = self.schedule.monotone()
        return 1 if inner is not None and inner >= 0 else None

    def breakpoints(self) -> tuple[float, ...]:
        return self.schedule.breakpoints()

    def continuous(self) -> bool:
        return self.schedule.continuous()


@register(
    "untuned_warmup", "untuned linear/exponential warmup from Adam's beta2, as pytorch_warmup"
)
@dataclass(frozen=True, repr=False)
class UntunedWarmup(_WarmupFactor):
    """Untuned warmup for Adam-type optimizers, multiplying ``schedule`` (its clock unchanged):

    * ``linear``: ``w = min(1, (t + 1) / tau)``, ``tau = int(2 / (1 - beta2))``
    * ``exponential``: ``w = 1 - exp(-(t + 1) / tau)``, ``tau = int(1 / (1 - beta2))``

    as ``pytorch_warmup.UntunedLinearWarmup`` / ``UntunedExponentialWarmup``
    apply them, their ``int`` truncation included: float rounding makes
    ``beta2 = 0.99`` give ``tau = 199``, not 200. The first update already
    uses ``w(0) = 1/tau > 0``.

    >>> from lrkit.schedules import Constant
    >>> s = UntunedWarmup(Constant(), beta2=0.99)
    >>> s.tau, s(0) == 1 / 199, s(198), s(1000)
    (199, True, 1.0, 1.0)
    """

    schedule: Schedule = param(kind="schedule")
    beta2: float = param(0.999, kind="float", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    shape: str = param("linear", kind="str", choices=("linear", "exponential"))

    @derived
    def tau(self) -> int:
        """The warmup period, truncated to an integer as pytorch_warmup does."""
        return int((2.0 if self.shape == "linear" else 1.0) / (1.0 - self.beta2))

    def factor(self, t: Any, ops: Any) -> Any:
        if self.shape == "linear":
            return ops.minimum((t + 1.0) / self.tau, 1.0)
        return 1.0 - ops.exp(-(t + 1.0) / self.tau)

    def breakpoints(self) -> tuple[float, ...]:
        own = (float(self.tau - 1),) if self.shape == "linear" else ()
        return tuple(sorted({*own, *self.schedule.breakpoints()}))

    def horizon(self) -> float | None:
        inner = self.schedule.horizon()
        if self.shape != "linear" or inner is None:
            return None  # the exponential factor only approaches 1
        return max(float(self.tau - 1), inner)

    @classmethod
    def example(cls) -> UntunedWarmup:
        from lrkit.schedules.decay import Linear

        return cls(Linear(steps=1000, end=0.1), beta2=0.99, shape="exponential")


def _rho(step: Any, beta2: float, rho_inf: float, ops: Any) -> Any:
    """RAdam's ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``."""
    log_b2t = step * math.log(beta2)
    return rho_inf - 2.0 * step * ops.exp(log_b2t) / -ops.expm1(log_b2t)


@register("radam_warmup", "warmup derived from RAdam's rectification term, as pytorch_warmup")
@dataclass(frozen=True, repr=False)
class RAdamWarmup(_WarmupFactor):
    """The warmup implied by RAdam's rectification term, multiplying ``schedule``:

    ``w = sqrt((rho - 4)(rho - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho))``,
    ``rho = rho_{t + delta}``, ``rho_inf = 2 / (1 - beta2) - 1``, where
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)`` and ``delta`` is the
    first step with ``rho_delta > 4`` (``pytorch_warmup.RAdamWarmup``).
    ``beta2`` is at most 0.999999: closer to 1, ``rho_inf`` exceeds 1e6 and
    the difference ``rho_inf - rho_t`` is lost to rounding.

    >>> from lrkit.schedules import Constant
    >>> s = RAdamWarmup(Constant(), beta2=0.999)
    >>> round(s(0), 6), round(s(1000), 6)
    (0.017312, 0.646639)
    """

    schedule: Schedule = param(kind="schedule")
    beta2: float = param(0.999, kind="float", lo=0.6, hi=0.999999, lo_open=True)

    @derived
    def rho_inf(self) -> float:
        """``rho_inf = 2 / (1 - beta2) - 1``, RAdam's limit of the SMA length."""
        return 2.0 / (1.0 - self.beta2) - 1.0

    @derived
    def offset(self) -> int:
        """``delta``: the first step with ``rho_delta > 4``."""
        from lrkit.schedules.array_ops import MATH

        offset = 1
        while _rho(float(offset), self.beta2, self.rho_inf, MATH) <= 4.0:
            offset += 1
        return offset

    def factor(self, t: Any, ops: Any) -> Any:
        r_inf = self.rho_inf
        rho = _rho(t + float(self.offset), self.beta2, r_inf, ops)
        return ops.sqrt((rho - 4.0) * (rho - 2.0) * r_inf / ((r_inf - 4.0) * (r_inf - 2.0) * rho))

    @classmethod
    def example(cls) -> RAdamWarmup:
        from lrkit.schedules.cosine import Cosine

        return cls(Cosine(steps=2000, end=0.1), beta2=0.99)


__all__ = ["WARMUP_MODES", "WARMUP_SHAPES", "RAdamWarmup", "UntunedWarmup", "Warmup"]
