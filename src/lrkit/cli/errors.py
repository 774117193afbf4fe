"""The errors a command raises on purpose, and the exit code each gets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class UsageError(Exception):
    """Bad names, specs, flags or paths: exit code 2."""


@contextlib.contextmanager
def reading_input() -> Iterator[None]:
    """The phase in which a command reads what the user gave it (specs, names,
    values, paths): a ``ValueError``/``TypeError`` raised here is the user's
    to fix, a :class:`UsageError` (exit 2); the same error once the command
    runs is a failure (exit 1)."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc) or type(exc).__name__) from exc


class UserCodeError(Exception):
    """A user's entry point raised: exit code 1, with the user's own frames of the traceback."""

    def __init__(self, what: str, exc: BaseException) -> None:
        super().__init__(f"{what} raised {type(exc).__name__}: {exc}")
        self.original = exc


__all__ = ["UsageError", "UserCodeError", "reading_input"]
