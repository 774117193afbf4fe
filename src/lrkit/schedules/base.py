"""The ``Schedule`` base class, the registry, and evaluation on every kind of step.

Note [step convention]
~~~~~~~~~~~~~~~~~~~~~~
``t`` is the number of optimizer updates already applied: the first update
uses ``s(0)``. A phase with ``steps=N`` reaches its end value at ``t == N``
and holds it after, unless the family is periodic by definition (cyclic,
restarts) or its source defines another clock (Noam counts from 1, timm's
tanh drops to its floor at ``t == steps``); each such family says so in its
docstring. Fractional ``t`` is allowed everywhere (per-epoch use with
fractional epochs); families that are discrete by definition (step decay,
multistep, the recursive time-based decay, multiplicative) floor it.
Python and NumPy steps must be finite and >= 0 (else ``ValueError``); a
torch tensor or JAX array is not checked, since checking would read it back
to the host, and a negative entry evaluates as 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar, overload

import numpy as np

from lrkit.registry import Registry
from lrkit.schedules.array_ops import MATH, NUMPY, TorchOps
from lrkit.schedules.limits import check_tree
from lrkit.schedules.params import param_of
from lrkit.spec import format_call
from lrkit.validation import Param, did_you_mean, normalize, register_kind

SCHEMA_VERSION = 1
"""The ``version`` that ``Schedule.to_dict`` writes and ``Schedule.from_dict`` reads."""
_INF = float("inf")

_REGISTRY: Registry[type[Schedule]] = Registry("schedule")
S = TypeVar("S", bound="type[Schedule]")
V = TypeVar("V")


class derived(Generic[V]):  # lower case: a decorator, like property
    """A constant computed once from a schedule's fields, read as an attribute.

    ``@derived def tau(self) -> int: ...`` is computed in ``__post_init__`` (a
    bad combination of fields fails at construction) and stored in the
    instance's dict, which shadows this non-data descriptor: a read is a plain
    attribute lookup that ``torch.compile`` traces (``functools.cached_property``
    takes a lock on Python 3.11 that it cannot). A derived value is not a field:
    equality, repr and serialisation see only the fields.
    """

    def __init__(self, fn: Callable[[Any], V]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.name = fn.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, cls: type) -> derived[V]: ...
    @overload
    def __get__(self, obj: object, cls: type) -> V: ...
    def __get__(self, obj: object | None, cls: type) -> derived[V] | V:
        if obj is None:
            return self
        # Only reached while __post_init__ runs (a later derived value or
        # build() reading an earlier one): compute and store it now.
        value = self.fn(obj)
        object.__setattr__(obj, self.name, value)
        return value


def _derived_names(cls: type) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for key, value in vars(klass).items():
            if isinstance(value, derived):
                names[key] = None
    return tuple(names)


def register(name: str, summary: str) -> Callable[[S], S]:
    """Class decorator: make a Schedule class known to ``get``/``parse``/``from_dict``
    under ``name``; ``summary`` is its one-line description in listings."""

    def deco(cls: S) -> S:
        _REGISTRY.add(name, cls)  # a name taken twice is a ValueError
        cls.name = name
        cls.summary = summary
        return cls

    return deco


def list_schedules() -> list[str]:
    """Names of every registered schedule, sorted."""
    return _REGISTRY.names()


def get(name: str) -> type[Schedule]:
    """The schedule class registered under ``name``."""
    return _REGISTRY.get_or_raise(name)


class Schedule:
    """A pure function of the step ``t`` (see Note [step convention]).

    Subclasses are frozen dataclasses whose fields are declared with
    :func:`lrkit.schedules.params.param`; they implement ``_eval(t, ops)``
    (Note [evaluation backends]) and ``example()``.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    # -- construction -----------------------------------------------------
    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = normalize(owner, f.name, param_of(f), getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        self._check()
        for name in _derived_names(type(self)):
            getattr(self, name)  # computes and stores it (see `derived`)

    def _check(self) -> None:
        """Cross-field validation; raise through :meth:`_fail`."""

    def _fail(self, message: str, exc: type[Exception] = ValueError) -> None:
        raise exc(f"{type(self).__name__}: {message}")

    def build(self) -> Schedule | None:
        """Recipes return the composition of primitives they evaluate."""
        return None

    @derived
    def _inner(self) -> Schedule | None:
        """What :meth:`build` returned: the primitives a recipe evaluates (None for a primitive)."""
        return self.build()

    def _built(self) -> Schedule:
        if self._inner is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither build() nor _eval()")
        return self._inner

    @classmethod
    def example(cls) -> Schedule:
        """A representative instance in which every argument matters."""
        raise NotImplementedError

    # -- evaluation -------------------------------------------------------
    def _eval(self, t: Any, ops: Any) -> Any:
        return self._built()._eval(t, ops)

    def __call__(self, t: Any) -> Any:
        """Evaluate at ``t``: an int/float, a NumPy array or scalar, or a torch tensor.

        Returns the same kind: ``float``; a float NumPy array (float64 for an
        integer array, else its dtype); a tensor of the same shape, device and
        floating dtype (float64 for an integer tensor); a JAX array (also under
        ``jax.jit``; integer steps in JAX's default float dtype).
        """
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            try:
                x = float(t)
            except OverflowError:  # an int beyond float range
                x = _INF
            if not 0.0 <= x < _INF:
                raise ValueError(f"{type(self).__name__}: step must be finite and >= 0, got {t!r}")
            return float(self._eval(x, MATH))
        if isinstance(t, (np.ndarray, np.generic)):
            return self._eval_numpy(t)
        if type(t).__module__.startswith(("jax", "jaxlib")):
            return self._eval_jax(t)
        return self._eval_torch(t)

    def _eval_numpy(self, t: np.ndarray | np.generic) -> Any:
        arr = np.asarray(t)
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.float64)
        elif arr.dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}: steps must be numbers, got dtype {arr.dtype}")
        if arr.size and not (arr.min() >= 0 and np.isfinite(arr).all()):
            raise ValueError(f"{type(self).__name__}: steps must be finite and >= 0")
        with np.errstate(over="ignore", under="ignore"):
            out = self._eval(arr, NUMPY)
        out = np.broadcast_to(np.asarray(out, dtype=arr.dtype), arr.shape)
        return out.copy() if isinstance(t, np.ndarray) else out[()]

    def _eval_jax(self, t: Any) -> Any:
        """JAX arrays and tracers: float dtype kept, integers to JAX's default float."""
        from lrkit.schedules.array_ops import JaxOps

        ops = JaxOps()
        jnp = ops.jnp
        if not jnp.issubdtype(t.dtype, jnp.floating):
            t = t.astype(jnp.result_type(float))
        t = jnp.maximum(t, 0.0)
        out = jnp.asarray(self._eval(t, ops), dtype=t.dtype)
        return jnp.broadcast_to(out, t.shape)

    def _eval_torch(self, t: Any) -> Any:
        import torch

        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__}: step must be an int, float, NumPy array or "
                f"torch tensor, got {type(t).__name__}"
            )
        if t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{type(self).__name__}: steps must be real numbers, got {t.dtype}")
        dtype = t.dtype if t.is_floating_point() else torch.float64
        # float16/bfloat16 steps are evaluated in float32: their 11 or 8 bits of
        # mantissa cannot hold the intermediate values (powers of beta2, say)
        work = torch.float32 if torch.finfo(dtype).bits < 32 else dtype
        t = torch.clamp(t.to(work), min=0.0)
        ops = TorchOps(t)
        out = self._eval(t, ops)
        if not isinstance(out, torch.Tensor):
            return torch.full_like(t, out, dtype=dtype)
        return out.to(dtype).expand(t.shape).clone()

    # -- what a schedule declares about itself -----------------------------
    def bounds(self) -> tuple[float, float]:
        """``(lo, hi)``: every value lies in this closed interval."""
        return self._built().bounds()

    def monotone(self) -> int | None:
        """+1 non-decreasing, -1 non-increasing, 0 constant, None neither/unknown."""
        return self._built().monotone()

    def breakpoints(self) -> tuple[float, ...]:
        """Steps where a phase starts or ends (for plots and tests)."""
        return self._inner.breakpoints() if self._inner is not None else ()

    def horizon(self) -> float | None:
        """The step from which the value no longer changes, or None when it
        never settles (periodic, or decaying forever)."""
        return self._inner.horizon() if self._inner is not None else None

    def continuous(self) -> bool:
        """True when the value is continuous in ``t`` (declared, and tested)."""
        return self._inner.continuous() if self._inner is not None else False

    # -- data --------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """Field name -> value, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-safe dict: ``{"type": name, "version": 1, **arguments}``."""
        out: dict[str, Any] = {"type": self.name, "version": SCHEMA_VERSION}
        out.update({k: _to_plain(v) for k, v in self.params().items()})
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        """Rebuild a schedule written by :meth:`to_dict` (any registered type)."""
        if not isinstance(data, dict):
            raise TypeError(f"from_dict: expected a dict, got {type(data).__name__}")
        check_tree(data, "from_dict")  # Note [bounded input]
        return cls._from_checked_dict(data)

    @classmethod
    def _from_checked_dict(cls, data: dict[str, Any]) -> Schedule:
        data = dict(data)
        version = data.pop("version", SCHEMA_VERSION)
        if (
            isinstance(version, bool)
            or not isinstance(version, int)
            or not 1 <= version <= SCHEMA_VERSION
        ):
            raise ValueError(
                f"from_dict: unsupported schema `version` {version!r} "
                f"(this lrkit reads 1..{SCHEMA_VERSION})"
            )
        if "type" not in data:
            raise ValueError("from_dict: missing key 'type'")
        target = get(data.pop("type"))
        if cls is not Schedule and not issubclass(target, cls):
            raise ValueError(f"from_dict: {target.__name__} is not a {cls.__name__}")
        fields = {f.name: f for f in dataclasses.fields(target)}  # type: ignore[arg-type]
        for key in data:
            if key not in fields:
                raise ValueError(
                    f"{target.__name__}: unknown argument {key!r}" + did_you_mean(key, list(fields))
                )
        kwargs = {k: _from_plain(param_of(fields[k]), v) for k, v in data.items()}
        return target(**kwargs)

    def __str__(self) -> str:
        """The one-line spec, read back by :func:`lrkit.schedules.parse`."""
        return format_call(self.name, self.changed_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.changed_params().items())
        return f"{type(self).__name__}({args})"

    def changed_params(self) -> dict[str, Any]:
        """The arguments that differ from their defaults, in declaration order."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if (
                f.default is dataclasses.MISSING
                or value != f.default
                or type(value) is not type(f.default)
            ):
                out[f.name] = value
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self).name, self.params()))

    # -- arithmetic: every result is a composition, data like any schedule -------
    __array_ufunc__ = None  # numpy scalars defer to the operators below

    def __mul__(self, other: Any) -> Schedule:
        """``s * k`` (a number >= 0) is a Scale; ``s1 * s2`` a Product."""
        # The combinators are registered schedules, looked up by name: this
        # module imports none of the families (they import it).
        product = _family("product")
        if isinstance(other, Schedule):
            return product((*_parts(product, self), *_parts(product, other)))
        if _is_number(other):
            return _family("scale")(self, float(other))
        return NotImplemented

    def __rmul__(self, other: Any) -> Schedule:
        return self.__mul__(other)

    def __truediv__(self, other: Any) -> Schedule:
        """``s / k`` for a number ``k > 0``: a Scale by ``1 / k``."""
        if not _is_number(other):
            return NotImplemented
        if not float(other) > 0:
            raise ValueError(
                f"{type(self).__name__}: a schedule is divided by a number > 0, got {other!r}"
            )
        return _family("scale")(self, 1.0 / float(other))

    def __add__(self, other: Any) -> Schedule:
        """``s1 + s2`` is a Sum; ``s + k`` adds a Constant (``s + 0`` is ``s``: ``sum()`` works)."""
        total = _family("sum")
        if isinstance(other, Schedule):
            return total((*_parts(total, self), *_parts(total, other)))
        if _is_number(other):
            constant = _family("constant")(float(other))
            return self if other == 0 else total((*_parts(total, self), constant))
        return NotImplemented

    def __radd__(self, other: Any) -> Schedule:
        total = _family("sum")
        if _is_number(other):
            constant = _family("constant")(float(other))
            return self if other == 0 else total((constant, *_parts(total, self)))
        return NotImplemented


register_kind("schedule", Schedule)  # `param(kind="schedule")` fields take a Schedule


class Phase(Schedule):
    """A family that runs for ``steps`` steps and then holds its end value
    (Note [step convention]); continuous unless a subclass says otherwise."""

    steps: int

    def breakpoints(self) -> tuple[float, ...]:
        return (float(self.steps),)

    def horizon(self) -> float | None:
        return float(self.steps)

    def continuous(self) -> bool:
        return True


def _family(name: str) -> Callable[..., Schedule]:
    """A registered family, by name, to call with its own fields."""
    return _REGISTRY[name]


def _is_number(x: Any) -> bool:
    import numbers

    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _parts(kind: Any, s: Schedule) -> tuple[Schedule, ...]:
    """The terms of ``s`` when it is already a ``kind`` (a Sum or Product), else ``(s,)``."""
    return tuple(s.schedules) if type(s) is kind else (s,)  # type: ignore[attr-defined]


def _rebuild(name: str, kwargs: dict[str, Any]) -> Schedule:
    return get(name)(**kwargs)


def _to_plain(value: Any) -> Any:
    if isinstance(value, Schedule):
        d = value.to_dict()
        d.pop("version")
        return d
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(p: Param, value: Any) -> Any:
    if p.kind == "schedule" and isinstance(value, dict):
        return Schedule._from_checked_dict(value)
    if p.kind == "schedules" and isinstance(value, list):
        return [Schedule._from_checked_dict(v) if isinstance(v, dict) else v for v in value]
    return value


__all__ = ["SCHEMA_VERSION", "Phase", "Schedule", "get", "list_schedules", "register"]
