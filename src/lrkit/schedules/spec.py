"""The one-line string form of a schedule, and its parser.

``str(s)`` writes it and :func:`parse` reads it back: ``parse(str(s)) == s``.
The syntax is lrkit's one call syntax (:mod:`lrkit.spec`, also read for
optimizers and plot sources); here every call names a registered schedule
(``lrkit list schedules``) and positional arguments follow the order of its
fields::

    warmup_cosine(steps=1000, warmup=100, end=0.05)
    cyclic(up=2000, low=0.1, mode=triangular2)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrkit.schedules.base import Schedule, get
from lrkit.spec import MAX_LENGTH, Call, SpecError, format_call, plain, read
from lrkit.validation import did_you_mean


def format_spec(schedule: Schedule) -> str:
    """The spec of ``schedule``: only the arguments that differ from their defaults."""
    return format_call(schedule.name, schedule.changed_params())


def parse(text: str) -> Schedule:
    """Read a schedule spec such as ``"warmup_cosine(steps=1000, warmup=100)"``.

    Raises only :class:`SpecError` (a ``ValueError``), for malformed text,
    unknown names and invalid arguments alike; its message points at the column
    and quotes at most a line of the text around it. Parsing takes time linear
    in the text, which may have at most ``MAX_LENGTH`` characters.
    """
    if not isinstance(text, str):
        raise SpecError(f"a spec must be a string, got {type(text).__name__}", "", 1)
    if len(text) > MAX_LENGTH:
        raise SpecError(
            f"a spec may have at most {MAX_LENGTH:,} characters, got {len(text):,}", text, 1
        )
    value = read(text, make=_schedule, check_name=get, what="schedule")
    if not isinstance(value, Schedule):
        raise SpecError("expected a schedule such as cosine(steps=100)", text, 1)
    return value


def _schedule(call: Call, text: str) -> Schedule:
    cls = get(call.name)
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for arg in call.args:
        if arg.key is None:
            if len(kwargs) >= len(fields) or any(k != f for k, f in zip(kwargs, fields)):
                raise SpecError(
                    f"{cls.__name__}: positional argument after keyword arguments or too many",
                    text,
                    arg.column,
                )
            kwargs[fields[len(kwargs)]] = plain(arg.value)
            continue
        if arg.key not in fields:
            hint = did_you_mean(arg.key, fields)
            raise SpecError(f"{cls.__name__}: unknown argument {arg.key!r}{hint}", text, arg.column)
        if arg.key in kwargs:
            raise SpecError(f"{cls.__name__}: argument {arg.key!r} given twice", text, arg.column)
        kwargs[arg.key] = plain(arg.value)
    return cls(**kwargs)


__all__ = ["MAX_LENGTH", "SpecError", "format_spec", "parse"]
