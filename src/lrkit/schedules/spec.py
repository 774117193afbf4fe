"""The one-line string form of a schedule, and its parser.

``str(s)`` writes it and :func:`parse` reads it back: ``parse(str(s)) == s``.
The grammar (also in ``docs/spec-grammar.md``)::

    spec     = call ;
    call     = name "(" [ args ] ")" ;
    args     = arg { "," arg } [ "," ] ;
    arg      = [ name "=" ] value ;          (* positional args come first *)
    value    = number | string | bool | none | list | call ;
    list     = "[" [ value { "," value } [ "," ] ] "]" ;
    number   = [ "+" | "-" ] ( digits [ "." [ digits ] ] | "." digits ) [ exponent ] ;
    exponent = ( "e" | "E" ) [ "+" | "-" ] digits ;
    string   = "'" { char - "'" } "'" | '"' { char - '"' } '"' | name ;
    bool     = "true" | "false" | "True" | "False" ;
    none     = "none" | "None" | "null" ;
    name     = letter { letter | digit | "_" } ;

A bare ``name`` in value position is a string (``mode=triangular2``); a
number without ``.`` or exponent is an integer. Whitespace is free between
tokens.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from lrkit.schedules.base import Schedule, get
from lrkit.schedules.params import did_you_mean

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<punct>[()\[\],=])
    )""",
    re.VERBOSE,
)
_BLANK = re.compile(r"\s*\Z")
_SPACE = re.compile(r"\s*")
_KEYWORDS = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "none": None,
    "None": None,
    "null": None,
}
_MAX_DEPTH = 50
MAX_LENGTH = 1_000_000  # characters: a spec is a line, not a data file
_SHOWN = 72  # characters of the spec an error message quotes


class SpecError(ValueError):
    """A schedule spec that cannot be read; ``column`` is 1-based."""

    def __init__(self, message: str, text: str, column: int) -> None:
        self.message, self.text, self.column = message, text, column
        shown, at = _excerpt(text, column - 1)
        super().__init__(f"{message} (column {column})\n  {shown}\n  {' ' * at}^")


def _excerpt(text: str, index: int, width: int = _SHOWN) -> tuple[str, int]:
    """At most ``width`` characters of ``text`` around ``index``, and where it falls."""
    if len(text) <= width:
        return text, index
    start = max(0, min(index - width // 2, len(text) - width))
    shown = text[start : start + width]
    left = "..." if start > 0 else ""
    right = "..." if start + width < len(text) else ""
    return left + shown + right, index - start + len(left)


# -- writing -----------------------------------------------------------------
def format_spec(schedule: Schedule) -> str:
    args = ", ".join(f"{k}={_format_value(v)}" for k, v in schedule.changed_params().items())
    return f"{schedule.name}({args})"


def _format_value(value: Any) -> str:
    if isinstance(value, Schedule):
        return format_spec(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) and value not in _KEYWORDS:
            return value
        return repr(value)
    return repr(value)


# -- reading -----------------------------------------------------------------
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
    parser = _Parser(text)
    value = parser.value(depth=0)
    if not isinstance(value, Schedule):
        raise SpecError("expected a schedule such as cosine(steps=100)", text, 1)
    kind, _, column = parser.peek()
    if kind != "end":
        raise SpecError("unexpected text after the schedule", text, column)
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[tuple[str, str, int]]:
        """One left-to-right pass (matching at offsets, never slicing the text)."""
        tokens, at = [], 0
        while not _BLANK.match(text, at):
            match = _TOKEN.match(text, at)
            if match is None or match.lastgroup is None:
                col = _SPACE.match(text, at).end() + 1  # type: ignore[union-attr]
                raise SpecError(f"unexpected character {text[col - 1]!r}", text, col)
            kind = match.lastgroup
            tokens.append((kind, match.group(kind), match.start(kind) + 1))
            at = match.end()
        tokens.append(("end", "", len(text) + 1))
        return tokens

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.pos]

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            found = "the end" if token[0] == "end" else repr(token[1])
            raise SpecError(f"expected {expected!r}, found {found}", self.text, token[2])
        self.pos += 1
        return token

    def value(self, depth: int) -> Any:
        kind, text, column = self.peek()
        if depth > _MAX_DEPTH:
            raise SpecError(f"nesting deeper than {_MAX_DEPTH} levels", self.text, column)
        if kind == "number":
            self.take()
            return _number(text, self.text, column)
        if kind == "string":
            self.take()
            return text[1:-1]
        if kind == "name":
            self.take()
            if self.peek()[1] == "(":
                return self.call(text, column, depth)
            return _KEYWORDS.get(text, text)
        if text == "[":
            return self.sequence(depth)
        found = "the end of the spec" if kind == "end" else repr(text)
        raise SpecError(f"expected a value, found {found}", self.text, column)

    def sequence(self, depth: int) -> list[Any]:
        self.take("[")
        items: list[Any] = []
        while self.peek()[1] != "]":
            items.append(self.value(depth + 1))
            if self.peek()[1] != ",":
                break
            self.take(",")
        self.take("]")
        return items

    def call(self, name: str, column: int, depth: int) -> Schedule:
        try:
            cls = get(name)
        except ValueError as exc:
            raise SpecError(str(exc), self.text, column) from None
        fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        self.take("(")
        while self.peek()[1] != ")":
            self.argument(cls, fields, kwargs, depth)
            if self.peek()[1] != ",":
                break
            self.take(",")
        self.take(")")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise SpecError(str(exc), self.text, column) from None

    def argument(self, cls: type, fields: list[str], kwargs: dict[str, Any], depth: int) -> None:
        kind, text, column = self.peek()
        nxt = self.tokens[self.pos + 1][1] if self.pos + 1 < len(self.tokens) else ""
        if kind == "name" and nxt == "=":
            self.take()
            self.take("=")
            if text not in fields:
                hint = did_you_mean(text, fields)
                raise SpecError(
                    f"{cls.__name__}: unknown argument {text!r}{hint}", self.text, column
                )
            if text in kwargs:
                raise SpecError(f"{cls.__name__}: argument {text!r} given twice", self.text, column)
            kwargs[text] = self.value(depth + 1)
            return
        if len(kwargs) >= len(fields) or any(k != f for k, f in zip(kwargs, fields)):
            raise SpecError(
                f"{cls.__name__}: positional argument after keyword arguments or too many",
                self.text,
                column,
            )
        kwargs[fields[len(kwargs)]] = self.value(depth + 1)


def _number(token: str, text: str, column: int) -> int | float:
    try:
        if re.fullmatch(r"[+-]?\d+", token):
            return int(token)
        return float(token)
    except ValueError:  # e.g. more digits than int() accepts
        raise SpecError(f"number {token[:20]!r} is out of range", text, column) from None


__all__ = ["MAX_LENGTH", "SpecError", "format_spec", "parse"]
