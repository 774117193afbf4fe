"""What an argument accepts, and the check that says so in one message format.

Every lrkit constructor validates its arguments with :func:`normalize` and a
:class:`Param` (the schedules' declared fields, the optimizers'
hyperparameters, the tools' and the CLI's options), so every message names
the owner, the argument and the constraint the same way::

    Cosine: `steps` must be a positive integer, got -3

This module imports nothing of lrkit's; a package whose objects are an
argument kind of their own (schedules) registers their class with
:func:`register_kind`.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any

KINDS = ("int", "float", "bool", "str", "schedule", "ints", "floats", "schedules")
_KIND_TYPES: dict[str, type] = {}  # "schedule" -> Schedule, registered by lrkit.schedules
MAX_INT = 2**53  # integer arguments count steps; float64 holds every integer up to here


@dataclasses.dataclass(frozen=True)
class Param:
    """What a field accepts. ``lo``/``hi`` bound numbers (or each element)."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    increasing: bool = False  # sequences: non-decreasing elements
    min_len: int = 0

    def describe(self) -> str:
        """The constraint in words, as used in error messages."""
        if self.kind in ("ints", "floats", "schedules"):
            elem = dataclasses.replace(self, kind=self.kind[:-1]).describe()
            order = " in non-decreasing order" if self.increasing else ""
            size = f"at least {self.min_len} " if self.min_len else ""
            return f"a list of {size}{_plural(elem)}{order}"
        if self.kind == "bool":
            return "a bool"
        if self.kind == "schedule":
            return "a Schedule"
        if self.kind == "str":
            return "one of " + ", ".join(repr(c) for c in self.choices or ())
        noun = "integer" if self.kind == "int" else "finite number"
        if self.hi is None and self.lo == 0 and not self.lo_open:
            return f"a non-negative {noun}"
        if (
            self.hi is None
            and self.lo is not None
            and ((self.lo == 0 and self.lo_open) or (self.kind == "int" and self.lo == 1))
        ):
            return f"a positive {noun}"
        if self.lo is not None and self.hi is not None:
            left = "(" if self.lo_open else "["
            right = ")" if self.hi_open else "]"
            what = "an integer" if self.kind == "int" else "a number"
            return f"{what} in {left}{_num(self.lo)}, {_num(self.hi)}{right}"
        article = "an" if noun[0] in "aeiou" else "a"
        if self.lo is not None:
            return f"{article} {noun} {'>' if self.lo_open else '>='} {_num(self.lo)}"
        if self.hi is not None:
            return f"{article} {noun} {'<' if self.hi_open else '<='} {_num(self.hi)}"
        return f"{article} {noun}"


def _plural(desc: str) -> str:
    for article in ("a ", "an ", "one of "):
        if desc.startswith(article):
            desc = desc[len(article) :]
            break
    return (
        desc.replace("integer", "integers", 1)
        .replace("number", "numbers", 1)
        .replace("Schedule", "Schedules", 1)
    )


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def normalize(owner: str, name: str, p: Param, value: Any) -> Any:
    """Check ``value`` against ``p``; return it in canonical form (tuples, floats)."""
    if value is None:
        if p.nullable:
            return None
        raise TypeError(f"{owner}: `{name}` must be {p.describe()}, got None")
    if p.kind in ("ints", "floats", "schedules"):
        return _normalize_sequence(owner, name, p, value)
    return _normalize_scalar(owner, name, p, value, p.describe())


def _normalize_sequence(owner: str, name: str, p: Param, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        tolist = None if isinstance(value, (str, bytes)) else getattr(value, "tolist", None)
        converted = tolist() if callable(tolist) else None  # NumPy arrays and tensors
        if not isinstance(converted, list):
            raise TypeError(f"{owner}: `{name}` must be {p.describe()}, got {value!r}")
        value = converted
    elem, desc = dataclasses.replace(p, kind=p.kind[:-1]), p.describe()
    items = tuple(_normalize_scalar(owner, name, elem, v, desc) for v in value)
    if len(items) < p.min_len:
        raise ValueError(f"{owner}: `{name}` must be {p.describe()}, got {list(value)!r}")
    if p.increasing and any(b < a for a, b in itertools.pairwise(items)):
        raise ValueError(f"{owner}: `{name}` must be {p.describe()}, got {list(items)!r}")
    return items


def register_kind(kind: str, cls: type) -> None:
    """Make ``cls`` the type of the argument kind ``kind`` (and of its list kind)."""
    if kind not in KINDS:
        raise ValueError(f"register_kind: unknown kind {kind!r}")
    _KIND_TYPES[kind] = cls


def _normalize_scalar(owner: str, name: str, p: Param, value: Any, desc: str) -> Any:
    def bad(exc: type[Exception] = ValueError) -> Exception:
        return exc(f"{owner}: `{name}` must be {desc}, got {_shown(value)}")

    if p.kind in _KIND_TYPES or p.kind == "schedule":
        if p.kind not in _KIND_TYPES or not isinstance(value, _KIND_TYPES[p.kind]):
            raise bad(TypeError)
        return value
    if p.kind == "bool":
        if not isinstance(value, bool):
            raise bad(TypeError)
        return value
    if p.kind == "str":
        if not isinstance(value, str):
            raise bad(TypeError)
        choices = p.choices or ()
        if value not in choices:
            raise ValueError(
                f"{owner}: `{name}` must be {desc}, got {value!r}" + did_you_mean(value, choices)
            )
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad(TypeError)
    if p.kind == "int":
        if not isinstance(value, numbers.Integral):
            raise bad(TypeError)
        value = int(value)
        if abs(value) > MAX_INT:
            raise ValueError(
                f"{owner}: `{name}` must be at most 2**53 in magnitude (steps are counted "
                f"in float64), got {_shown(value)}"
            )
    else:
        try:
            value = float(value)
        except OverflowError:  # an int beyond float range
            raise bad() from None
        if not math.isfinite(value):
            raise bad()
    if p.lo is not None and (value < p.lo or (p.lo_open and value == p.lo)):
        raise bad()
    if p.hi is not None and (value > p.hi or (p.hi_open and value == p.hi)):
        raise bad()
    return value


def _shown(value: Any) -> str:
    """``repr(value)``, except that a huge integer is described by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def did_you_mean(word: str, options: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` when a close option exists, else ``''``."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


__all__ = ["KINDS", "MAX_INT", "Param", "did_you_mean", "normalize", "register_kind"]
