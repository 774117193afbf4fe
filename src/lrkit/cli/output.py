"""The one output sink of every command: human text, ``--format json`` or ``--quiet``.

* human: tables and messages on stdout, progress bars on stderr when it is a
  terminal (rich if installed, else tqdm, else none);
* json: exactly one JSON document on stdout and nothing else;
* csv (commands that have a table of values): the table on stdout, nothing else;
* quiet: nothing on stdout (files are still written; errors still reach stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TextIO, TypeVar

T = TypeVar("T")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written, and each option's default in its help
    (when it has one worth saying: not None, False or already in the text)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text
            or default is None
            or default is False
            or default == argparse.SUPPRESS
            or not action.option_strings
            or action.nargs == 0
        ):
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """Every command's parser: :class:`HelpFormatter` for its help.

    ``pass_through=True`` (``lrkit plot``): the ``--name VALUE`` flags the
    command does not declare are its own arguments, left in
    ``namespace.options`` for it to read (a compat scheduler's keywords),
    instead of errors.
    """

    def __init__(self, *args: Any, pass_through: bool = False, **kwargs: Any) -> None:
        kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)
        self.pass_through = pass_through
        if pass_through:
            self.set_defaults(options=[])

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = super().parse_known_args(args, namespace)
        if self.pass_through:
            parsed.options = [*parsed.options, *extra]
            return parsed, []
        return parsed, extra


def add_output_args(
    parser: argparse.ArgumentParser, *, formats: Sequence[str] = ("human", "json")
) -> None:
    parser.add_argument("--format", choices=formats, default=formats[0], help="output format")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


class Output:
    """Where a command's results and messages go (see the module docstring)."""

    def __init__(
        self,
        format: str = "human",
        quiet: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.format, self.quiet = format, quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    @property
    def human(self) -> bool:
        return self.format == "human" and not self.quiet

    def info(self, text: str) -> None:
        """A message for people: shown in human mode only."""
        if self.human:
            print(text, file=self.stdout)

    def result(
        self,
        data: Any,
        human: str | Callable[[], str] | None = None,
        csv: str | Callable[[], str] | None = None,
    ) -> None:
        """The command's result: ``data`` as JSON, ``csv`` (for ``--format csv``) or
        ``human``; each of the texts may be a function that makes it."""
        if self.quiet:
            return
        if self.format == "json":
            json.dump(data, self.stdout)
            self.stdout.write("\n")
        elif self.format == "csv":
            if csv is None:
                raise ValueError("this command has no csv output")
            self.stdout.write(csv() if callable(csv) else csv)
        elif human is not None:
            print(human() if callable(human) else human, file=self.stdout)

    def progress(self, items: Iterable[T], total: int, description: str = "") -> Iterator[T]:
        """``items``, with a progress bar on stderr when it is a terminal in human mode."""
        if not (self.human and self.stderr.isatty()):
            yield from items
            return
        try:
            from rich.console import Console
            from rich.progress import track
        except ImportError:
            try:
                from tqdm import tqdm
            except ImportError:
                yield from items
                return
            yield from tqdm(items, total=total, desc=description, file=self.stderr, leave=False)
            return
        console = Console(file=self.stderr)
        yield from track(items, description, total=total, transient=True, console=console)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Left-aligned columns separated by two spaces; the header is the column names."""
    if not rows:
        return "(none)"
    columns = list(columns or rows[0])
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


__all__ = ["HelpFormatter", "Output", "Parser", "add_output_args", "format_table"]
