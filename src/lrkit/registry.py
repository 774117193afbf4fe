"""The one registry type: schedules, optimizers, tasks and bench presets are named with it.

A :class:`Registry` is a read-only mapping from names to what they name.
Registering a name twice is an error; looking up an unknown name is a
``ValueError`` that suggests a close name (or lists the known ones); listing
is sorted and ``matching(pattern)`` filters with shell wildcards, the same
for every kind of thing (``lrkit list schedules --filter 'cos*'``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from lrkit.validation import did_you_mean

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Names of one kind of thing (``what``: "schedule", "optimizer", ...)."""

    def __init__(self, what: str, key: Callable[[str], str] | None = None) -> None:
        self.what = what
        self._key = key or (lambda name: name)  # lookups fold names with it ("SGD" -> "sgd")
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; a name already taken is a ``ValueError``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.what} name must be a non-empty string, got {name!r}")
        if name in self._items:
            raise ValueError(f"{self.what} name {name!r} is already registered")
        self._items[name] = item
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers what it decorates."""

        def add(item: T) -> T:
            return self.add(name, item)

        return add

    def get_or_raise(self, name: str, where: str = "") -> T:
        """The item named ``name``; an unknown name gets the close one, or else the
        list of known ones (``where``, e.g. ``"make_task: "``, starts the message)."""
        if not isinstance(name, str):
            raise TypeError(f"{where}a {self.what} name must be a string, got {name!r}")
        key = self._key(name)
        try:
            return self._items[key]
        except KeyError:
            hint = did_you_mean(key, list(self._items))
            known = "" if hint else f"; known: {', '.join(sorted(self._items))}"
            raise ValueError(f"{where}unknown {self.what} {name!r}{hint}{known}") from None

    def names(self) -> list[str]:
        """Every name, sorted."""
        return sorted(self._items)

    def matching(self, pattern: str | None) -> list[str]:
        """The sorted names that match the shell-style ``pattern`` (all when None)."""
        return [n for n in self.names() if pattern is None or fnmatch.fnmatchcase(n, pattern)]

    def __getitem__(self, name: str) -> T:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self.names())})"


__all__ = ["Registry"]
