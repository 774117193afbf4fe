"""The errors a command raises on purpose, and the exit code each gets."""

from __future__ import annotations


class UsageError(Exception):
    """Bad names, specs, flags or paths: exit code 2 (so are ValueError and TypeError)."""


class UserCodeError(Exception):
    """A user's entry point raised: exit code 1, with the user's own frames of the traceback."""

    def __init__(self, what: str, exc: BaseException) -> None:
        super().__init__(f"{what} raised {type(exc).__name__}: {exc}")
        self.original = exc


__all__ = ["UsageError", "UserCodeError"]
