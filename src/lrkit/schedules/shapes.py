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

A falling phase from ``a`` to ``b < a`` is ``b + (a - b) d(x)``; a rising
phase is the falling one reversed in time, ``a + (b - a) d(1 - x)``, so a
warmup and a cooldown of the same shape are mirror images (a 1-sqrt warmup
is ``1 - sqrt(1 - x)``, as Hugging Face's ``get_wsd_schedule`` defines it).
Linear and cosine are their own mirror images. ``constant`` (piecewise only)
holds ``a`` until the next knot.
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
    """The value a fraction ``x`` of the way from ``a`` to ``b`` along ``shape``
    (Note [shapes]: rising segments are falling ones reversed in time)."""
    if b > a:
        return a + (b - a) * decay_curve(shape, 1.0 - x, ops)
    return b + (a - b) * decay_curve(shape, x, ops)


__all__ = ["SHAPES", "decay_curve", "progress", "segment"]
