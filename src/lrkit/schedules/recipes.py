"""Recipes: named compositions of primitives that validate their own arguments.

Each recipe is data like any schedule (its own fields, spec and dict form)
and evaluates the composition that :meth:`build` returns, so an error always
names the recipe's argument, never an inner class's.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrkit.schedules.base import Schedule, register
from lrkit.schedules.compose import Join
from lrkit.schedules.cosine import Cosine
from lrkit.schedules.decay import Constant, Linear
from lrkit.schedules.params import param
from lrkit.schedules.piecewise import Piecewise
from lrkit.schedules.shapes import SHAPES
from lrkit.validation import Param, normalize


def _join(phases: list[tuple[Schedule, int]]) -> Schedule:
    """Phases given as ``(schedule, length)``; the last length is ignored."""
    boundaries, at = [], 0
    for _, length in phases[:-1]:
        at += length
        boundaries.append(at)
    return Join(tuple(s for s, _ in phases), tuple(boundaries))


@register("warmup_cosine", "recipe: linear warmup then cosine decay to a floor")
@dataclass(frozen=True, repr=False)
class WarmupCosine(Schedule):
    """Linear warmup from ``start`` to 1 over ``warmup`` steps, then cosine decay to
    ``end`` at ``t == steps``, then holds ``end``:

    ``s(t) = start + (1 - start) t / warmup`` for ``t < warmup``;
    ``s(t) = end + (1 - end) (1 + cos(pi (t - warmup) / (steps - warmup))) / 2`` after.

    >>> s = WarmupCosine(steps=100, warmup=10)
    >>> s(0), s(5), s(10), s(55), s(100), s(500)
    (0.0, 0.5, 1.0, 0.5, 0.0, 0.0)
    """

    steps: int = param(kind="int", lo=1)
    warmup: int = param(0, kind="int", lo=0)
    end: float = param(0.0, kind="float", lo=0.0)
    start: float = param(0.0, kind="float", lo=0.0)

    def _check(self) -> None:
        if self.warmup >= self.steps:
            self._fail(f"`warmup` must be less than `steps` ({self.steps}), got {self.warmup}")

    def build(self) -> Schedule:
        decay = Cosine(steps=self.steps - self.warmup, end=self.end)
        if not self.warmup:
            return Join((decay,))
        return _join([(Linear(self.warmup, start=self.start, end=1.0), self.warmup), (decay, 0)])

    @classmethod
    def example(cls) -> WarmupCosine:
        return cls(steps=100, warmup=10, end=0.1, start=0.01)


@register("wsd", "recipe: warmup-stable-decay with a linear, cosine or 1-sqrt cooldown")
@dataclass(frozen=True, repr=False)
class WSD(Schedule):
    """Warmup-stable-decay (trapezoidal): a warmup from ``start`` to 1 over
    ``warmup`` steps along ``warmup_shape``, hold 1, then a ``cooldown`` along
    ``shape`` reaching ``end`` at ``t == steps`` (Note [shapes]: ``linear``,
    ``cosine`` or ``1-sqrt``, the cooldown Hägele et al. 2024 found best).
    Hugging Face's ``get_wsd_schedule`` is the case ``start == end ==
    min_lr_ratio``.

    >>> s = WSD(steps=100, warmup=10, cooldown=20)
    >>> s(5), s(10), s(80), s(90), s(100)
    (0.5, 1.0, 1.0, 0.5, 0.0)
    """

    steps: int = param(kind="int", lo=1)
    cooldown: int = param(kind="int", lo=1)
    warmup: int = param(0, kind="int", lo=0)
    shape: str = param("linear", kind="str", choices=SHAPES)
    end: float = param(0.0, kind="float", lo=0.0)
    start: float = param(0.0, kind="float", lo=0.0)
    warmup_shape: str = param("linear", kind="str", choices=SHAPES)

    def _check(self) -> None:
        if self.warmup + self.cooldown > self.steps:
            self._fail(
                f"`warmup` + `cooldown` must be at most `steps` ({self.steps}), "
                f"got {self.warmup} + {self.cooldown}"
            )

    def build(self) -> Schedule:
        phases: list[tuple[Schedule, int]] = []
        if self.warmup:
            rise = Piecewise((0.0, float(self.warmup)), (self.start, 1.0), self.warmup_shape)
            phases.append((rise, self.warmup))
        stable = self.steps - self.warmup - self.cooldown
        if stable:
            phases.append((Constant(1.0), stable))
        cooldown = Piecewise((0.0, float(self.cooldown)), (1.0, self.end), self.shape)
        return _join([*phases, (cooldown, self.cooldown)])

    @classmethod
    def example(cls) -> WSD:
        return cls(
            steps=100,
            cooldown=20,
            warmup=10,
            shape="1-sqrt",
            end=0.05,
            start=0.1,
            warmup_shape="cosine",
        )


@register(
    "one_cycle", "recipe: the 1cycle policy (2 or 3 phases) with a companion momentum schedule"
)
@dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    """The 1cycle policy (Smith & Topin 2018) over ``steps``, peak 1:

    from ``1/div_factor`` up to 1 at ``a = pct_start * steps``, then down to
    ``1/(div_factor * final_div_factor)`` at ``t == steps`` (held after);
    with ``three_phase`` it returns to ``1/div_factor`` at ``2a`` first (as
    fast.ai's original). Each phase anneals along ``anneal`` (``cosine`` or
    ``linear``). :meth:`momentum` gives the companion momentum schedule.

    >>> s = OneCycle(steps=100, pct_start=0.25, anneal="linear", div_factor=10.0)
    >>> round(s(0), 12), s(25), round(s(100), 12)
    (0.1, 1.0, 1e-05)
    """

    steps: int = param(kind="int", lo=1)
    pct_start: float = param(0.3, kind="float", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    anneal: str = param("cosine", kind="str", choices=("cosine", "linear"))
    div_factor: float = param(25.0, kind="float", lo=0.0, lo_open=True)
    final_div_factor: float = param(1e4, kind="float", lo=0.0, lo_open=True)
    three_phase: bool = param(False, kind="bool")

    def _check(self) -> None:
        if self.three_phase and self.pct_start >= 0.5:
            self._fail(f"three_phase=True needs `pct_start` < 0.5, got {self.pct_start!r}")

    def knots(self) -> tuple[float, ...]:
        peak = self.pct_start * self.steps
        if self.three_phase:
            return (0.0, peak, 2.0 * peak, float(self.steps))
        return (0.0, peak, float(self.steps))

    def build(self) -> Schedule:
        initial = 1.0 / self.div_factor
        final = initial / self.final_div_factor
        values = (initial, 1.0, initial, final) if self.three_phase else (initial, 1.0, final)
        return Piecewise(self.knots(), values, self.anneal)

    def momentum(self, high: float = 0.95, low: float = 0.85) -> Piecewise:
        """The momentum (or beta1) schedule that moves opposite to the lr:
        ``high`` -> ``low`` while the lr rises, back to ``high`` while it falls.
        """
        level = Param(kind="float", lo=0.0)
        high = normalize("OneCycle.momentum", "high", level, high)
        low = normalize("OneCycle.momentum", "low", level, low)
        values = (high, low, high, high) if self.three_phase else (high, low, high)
        return Piecewise(self.knots(), values, self.anneal)

    @classmethod
    def example(cls) -> OneCycle:
        return cls(
            steps=100,
            pct_start=0.25,
            anneal="linear",
            div_factor=10.0,
            final_div_factor=100.0,
            three_phase=True,
        )


__all__ = ["WSD", "OneCycle", "WarmupCosine"]
