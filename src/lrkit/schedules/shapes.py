"""The curves a phase moves along, shared by every family that has a shape.

Note [shapes]
~~~~~~~~~~~~~
A shape is named by the *decay* curve ``d(x)`` it follows from 1 to 0 as the
phase progress ``x`` goes from 0 to 1:

=========  ==========================
linear     ``d(x) = 1 - x``
cosine     ``d(x) = (1 + cos(pi x)) / 2``
1-sqrt     ``d(x) = 1 - sqrt(x)``
=========  ==========================

A phase from value ``a`` to value ``b`` is ``b + (a - b) d(x)``, whether it
rises or falls, so a warmup, a cooldown and a piecewise segment with the same
shape name follow the same curve. ``constant`` (piecewise only) holds ``a``
until the next knot.
"""

from __future__ import annotations

import math
from typing import Any

SHAPES = ("linear", "cosine", "1-sqrt")


def decay_curve(shape: str, x: Any, ops: Any) -> Any:
    """``d(x)`` of Note [shapes]; ``x`` must already lie in [0, 1]."""
    if shape == "linear":
        return 1.0 - x
    if shape == "cosine":
        return 0.5 * (1.0 + ops.cos(math.pi * x))
    if shape == "1-sqrt":
        return 1.0 - ops.sqrt(x)
    raise ValueError(f"unknown shape {shape!r}")


def progress(t: Any, length: float, ops: Any) -> Any:
    """``min(t / length, 1)`` for ``t >= 0`` (Note [step convention])."""
    return ops.minimum(t / length, 1.0)


def segment(shape: str, a: float, b: float, x: Any, ops: Any) -> Any:
    """The value a fraction ``x`` of the way from ``a`` to ``b`` along ``shape``."""
    return b + (a - b) * decay_curve(shape, x, ops)
