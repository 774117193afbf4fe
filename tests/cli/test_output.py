"""The output sink: one JSON document, nothing when quiet, tables, no progress off a TTY."""

from __future__ import annotations

import io
import json

from lrkit.cli.output import Output, format_table


def _sink(fmt: str = "human", quiet: bool = False) -> tuple[Output, io.StringIO]:
    buf = io.StringIO()
    return Output(fmt, quiet, stdout=buf, stderr=io.StringIO()), buf


def test_human_json_and_quiet() -> None:
    out, buf = _sink()
    out.info("hello")
    rows = [{"name": "a", "lr": 0.1234567}, {"name": "bb", "lr": None}]
    out.result(rows, lambda: format_table(rows))
    assert buf.getvalue() == "hello\nname  lr\na     0.1235\nbb    -\n"
    out, buf = _sink("json")
    out.info("not shown")
    out.result({"x": 1}, "human text")
    assert json.loads(buf.getvalue()) == {"x": 1}
    out, buf = _sink("human", quiet=True)
    out.info("a")
    out.result({"x": 1}, "b")
    assert buf.getvalue() == ""


def test_progress_passes_items_through_off_a_terminal() -> None:
    out, buf = _sink()
    assert list(out.progress(iter([1, 2, 3]), 3, "work")) == [1, 2, 3]
    assert buf.getvalue() == "" and out.stderr.getvalue() == ""


def test_format_table_empty() -> None:
    assert format_table([]) == "(none)"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_goes_to_stderr() -> None:
    buf = io.StringIO()
    out = Output("human", stdout=buf, stderr=_Terminal())
    assert list(out.progress(iter(range(5)), 5, "work")) == [0, 1, 2, 3, 4]
    assert buf.getvalue() == ""  # stdout stays clean for results
    assert list(Output("json", stdout=buf, stderr=_Terminal()).progress([1], 1)) == [1]
