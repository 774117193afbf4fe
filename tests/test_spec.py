"""lrkit.spec: the one call syntax of schedule specs, optimizer specs and plot sources."""

from __future__ import annotations

import pytest

from lrkit.spec import Arg, Call, SpecError, Word, format_call, format_value, plain, read


def test_values() -> None:
    assert read("1") == 1 and isinstance(read("1"), int)
    assert read("-1.5e-3") == -1.5e-3
    assert read("'1-sqrt'") == "1-sqrt" and not isinstance(read("'a'"), Word)
    assert read("triangular2") == "triangular2" and isinstance(read("triangular2"), Word)
    assert [read(k) for k in ("true", "False", "none", "null")] == [True, False, None, None]
    assert read("[1, [2, 3],]") == [1, [2, 3]]
    assert read("(0.9, 0.999)") == (0.9, 0.999) and read("()") == ()


def test_calls_are_read_innermost_first() -> None:
    call = read("f(1, key=g(x), z=[true])")
    assert call == Call(
        "f",
        (Arg(None, 1, 3), Arg("key", Call("g", (Arg(None, Word("x"), 12),), 10), 6),
         Arg("z", [True], 16)),
        1,
    )  # fmt: skip
    seen: list[str] = []

    def make(c: Call, text: str) -> str:
        seen.append(c.name)
        return c.name.upper()

    assert read("f(a=g(), b=h())", make=make) == "F" and seen == ["g", "h", "f"]


def test_errors_point_at_a_column() -> None:
    for text, column, message in [
        ("f(a=", 5, "expected a value, found the end of the spec"),
        ("f(a=1))", 7, "unexpected text after the value"),
        ("f(a=1;", 6, "unexpected character ';'"),
        ("[" * 60, 52, "nesting deeper than 50 levels"),
        ("f(a=1, a=2)", 8, "f: argument 'a' given twice"),
        ("f(1)", 3, "give arguments by keyword"),
    ]:
        with pytest.raises(SpecError) as info:
            value = read(text)
            value.keywords("f", text)
        assert message in info.value.message and info.value.column == column, text

    def unknown(name: str) -> None:
        raise ValueError(f"unknown {name!r}")

    with pytest.raises(SpecError, match=r"unknown 'g' \(column 3\)"):
        read("[ g(x=", check_name=unknown)  # the name is checked before its arguments


def test_written_text_reads_back() -> None:
    kwargs = {"a": 1, "b": 0.1, "c": "linear", "d": "1-sqrt", "e": True, "f": None, "g": (1, 2)}
    text = format_call("f", kwargs)
    assert text == "f(a=1, b=0.1, c=linear, d='1-sqrt', e=true, f=none, g=[1, 2])"
    assert plain(read(text).keywords("f", text)) == {**kwargs, "g": [1, 2]}
    assert format_value("true") == "'true'" and read(format_value("true")) == "true"


def test_every_reader_takes_the_same_syntax() -> None:
    from lrkit.optim import parse_spec
    from lrkit.schedules import parse
    from lrkit.tools.sources import load

    assert parse_spec("sgd(momentum=0.9, nesterov=true, momentum_form=torch)") == (
        "sgd",
        {"momentum": 0.9, "nesterov": True, "momentum_form": "torch"},
    )
    assert parse("cyclic(up=4, mode=triangular2, low=0.1)").mode == "triangular2"
    pytest.importorskip("torch")
    (curve,) = load("torch:CyclicLR(base_lr=0.1, max_lr=1.0, step_size_up=2, mode=triangular2)", 8)
    assert curve.values[0] == pytest.approx(0.1) and curve.values[2] == pytest.approx(1.0)
