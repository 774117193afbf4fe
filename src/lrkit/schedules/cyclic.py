"""Cyclical learning rates (Smith 2017): triangular, triangular2 and exp_range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrkit.schedules.base import Schedule, register
from lrkit.schedules.params import param

CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@register("cyclic", "cyclical lr: triangular, triangular2, exp_range")
@dataclass(frozen=True, repr=False)
class Cyclic(Schedule):
    """A cycle of ``up`` steps from ``low`` to ``high`` and ``down`` steps back
    (``down = up`` when not given), as torch's ``CyclicLR`` defines it. With
    ``L = up + down``, ``c = floor(1 + t/L)`` and ``x = 1 + t/L - c``:

    ``h = x / r`` if ``x <= r`` else ``(x - 1) / (r - 1)``, ``r = up / L``;
    ``s(t) = low + (high - low) * h * f``

    where ``f = 1`` (``triangular``), ``1 / 2**(c-1)`` (``triangular2``) or
    ``gamma**t`` (``exp_range``). Periodic: it never settles.

    >>> s = Cyclic(up=10, low=0.1)
    >>> s(0), s(5), s(10), s(20)
    (0.1, 0.55, 1.0, 0.1)
    """

    up: int = param(kind="int", lo=1)
    down: int | None = param(None, kind="int", lo=1, nullable=True)
    low: float = param(0.1, kind="float", lo=0.0)
    high: float = param(1.0, kind="float", lo=0.0)
    mode: str = param("triangular", kind="str", choices=CYCLIC_MODES)
    gamma: float = param(1.0, kind="float", lo=0.0, hi=1.0, lo_open=True)

    def _check(self) -> None:
        if self.low > self.high:
            self._fail(f"`low` must be <= `high` ({self.high!r}), got {self.low!r}")

    @property
    def length(self) -> int:
        return self.up + (self.down if self.down is not None else self.up)

    def _eval(self, t: Any, ops: Any) -> Any:
        ratio = self.up / self.length
        cycle = ops.floor(1.0 + t / self.length)
        x = 1.0 + t / self.length - cycle
        # (x - 1) / (ratio - 1) as torch writes it, with 1 - ratio taken as down / L:
        # when down << up, 1 - up / L rounds to 0
        fall = (self.length - self.up) / self.length
        h = ops.where(x <= ratio, x / ratio, (1.0 - x) / fall)
        if self.mode == "triangular2":
            h = h / ops.power(2.0, cycle - 1.0)
        elif self.mode == "exp_range":
            h = h * ops.power(self.gamma, t)
        return self.low + (self.high - self.low) * h

    def bounds(self) -> tuple[float, float]:
        return (self.low, self.high)

    def monotone(self) -> int | None:
        return 0 if self.low == self.high else None

    def breakpoints(self) -> tuple[float, ...]:
        return tuple(float(self.up + c * self.length) for c in range(4))

    def continuous(self) -> bool:
        return True

    @classmethod
    def example(cls) -> Cyclic:
        return cls(up=20, down=30, low=0.1, high=0.9, mode="exp_range", gamma=0.99)


__all__ = ["CYCLIC_MODES", "Cyclic"]
