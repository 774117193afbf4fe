"""Reading the YAML and JSON files users hand to lrkit (schedules, configs).

Note [bounded input] (``schedules/limits.py``) holds here too: a file may have
at most ``MAX_FILE_BYTES`` bytes, YAML is read with PyYAML's safe loader (no
tags that build objects), and the data is measured before it is walked, so
an alias bomb or a deeply nested document fails at once with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lrkit.extras import require
from lrkit.schedules.limits import check_tree

MAX_FILE_BYTES = 16 * 1024 * 1024
SUFFIXES = (".json", ".yaml", ".yml")


class DataFileError(ValueError):
    """A file that cannot be read as data; the message is one line naming the file."""


def read_data_file(path: str | Path) -> Any:
    """The data in a ``.json``, ``.yaml`` or ``.yml`` file, checked against the
    limits of Note [bounded input]."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataFileError(f"{path}: expected a {', '.join(SUFFIXES)} file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataFileError(
            f"{path}: {size:,} bytes is more than the {MAX_FILE_BYTES:,} a data file may have"
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = _json(text) if suffix == ".json" else _yaml(text)
    except RecursionError:
        raise DataFileError(f"{path}: the data nests too deeply to read") from None
    except DataFileError as exc:
        raise DataFileError(f"{path}: {exc}") from None
    try:
        check_tree(data, str(path))
    except ValueError as exc:
        raise DataFileError(str(exc)) from None
    return data


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"not valid JSON: {exc}") from None


def _yaml(text: str) -> Any:
    yaml = require("yaml")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataFileError(f"not valid YAML{where}: {problem}") from None


__all__ = ["MAX_FILE_BYTES", "SUFFIXES", "DataFileError", "read_data_file"]
