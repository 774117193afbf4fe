"""optax's schedule functions (``optax.schedules``), same names, arguments and numbers.

Each returns a native :class:`~lrkit.schedules.Schedule` of absolute values:
data you can print, save and draw, and a callable of the step that, given a
JAX array (a tracer inside ``jax.jit`` too), evaluates with ``jax.numpy``, so
it drops into an optax pipeline (``optax.adamw(learning_rate=schedule)``).

Deliberate differences, each a ``ValueError`` where optax logs and falls back
or computes something else silently: negative values, a negative
``transition_begin``, and ``join_schedules`` over callables that are not lrkit
schedules. optax's non-positive ``transition_steps`` (a constant schedule, with
a log message) is reproduced as ``constant``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lrkit.schedules import (
    Clip,
    Constant,
    Cosine,
    Exponential,
    Join,
    Piecewise,
    Polynomial,
    Scale,
    Schedule,
)
from lrkit.validation import Param, normalize


def _value(owner: str, name: str, value: Any) -> float:
    return float(normalize(owner, name, Param(kind="float", lo=0.0), value))


def _begin(owner: str, value: Any) -> int:
    return int(normalize(owner, "transition_begin", Param(kind="int", lo=0), value))


def _delayed(schedule: Schedule, hold: float, begin: int) -> Schedule:
    """``hold`` until ``begin``, then ``schedule`` on its own clock (optax's transition_begin)."""
    return Join((Constant(hold), schedule), (begin,)) if begin else schedule


def _scaled(schedule: Schedule, scale: float) -> Schedule:
    return schedule if scale == 1.0 else Scale(schedule, scale)


def constant_schedule(value: float) -> Schedule:
    """``value`` at every count."""
    return Constant(_value("constant_schedule", "value", value))


def polynomial_schedule(
    init_value: float, end_value: float, power: float, transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:  # fmt: skip
    """``(init - end) (1 - count / transition_steps) ** power + end``, count clipped."""
    owner = "polynomial_schedule"
    init, end = _value(owner, "init_value", init_value), _value(owner, "end_value", end_value)
    if transition_steps <= 0:
        return Constant(init)
    p = normalize(owner, "power", Param(kind="float", lo=0.0, lo_open=True), power)
    decay = Polynomial(int(transition_steps), power=p, end=end, start=init)
    return _delayed(decay, init, _begin(owner, transition_begin))


def linear_schedule(
    init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """``init`` to ``end`` linearly over ``transition_steps``, after ``transition_begin``."""
    owner = "linear_schedule"
    init, end = _value(owner, "init_value", init_value), _value(owner, "end_value", end_value)
    if transition_steps <= 0:
        return Constant(init)
    line = Piecewise((0.0, float(transition_steps)), (init, end), "linear")
    return _delayed(line, init, _begin(owner, transition_begin))


def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """``init`` times every scale whose boundary the count has reached."""
    owner = "piecewise_constant_schedule"
    knots, values = _accumulate(owner, init_value, boundaries_and_scales)
    return Piecewise(knots, values, "constant")


def _accumulate(
    owner: str, init_value: Any, boundaries_and_scales: Mapping[int, float] | None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    value = _value(owner, "init_value", init_value)
    knots, values = [0.0], [value]
    for boundary, scale in sorted((boundaries_and_scales or {}).items()):
        if scale < 0:
            raise ValueError(f"`{owner}` expects non-negative scale factors")
        b = normalize(owner, "boundaries_and_scales", Param(kind="int", lo=0), boundary)
        value *= scale
        knots.append(float(b))
        values.append(value)
    return tuple(knots), tuple(values)


def exponential_decay(
    init_value: float, transition_steps: int, decay_rate: float, transition_begin: int = 0,
    staircase: bool = False, end_value: float | None = None,
) -> Schedule:  # fmt: skip
    """``init * decay_rate ** (count / transition_steps)`` after ``transition_begin``,
    clipped at ``end_value`` (from below when decaying, above when growing)."""
    owner = "exponential_decay"
    init = _value(owner, "init_value", init_value)
    if transition_steps <= 0 or decay_rate == 0:
        return Constant(init)
    rate = normalize(owner, "decay_rate", Param(kind="float", lo=0.0, lo_open=True), decay_rate)
    steps = normalize(owner, "transition_steps", Param(kind="int", lo=1), transition_steps)
    decay: Schedule = Scale(Exponential(rate, steps, staircase), init)
    if end_value is not None:
        end = _value(owner, "end_value", end_value)
        decay = Clip(decay, low=end) if rate < 1.0 else Clip(decay, low=0.0, high=end)
    return _delayed(decay, init, _begin(owner, transition_begin))


def cosine_decay_schedule(
    init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0
) -> Schedule:
    """``init ((1 - alpha) c ** exponent + alpha)``, ``c`` the half cosine over ``decay_steps``."""
    owner = "cosine_decay_schedule"
    if not decay_steps > 0:
        raise ValueError(
            f"The cosine_decay_schedule requires positive decay_steps, got {decay_steps=}."
        )
    init = _value(owner, "init_value", init_value)
    a = _value(owner, "alpha", alpha)
    cosine = Cosine(int(decay_steps), end=a, exponent=float(exponent)) if a <= 1 else None
    if cosine is None:
        raise ValueError(f"{owner}: `alpha` must be at most 1, got {alpha!r}")
    return _scaled(cosine, init)


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """``schedules[i](count - boundaries[i-1])`` between consecutive boundaries."""
    for s in schedules:
        if not isinstance(s, Schedule):
            raise TypeError(
                "join_schedules: lrkit joins lrkit schedules (data); got "
                f"{type(s).__name__}: build it with lrkit.compat.optax instead"
            )
    return Join(tuple(schedules), tuple(boundaries))


def piecewise_interpolate_schedule(
    interpolate_type: str, init_value: float,
    boundaries_and_scales: Mapping[int, float] | None = None,
) -> Schedule:  # fmt: skip
    """Linear or cosine interpolation between the accumulated scaled values."""
    if interpolate_type not in ("linear", "cosine"):
        raise ValueError("`interpolate_type` must be either 'cosine' or 'linear'")
    knots, values = _accumulate("piecewise_interpolate_schedule", init_value, boundaries_and_scales)
    return Piecewise(knots, values, interpolate_type)


def linear_onecycle_schedule(
    transition_steps: int, peak_value: float, pct_start: float = 0.3, pct_final: float = 0.85,
    div_factor: float = 25.0, final_div_factor: float = 1e4,
) -> Schedule:  # fmt: skip
    """fast.ai's 1cycle, linear: ``peak / div_factor`` up to ``peak`` by ``pct_start``, back
    down by ``pct_final``, then to ``peak / (div_factor * final_div_factor)``."""
    if transition_steps <= 0:
        raise ValueError(
            "A linear onecycle schedule was set with a non-positive `transition_steps`"
        )
    return piecewise_interpolate_schedule(
        "linear",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(pct_final * transition_steps): 1.0 / div_factor,
            transition_steps: 1.0 / final_div_factor,
        },
    )


def cosine_onecycle_schedule(
    transition_steps: int, peak_value: float, pct_start: float = 0.3, div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:  # fmt: skip
    """1cycle with cosine phases: ``peak / div_factor`` up to ``peak`` by ``pct_start``,
    then down to ``peak / (div_factor * final_div_factor)`` at ``transition_steps``."""
    if transition_steps <= 0:
        raise ValueError(
            "A linear onecycle schedule was set with a non-positive `transition_steps`"
        )
    return piecewise_interpolate_schedule(
        "cosine",
        peak_value / div_factor,
        {
            int(pct_start * transition_steps): div_factor,
            int(transition_steps): 1.0 / (div_factor * final_div_factor),
        },
    )


def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: int) -> Schedule:
    """``init`` to ``peak`` linearly over ``warmup_steps``, then ``peak``."""
    return linear_schedule(init_value, peak_value, warmup_steps)


def warmup_cosine_decay_schedule(
    init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
    end_value: float = 0.0, exponent: float = 1.0,
) -> Schedule:  # fmt: skip
    """Linear warmup ``init`` to ``peak`` over ``warmup_steps``, then a cosine to ``end_value``
    at ``decay_steps`` (counted from 0, warmup included)."""
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules(
        [
            linear_schedule(init_value, peak_value, warmup_steps),
            cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent),
        ],
        [warmup_steps],
    )


def warmup_exponential_decay_schedule(
    init_value: float, peak_value: float, warmup_steps: int, transition_steps: int,
    decay_rate: float, transition_begin: int = 0, staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:  # fmt: skip
    """Linear warmup ``init`` to ``peak`` over ``warmup_steps``, then ``exponential_decay``
    from ``peak`` on its own clock."""
    return join_schedules(
        [
            linear_schedule(init_value, peak_value, warmup_steps),
            exponential_decay(
                peak_value, transition_steps, decay_rate, transition_begin, staircase, end_value
            ),
        ],
        [warmup_steps],
    )


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """Warmup-cosine cycles joined end to end (optax's SGDR)."""
    schedules, boundaries, step = [], [], 0
    for kwargs in cosine_kwargs:
        schedules.append(warmup_cosine_decay_schedule(**kwargs))
        step += kwargs["decay_steps"]
        boundaries.append(step)
    return join_schedules(schedules, boundaries[:-1])


__all__ = [
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]
