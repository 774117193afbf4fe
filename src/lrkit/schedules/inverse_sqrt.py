"""Inverse square-root decay (Hugging Face / T5 style) and the Noam schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrkit.schedules.base import Schedule, register
from lrkit.schedules.params import param


@register("inverse_sqrt", "linear warmup then inverse square-root decay, as Hugging Face")
@dataclass(frozen=True, repr=False)
class InverseSqrt(Schedule):
    """Linear warmup to 1 over ``warmup`` steps, then inverse square-root decay:

    ``s(t) = t / warmup`` for ``t < warmup``;
    ``s(t) = sqrt(timescale / (t - warmup + timescale))`` after,

    as Hugging Face's ``get_inverse_sqrt_schedule`` (``timescale`` defaults
    to ``warmup``, or 10,000 when there is no warmup, as there).

    >>> s = InverseSqrt(warmup=100)
    >>> s(0), s(50), s(100), s(400)
    (0.0, 0.5, 1.0, 0.5)
    """

    warmup: int = param(0, kind="int", lo=0)
    timescale: int | None = param(None, kind="int", lo=1, nullable=True)

    @property
    def scale(self) -> int:
        if self.timescale is not None:
            return self.timescale
        return self.warmup or 10_000

    def _eval(self, t: Any, ops: Any) -> Any:
        after = ops.sqrt(
            self.scale / (ops.maximum(t, float(self.warmup)) - self.warmup + self.scale)
        )
        if self.warmup == 0:
            return after
        return ops.where(t < self.warmup, t / self.warmup, after)

    def bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def monotone(self) -> int | None:
        return -1 if self.warmup == 0 else None

    def breakpoints(self) -> tuple[float, ...]:
        return (float(self.warmup),) if self.warmup else ()

    def continuous(self) -> bool:
        return True

    @classmethod
    def example(cls) -> InverseSqrt:
        return cls(warmup=100, timescale=50)


@register("noam", "the Transformer (Noam) schedule d_model**-0.5 min(n**-0.5, n warmup**-1.5)")
@dataclass(frozen=True, repr=False)
class Noam(Schedule):
    """The Transformer schedule (Vaswani et al. 2017), absolute by construction:

    ``s(t) = factor * d_model**-0.5 * min(n**-0.5, n * warmup**-1.5)``, ``n = t + 1``.

    ``n`` is the paper's ``step_num``, which counts from 1, so the first
    update (``t = 0``) is not wasted on a zero learning rate and the peak
    ``factor * (d_model * warmup)**-0.5`` is reached at ``t = warmup - 1``.
    Use it with ``absolute=True`` or a base lr of 1 (as the paper's Adam).

    >>> s = Noam(d_model=512, warmup=4000)
    >>> round(s(3999), 8) == round((512 * 4000) ** -0.5, 8)
    True
    """

    d_model: int = param(kind="int", lo=1)
    warmup: int = param(4000, kind="int", lo=1)
    factor: float = param(1.0, kind="float", lo=0.0, lo_open=True)

    @property
    def peak(self) -> float:
        return self.factor * float((self.d_model * self.warmup) ** -0.5)

    def _eval(self, t: Any, ops: Any) -> Any:
        n = t + 1.0
        rise = n * self.warmup**-1.5
        fall = 1.0 / ops.sqrt(n)
        return self.factor * self.d_model**-0.5 * ops.minimum(fall, rise)

    def bounds(self) -> tuple[float, float]:
        return (0.0, self.peak)

    def monotone(self) -> int | None:
        return -1 if self.warmup == 1 else None

    def breakpoints(self) -> tuple[float, ...]:
        return (float(self.warmup - 1),)

    def continuous(self) -> bool:
        return True

    @classmethod
    def example(cls) -> Noam:
        return cls(d_model=512, warmup=400, factor=2.0)


__all__ = ["InverseSqrt", "Noam"]
