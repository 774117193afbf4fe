"""The operations a schedule formula may use, for each kind of step it accepts.

Note [evaluation backends]
~~~~~~~~~~~~~~~~~~~~~~~~~~
A schedule's formula is written once, in ``_eval(t, ops)``, against the small
namespace below. ``t`` is a Python float (``MATH``), a NumPy float array
(``NUMPY``), a torch floating tensor (``TorchOps``) or a JAX array or tracer
(``JaxOps``); plain arithmetic and comparisons work on all of them,
everything else goes through ``ops``.

Two rules keep the three paths equal and safe:

* Every branch is computed and then selected with ``ops.where``, so each
  branch must be finite for every ``t >= 0`` (clamp the argument of a log, a
  square root or a power first). This is what keeps NaN out of tensor results
  and out of their gradients, and it is also why ``MATH`` never raises a
  domain error.
* Nothing in the tensor path reads a value back to the host: no ``float()``,
  ``bool()`` or ``.item()`` of a tensor, so evaluation runs inside
  ``torch.compile(fullgraph=True)`` and CUDA graphs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class MathOps:
    """Python floats."""

    name = "math"

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def floor(x: float) -> float:
        return float(math.floor(x))

    @staticmethod
    def minimum(a: float, b: float) -> float:
        return a if a < b else b

    @staticmethod
    def maximum(a: float, b: float) -> float:
        return a if a > b else b

    @staticmethod
    def power(a: float, b: float) -> float:
        try:
            return float(a**b)
        except OverflowError:
            return math.inf
        except ZeroDivisionError:
            return math.inf

    @staticmethod
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf

    cos = staticmethod(math.cos)
    tanh = staticmethod(math.tanh)
    sqrt = staticmethod(math.sqrt)
    log = staticmethod(math.log)
    log1p = staticmethod(math.log1p)
    expm1 = staticmethod(math.expm1)

    @staticmethod
    def take(table: np.ndarray, index: float, cache: dict[Any, Any]) -> float:
        return float(table[int(index)])


class NumpyOps:
    """NumPy float arrays (any float dtype; integer steps arrive as float64)."""

    name = "numpy"
    where = staticmethod(np.where)
    floor = staticmethod(np.floor)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    power = staticmethod(np.power)
    exp = staticmethod(np.exp)
    cos = staticmethod(np.cos)
    tanh = staticmethod(np.tanh)
    sqrt = staticmethod(np.sqrt)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    expm1 = staticmethod(np.expm1)

    @staticmethod
    def take(table: np.ndarray, index: np.ndarray, cache: dict[Any, Any]) -> np.ndarray:
        return table[index.astype(np.int64)]


class TorchOps:
    """torch floating tensors of one dtype and device."""

    name = "torch"

    def __init__(self, like: Any) -> None:
        import torch

        self.torch = torch
        self.dtype = like.dtype
        self.device = like.device

    def _tensor(self, x: Any) -> Any:
        if isinstance(x, self.torch.Tensor):
            return x
        return self.torch.full((), x, dtype=self.dtype, device=self.device)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.torch.where(cond, self._tensor(a), self._tensor(b))

    def floor(self, x: Any) -> Any:
        return self.torch.floor(x)

    def minimum(self, a: Any, b: Any) -> Any:
        return self.torch.minimum(self._tensor(a), self._tensor(b))

    def maximum(self, a: Any, b: Any) -> Any:
        return self.torch.maximum(self._tensor(a), self._tensor(b))

    def power(self, a: Any, b: Any) -> Any:
        return self.torch.pow(self._tensor(a), b)

    def exp(self, x: Any) -> Any:
        return self.torch.exp(self._tensor(x))

    def cos(self, x: Any) -> Any:
        return self.torch.cos(self._tensor(x))

    def tanh(self, x: Any) -> Any:
        return self.torch.tanh(self._tensor(x))

    def sqrt(self, x: Any) -> Any:
        return self.torch.sqrt(self._tensor(x))

    def log(self, x: Any) -> Any:
        return self.torch.log(self._tensor(x))

    def log1p(self, x: Any) -> Any:
        return self.torch.log1p(self._tensor(x))

    def expm1(self, x: Any) -> Any:
        return self.torch.expm1(self._tensor(x))

    def take(self, table: np.ndarray, index: Any, cache: dict[Any, Any]) -> Any:
        """``table[index]``; the device copy of ``table`` is kept in ``cache``."""
        key = (self.dtype, self.device)
        if key not in cache:
            cache[key] = self.torch.as_tensor(table, dtype=self.dtype, device=self.device)
        # a NaN step (never checked on the device) reads NaN, not table[-2**63]
        nan = self.torch.isnan(index)
        safe = self.torch.where(nan, self.torch.zeros_like(index), index).long()
        out = self.torch.take(cache[key], safe)
        return self.torch.where(nan, self.torch.full_like(out, float("nan")), out)


class JaxOps:
    """JAX arrays, tracers inside ``jax.jit`` included (``jax.numpy``)."""

    name = "jax"

    def __init__(self) -> None:
        import jax.numpy as jnp

        self.jnp = jnp
        self.where = jnp.where
        self.floor = jnp.floor
        self.minimum = jnp.minimum
        self.maximum = jnp.maximum
        self.power = jnp.power
        self.exp = jnp.exp
        self.cos = jnp.cos
        self.tanh = jnp.tanh
        self.sqrt = jnp.sqrt
        self.log = jnp.log
        self.log1p = jnp.log1p
        self.expm1 = jnp.expm1

    def take(self, table: np.ndarray, index: Any, cache: dict[Any, Any]) -> Any:
        return self.jnp.take(self.jnp.asarray(table, dtype=index.dtype), index.astype(int))


MATH = MathOps()
NUMPY = NumpyOps()


def stirling_correction(x: Any, ops: Any, at_least: float = 1.0) -> Any:
    """``lgamma(x) - ((x - 1/2) log x - x)`` for ``x >= 1``, to full precision.

    The series is used for ``x >= 10``; below that the recurrence
    ``lgamma(x) = lgamma(x + 10) - sum_j log(x + j)`` moves the argument up.
    Both branches are finite for every ``x >= 1`` (Note [evaluation backends]);
    ``at_least``, a known lower bound of ``x``, skips the second when it
    cannot be selected.
    """

    def series(z: Any) -> Any:
        r = 1.0 / z
        r2 = r * r
        return _HALF_LOG_2PI + r * (
            1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188)))
        )

    if at_least >= 10.0 or (ops is MATH and x >= 10.0):  # only the series can be selected
        return series(x)
    big = ops.maximum(x, 10.0)
    shifted = x + 10.0
    small = series(shifted) + (shifted - 0.5) * ops.log(shifted) - shifted
    for j in range(10):
        small = small - ops.log(x + float(j))
    small = small - ((x - 0.5) * ops.log(x) - x)
    return ops.where(x >= 10.0, series(big), small)


def log_rising_product(decay: float, n: Any, ops: Any, correction_at_a: float | None = None) -> Any:
    """``log prod_{k=1..n} (1 + decay * k)`` without cancellation, for n >= 0.

    With ``a = 1 + 1/decay`` the product is ``decay**n * Gamma(a + n) / Gamma(a)``;
    expanding both log-gammas around Stirling's formula gives the
    well-conditioned form below (exact at ``n = 0``). ``correction_at_a`` is
    ``stirling_correction(a)``, a constant that callers may precompute.
    """
    a = 1.0 + 1.0 / decay
    if correction_at_a is None:
        correction_at_a = stirling_correction(a, MATH)
    return (
        n * ops.log1p(decay * (n + 1.0))
        - n
        + (a - 0.5) * ops.log1p(n / a)
        + stirling_correction(a + n, ops, at_least=a)
        - correction_at_a
    )


__all__ = [
    "MATH",
    "NUMPY",
    "JaxOps",
    "MathOps",
    "NumpyOps",
    "TorchOps",
    "log_rising_product",
    "stirling_correction",
]
