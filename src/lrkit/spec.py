"""The one call syntax: ``name(key=value, ...)`` for schedules, optimizers and plot sources.

``cosine(steps=1000, end=0.1)``, ``sgd(momentum=0.9, nesterov=true)`` and
``torch:StepLR(step_size=30)`` are read by this one parser; what a call
means is up to its reader (:func:`lrkit.schedules.parse` builds a schedule,
:func:`lrkit.optim.parse_spec` names an optimizer and its keywords). The
grammar (also in ``docs/spec-grammar.md``)::

    value    = number | string | bool | none | list | tuple | call ;
    call     = name "(" [ args ] ")" ;
    args     = arg { "," arg } [ "," ] ;
    arg      = [ name "=" ] value ;
    list     = "[" [ value { "," value } [ "," ] ] "]" ;
    tuple    = "(" [ value { "," value } [ "," ] ] ")" ;
    number   = [ "+" | "-" ] ( digits [ "." [ digits ] ] | "." digits ) [ exponent ] ;
    exponent = ( "e" | "E" ) [ "+" | "-" ] digits ;
    string   = "'" { char - "'" } "'" | '"' { char - '"' } '"' | name ;
    bool     = "true" | "false" | "True" | "False" ;
    none     = "none" | "None" | "null" ;
    name     = letter { letter | digit | "_" } ;

A bare ``name`` in value position is a :class:`Word` (a ``str``:
``mode=triangular2``); a number without ``.`` or exponent is an integer.
Whitespace is free between tokens. Reading takes time linear in the text,
which may have at most ``MAX_LENGTH`` characters and nest ``MAX_DEPTH``
levels; every error is a :class:`SpecError` pointing at a column.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

MAX_LENGTH = 1_000_000  # characters: a spec is a line, not a data file
MAX_DEPTH = 50
_SHOWN = 72  # characters of the text an error message quotes

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
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS: dict[str, bool | None] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "none": None,
    "None": None,
    "null": None,
}


class SpecError(ValueError):
    """Text that cannot be read; ``column`` is 1-based."""

    def __init__(self, message: str, text: str, column: int) -> None:
        self.message, self.text, self.column = message, text, column
        shown, at = _excerpt(text, column - 1)
        super().__init__(f"{message} (column {column})\n  {shown}\n  {' ' * at}^")


class Word(str):
    """A bare name in value position (``triangular2`` in ``mode=triangular2``)."""

    __slots__ = ()


@dataclasses.dataclass(frozen=True)
class Arg:
    """One argument of a call: ``key`` is None when positional; ``column`` is
    where the argument starts (its key, or its value)."""

    key: str | None
    value: Any
    column: int


@dataclasses.dataclass(frozen=True)
class Call:
    """``name(args)`` as written, its arguments already read."""

    name: str
    args: tuple[Arg, ...]
    column: int

    def keywords(self, what: str, text: str) -> dict[str, Any]:
        """The arguments as a dict; a positional or repeated one is a SpecError."""
        out: dict[str, Any] = {}
        for arg in self.args:
            if arg.key is None:
                raise SpecError(
                    f"{what}: give arguments by keyword, e.g. {self.name}(key=value)",
                    text,
                    arg.column,
                )
            if arg.key in out:
                raise SpecError(f"{what}: argument {arg.key!r} given twice", text, arg.column)
            out[arg.key] = arg.value
        return out


def read(
    text: str,
    *,
    make: Callable[[Call, str], Any] | None = None,
    check_name: Callable[[str], Any] | None = None,
    what: str = "value",
) -> Any:
    """Read one value (``what``, in messages) from ``text`` (the whole text).

    Each call is handed to ``make(call, text)`` as soon as its arguments are
    read (innermost first) and replaced by what it returns; without ``make``
    calls stay :class:`Call` values. ``check_name(name)`` runs when a call's
    name is read, before its arguments; a ``ValueError`` it raises becomes a
    SpecError at the name, as does one raised by ``make`` at the call.
    """
    if not isinstance(text, str):
        raise SpecError(f"expected a string, got {type(text).__name__}", "", 1)
    if len(text) > MAX_LENGTH:
        raise SpecError(f"at most {MAX_LENGTH:,} characters are read, got {len(text):,}", text, 1)
    reader = _Reader(text, make, check_name)
    value = reader.value(depth=0)
    kind, _, column = reader.peek()
    if kind != "end":
        raise SpecError(f"unexpected text after the {what}", text, column)
    return value


def plain(value: Any) -> Any:
    """``value`` with every :class:`Word` made a plain ``str`` (lists and tuples too)."""
    if isinstance(value, Word):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def format_value(value: Any) -> str:
    """The text that :func:`read` reads back as ``value`` (a non-literal is
    written as ``str(value)``: a schedule writes its own call)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        if _PLAIN_NAME.fullmatch(value) and value not in KEYWORDS:
            return value
        return repr(str(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return str(value)


def format_call(name: str, kwargs: dict[str, Any]) -> str:
    """``name(key=value, ...)``, read back by :func:`read`."""
    return f"{name}({', '.join(f'{k}={format_value(v)}' for k, v in kwargs.items())})"


def _excerpt(text: str, index: int, width: int = _SHOWN) -> tuple[str, int]:
    """At most ``width`` characters of ``text`` around ``index``, and where it falls."""
    if len(text) <= width:
        return text, index
    start = max(0, min(index - width // 2, len(text) - width))
    shown = text[start : start + width]
    left = "..." if start > 0 else ""
    right = "..." if start + width < len(text) else ""
    return left + shown + right, index - start + len(left)


class _Reader:
    def __init__(
        self,
        text: str,
        make: Callable[[Call, str], Any] | None,
        check_name: Callable[[str], Any] | None,
    ) -> None:
        self.text = text
        self.make = make
        self.check_name = check_name
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

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            found = "the end" if token[0] == "end" else repr(token[1])
            raise SpecError(f"expected {expected!r}, found {found}", self.text, token[2])
        self.pos += 1
        return token

    def value(self, depth: int) -> Any:
        kind, text, column = self.peek()
        if depth > MAX_DEPTH:
            raise SpecError(f"nesting deeper than {MAX_DEPTH} levels", self.text, column)
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
            return KEYWORDS[text] if text in KEYWORDS else Word(text)
        if text == "[":
            return self.items("[", "]", depth)
        if text == "(":
            return tuple(self.items("(", ")", depth))
        found = "the end of the spec" if kind == "end" else repr(text)
        raise SpecError(f"expected a value, found {found}", self.text, column)

    def items(self, left: str, right: str, depth: int) -> list[Any]:
        self.take(left)
        out: list[Any] = []
        while self.peek()[1] != right:
            out.append(self.value(depth + 1))
            if self.peek()[1] != ",":
                break
            self.take(",")
        self.take(right)
        return out

    def call(self, name: str, column: int, depth: int) -> Any:
        if self.check_name is not None:
            try:
                self.check_name(name)
            except ValueError as exc:
                raise SpecError(str(exc), self.text, column) from None
        self.take("(")
        args: list[Arg] = []
        while self.peek()[1] != ")":
            kind, key, at = self.peek()
            if kind == "name" and self.peek(1)[1] == "=":
                self.pos += 2
                args.append(Arg(key, self.value(depth + 1), at))
            else:
                args.append(Arg(None, self.value(depth + 1), at))
            if self.peek()[1] != ",":
                break
            self.take(",")
        self.take(")")
        call = Call(name, tuple(args), column)
        if self.make is None:
            return call
        try:
            return self.make(call, self.text)
        except SpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise SpecError(str(exc), self.text, column) from None


def _number(token: str, text: str, column: int) -> int | float:
    try:
        if re.fullmatch(r"[+-]?\d+", token):
            return int(token)
        return float(token)
    except ValueError:  # e.g. more digits than int() accepts
        raise SpecError(f"number {token[:20]!r} is out of range", text, column) from None


__all__ = [
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Arg",
    "Call",
    "SpecError",
    "Word",
    "format_call",
    "format_value",
    "plain",
    "read",
]
