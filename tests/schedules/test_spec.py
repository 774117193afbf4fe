"""The string spec: grammar details, and errors that point at the column."""

from __future__ import annotations

import pytest

from lrkit.schedules import (
    WSD,
    Constant,
    Cosine,
    Cyclic,
    Join,
    Linear,
    MultiStep,
    SpecError,
    parse,
)


def test_keyword_positional_nested_and_strings() -> None:
    assert parse("cosine(steps=100, end=0.1)") == Cosine(100, end=0.1)
    assert parse("cosine(100, 1, 0.1)") == Cosine(100, 1.0, 0.1)
    assert parse("  cosine ( 100 , end = 1e-1 , ) ") == Cosine(100, end=0.1)
    assert parse("cyclic(up=10, mode=triangular2)") == Cyclic(10, mode="triangular2")
    assert parse("cyclic(up=10, mode='exp_range', gamma=0.99)") == Cyclic(
        10, mode="exp_range", gamma=0.99
    )
    assert parse('wsd(steps=100, cooldown=10, shape="1-sqrt")') == WSD(100, 10, shape="1-sqrt")
    assert parse("multistep(milestones=[3, 5,], gamma=0.5)") == MultiStep((3, 5), 0.5)
    joined = parse("join([linear(10, 0, 1), constant()], boundaries=[10])")
    assert joined == Join((Linear(10, 0.0, 1.0), Constant()), (10,))
    assert parse("cosine_restarts(period=5, cycles=none)") == parse("cosine_restarts(5)")


def test_str_writes_only_changed_arguments_and_quotes_odd_strings() -> None:
    assert str(Cosine(100)) == "cosine(steps=100)"
    assert str(WSD(100, 10, shape="1-sqrt")) == "wsd(steps=100, cooldown=10, shape='1-sqrt')"
    assert str(Cyclic(10, mode="exp_range")) == "cyclic(up=10, mode=exp_range)"


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("cosin(steps=10)", 1, "unknown schedule 'cosin' (did you mean 'cosine'?)"),
        ("cosine(stesp=10)", 8, "Cosine: unknown argument 'stesp' (did you mean 'steps'?)"),
        ("cosine(steps=-3)", 1, "Cosine: `steps` must be a positive integer, got -3"),
        ("cosine(steps=10, end=1e999)", 1, "`end` must be a non-negative finite number, got inf"),
        ("cosine(steps=10, end=inf)", 1, "`end` must be a non-negative finite number, got 'inf'"),
        ("cosine(steps=10", 16, "expected ')', found the end"),
        ("cosine(steps=10))", 17, "unexpected text after the schedule"),
        ("cosine(steps=10; end=1)", 16, "unexpected character ';'"),
        ("cosine(steps=10, steps=20)", 18, "argument 'steps' given twice"),
        ("cosine(end=0.1, 10)", 17, "positional argument after keyword"),
        (
            "join([linear(10), cosine(steps=0)], boundaries=[10])",
            19,
            "Cosine: `steps` must be a positive integer, got 0",
        ),
        ("10", 1, "expected a schedule"),
        ("", 1, "expected a value, found the end of the spec"),
        ("cosine(steps=" + "1" * 5000 + ")", 14, "is out of range"),
        ("[" * 100, 52, "nesting deeper than 50 levels"),
    ],
)
def test_errors_point_at_the_column(text: str, column: int, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.column == column
    assert f"(column {column})" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_non_string_input() -> None:
    with pytest.raises(SpecError, match="must be a string"):
        parse(None)  # type: ignore[arg-type]
