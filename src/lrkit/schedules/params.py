"""Declared schedule fields: one description drives validation, the spec parser,
serialisation and the generated tests.

A schedule field is declared with :func:`param`::

    steps: int = param(kind="int", lo=1)
    end: float = param(0.0, kind="float", lo=0.0)

and :meth:`lrkit.schedules.Schedule.__post_init__` checks and normalises every
declared field (with :func:`lrkit.validation.normalize`) before the class's
own cross-field checks run. :class:`Param`, :func:`normalize` and
:func:`did_you_mean` live in :mod:`lrkit.validation`, which every part of
lrkit uses; they are importable from here too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrkit.validation import KINDS, MAX_INT, Param, did_you_mean, normalize


def param(default: Any = dataclasses.MISSING, **spec: Any) -> Any:
    """A dataclass field whose accepted values are described by :class:`Param`."""
    meta = {"lrkit": Param(**spec)}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def param_of(field: dataclasses.Field[Any]) -> Param:
    return field.metadata["lrkit"]  # type: ignore[no-any-return]


__all__ = ["KINDS", "MAX_INT", "Param", "did_you_mean", "normalize", "param", "param_of"]
