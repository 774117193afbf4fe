"""Keras' learning-rate schedules (``keras.optimizers.schedules``), same names and numbers.

Each class is a callable of the step with ``get_config`` / ``from_config``,
built on a native schedule of absolute values (its ``schedule`` attribute).
The step may be an int, a NumPy array, a torch tensor or a JAX array, so a
schedule works under every Keras backend. When Keras is installed the
classes subclass ``keras.optimizers.schedules.LearningRateSchedule``, so a
Keras optimizer takes them directly. Keras evaluates in float32; these
evaluate in the step's float dtype (float64 for integer steps), so they agree
with Keras to float32 precision.

Deliberate differences: non-integer or non-positive step counts and negative
rates raise ``ValueError`` at construction (Keras computes something).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lrkit.schedules import (
    Constant,
    Cosine,
    CosineRestarts,
    Exponential,
    InverseTime,
    Join,
    Piecewise,
    Polynomial,
    Scale,
    Schedule,
    Sum,
)
from lrkit.validation import Param, normalize

try:  # pragma: no cover - depends on the environment
    from keras.optimizers.schedules import LearningRateSchedule as _Base
except ImportError:  # pragma: no cover
    _Base = object


def _positive_int(owner: str, name: str, value: Any) -> int:
    return int(normalize(owner, name, Param(kind="int", lo=1), value))


def _rate(owner: str, name: str, value: Any) -> float:
    return float(normalize(owner, name, Param(kind="float", lo=0.0), value))


class _KerasSchedule(_Base):  # type: ignore[misc]
    """A Keras schedule whose value is ``self.schedule(step)``."""

    schedule: Schedule
    config_keys: tuple[str, ...] = ()

    def __call__(self, step: Any) -> Any:
        # a Keras optimizer passes a keras.Variable: its .value is the backend tensor
        return self.schedule(getattr(step, "value", step))

    def get_config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.config_keys}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.schedule})"


class ExponentialDecay(_KerasSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored if ``staircase``)."""

    config_keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
        staircase: bool = False, name: str = "ExponentialDecay",
    ) -> None:  # fmt: skip
        owner = "ExponentialDecay"
        self.initial_learning_rate = _rate(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int(owner, "decay_steps", decay_steps)
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name
        rate = normalize(owner, "decay_rate", Param(kind="float", lo=0.0, lo_open=True), decay_rate)
        self.schedule = Scale(
            Exponential(rate, self.decay_steps, staircase), self.initial_learning_rate
        )


class InverseTimeDecay(_KerasSchedule):
    """``initial_learning_rate / (1 + decay_rate * p)``, ``p = step / decay_steps`` (floored
    if ``staircase``)."""

    config_keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
        staircase: bool = False, name: str = "InverseTimeDecay",
    ) -> None:  # fmt: skip
        owner = "InverseTimeDecay"
        self.initial_learning_rate = _rate(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int(owner, "decay_steps", decay_steps)
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name
        rate = _rate(owner, "decay_rate", decay_rate)
        self.schedule = Scale(
            InverseTime(rate, self.decay_steps, staircase), self.initial_learning_rate
        )


class PiecewiseConstantDecay(_KerasSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after."""

    config_keys = ("boundaries", "values", "name")

    def __init__(
        self, boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant"
    ) -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        self.boundaries, self.values, self.name = list(boundaries), list(values), name
        # Keras switches when step > b: the knot is the next float after b
        knots = (0.0, *(math.nextafter(float(b), math.inf) for b in boundaries))
        self.schedule = Piecewise(knots, tuple(values), "constant")


class PolynomialDecay(_KerasSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, the step clipped at
    ``decay_steps``, or with ``cycle`` the horizon grown to the next multiple of it."""

    config_keys = (
        "initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle", "name"
    )  # fmt: skip

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
        power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay",
    ) -> None:  # fmt: skip
        owner = "PolynomialDecay"
        self.initial_learning_rate = _rate(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int(owner, "decay_steps", decay_steps)
        self.end_learning_rate = _rate(owner, "end_learning_rate", end_learning_rate)
        self.power, self.cycle, self.name = power, cycle, name
        p = normalize(owner, "power", Param(kind="float", lo=0.0, lo_open=True), power)
        self.schedule = Polynomial(
            self.decay_steps, power=p, end=self.end_learning_rate,
            start=self.initial_learning_rate, cycle=cycle,
        )  # fmt: skip


class CosineDecay(_KerasSchedule):
    """Optional linear warmup from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then cosine decay over ``decay_steps`` to ``alpha`` times the peak."""

    config_keys = (
        "initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target", "warmup_steps"
    )  # fmt: skip

    def __init__(
        self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
        name: str = "CosineDecay", warmup_target: float | None = None, warmup_steps: int = 0,
    ) -> None:  # fmt: skip
        owner = "CosineDecay"
        self.initial_learning_rate = _rate(owner, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int(owner, "decay_steps", decay_steps)
        self.alpha = normalize(owner, "alpha", Param(kind="float", lo=0.0, hi=1.0), alpha)
        self.name, self.warmup_target = name, warmup_target
        self.warmup_steps = int(
            normalize(owner, "warmup_steps", Param(kind="int", lo=0), warmup_steps)
        )
        decay = Cosine(self.decay_steps, end=self.alpha)
        if warmup_target is None:
            self.schedule = Scale(decay, self.initial_learning_rate)
            return
        peak = _rate(owner, "warmup_target", warmup_target)
        if not self.warmup_steps:
            self.schedule = Scale(decay, peak)
            return
        rise = Piecewise(
            (0.0, float(self.warmup_steps)), (self.initial_learning_rate, peak), "linear"
        )
        self.schedule = Join((rise, Scale(decay, peak)), (self.warmup_steps,))


class CosineDecayRestarts(_KerasSchedule):
    """SGDR as Keras computes it: ``initial * (alpha + (1 - alpha) m_mul**i c)``, ``c`` the
    half cosine of cycle ``i`` (lengths ``first_decay_steps * t_mul**i``); the floor
    ``alpha`` is not scaled by ``m_mul``."""

    config_keys = ("initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha", "name")

    def __init__(
        self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0,
        m_mul: float = 1.0, alpha: float = 0.0, name: str = "SGDRDecay",
    ) -> None:  # fmt: skip
        owner = "CosineDecayRestarts"
        if first_decay_steps <= 0:
            raise ValueError(
                "Argument `first_decay_steps` must be > 0. "
                f"Received: first_decay_steps={first_decay_steps}"
            )
        self.initial_learning_rate = _rate(owner, "initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _positive_int(owner, "first_decay_steps", first_decay_steps)
        self.t_mul = normalize(owner, "t_mul", Param(kind="float", lo=1.0), t_mul)
        self.m_mul = normalize(
            owner, "m_mul", Param(kind="float", lo=0.0, hi=1.0, lo_open=True), m_mul
        )
        self.alpha = normalize(owner, "alpha", Param(kind="float", lo=0.0, hi=1.0), alpha)
        self.name = name
        cycles = CosineRestarts(self.first_decay_steps, self.t_mul, decay=self.m_mul, end=0.0)
        parts = (Constant(self.alpha), Scale(cycles, 1.0 - self.alpha))
        self.schedule = Scale(Sum(parts), self.initial_learning_rate)

    # Keras stores these two as _t_mul/_m_mul and reports them as t_mul/m_mul
    @property
    def _t_mul(self) -> float:
        return float(self.t_mul)

    @property
    def _m_mul(self) -> float:
        return float(self.m_mul)


__all__ = [
    "CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
    "PiecewiseConstantDecay", "PolynomialDecay",
]  # fmt: skip
