"""A user's entry point, ``MODULE:FUNCTION`` or ``path/to/file.py:FUNCTION``.

The range test (``lrkit range-test --entry``) and the bench (``entry:``)
import the user's function with :func:`import_entry`. What the user named
wrongly (no such file, module or function) is an :class:`EntryNotFound`, a
``ValueError``; an exception raised by the user's module while it imports
propagates as it is, for the caller to report as the user's own.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class EntryNotFound(ValueError):
    """The entry names no importable function."""


def import_entry(entry: str) -> Callable[..., Any]:
    """The function ``entry`` names (the current directory is importable)."""
    if not isinstance(entry, str):
        raise TypeError(f"an entry must be a string MODULE:FUNCTION, got {type(entry).__name__}")
    target, colon, function = entry.rpartition(":")
    if not colon or not target or not function.isidentifier():
        raise EntryNotFound(f"must be MODULE:FUNCTION or FILE.py:FUNCTION, got {entry!r}")
    module = _module(target)
    fn = getattr(module, function, None)
    if not callable(fn):
        raise EntryNotFound(f"{target} has no function {function!r}")
    return fn  # type: ignore[no-any-return]


def _module(target: str) -> Any:
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise EntryNotFound(f"no such file {target}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise EntryNotFound(f"{target} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise EntryNotFound(f"no module named {exc.name!r}") from exc
        raise


__all__ = ["EntryNotFound", "import_entry"]
