"""Note [bounded input]: schedules read from data, specs and tensors stay bounded
and fail with ValueError/TypeError naming the limit, never hang or crash."""

from __future__ import annotations

import pytest
import torch

from lrkit.schedules import (
    Constant,
    Cosine,
    Cyclic,
    Multiplicative,
    RAdamWarmup,
    Schedule,
    SpecError,
    parse,
)
from lrkit.schedules.limits import MAX_DEPTH, check_tree


def test_a_tree_of_shared_references_counts_every_visit() -> None:
    node: list = [1, 1]
    for _ in range(30):  # 2**30 values once expanded, 60 objects in memory
        node = [node, node]
    with pytest.raises(ValueError, match=r"more than 1,000,000 values \(each reference"):
        check_tree(node, "data")
    with pytest.raises(ValueError, match=r"from_dict: the data holds more than 1,000,000 values"):
        Schedule.from_dict({"type": "piecewise", "steps": node, "values": node})


def test_deep_nesting_is_refused_before_it_is_walked() -> None:
    deep: dict = {"type": "constant"}
    for _ in range(MAX_DEPTH):
        deep = {"type": "scale", "schedule": deep, "factor": 0.5}
    with pytest.raises(
        ValueError, match=rf"from_dict: the data nests deeper than {MAX_DEPTH} levels"
    ):
        Schedule.from_dict(deep)
    shallow: dict = {"type": "constant"}
    for _ in range(10):
        shallow = {"type": "scale", "schedule": shallow, "factor": 0.5}
    assert Schedule.from_dict(shallow)(0) == 0.5**10


def test_a_long_spec_parses_and_an_error_quotes_only_a_line_of_it() -> None:
    n = 30_000
    spec = f"piecewise(steps=[{', '.join(map(str, range(n)))}], values=[{', '.join(['1.0'] * n)}])"
    assert len(parse(spec).steps) == n
    with pytest.raises(SpecError) as info:
        parse(spec[:-1] + " x)")
    assert len(str(info.value)) < 300 and "..." in str(info.value)
    with pytest.raises(
        SpecError, match=r"a spec may have at most 1,000,000 characters, got 1,000,001"
    ):
        parse("c" * 1_000_001)


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            "cosine(steps=1" + "0" * 400 + ")",
            r"`steps` must be at most 2\*\*53 in magnitude .* got an integer of about 401 digits",
        ),
        (
            "cosine(steps=10, end=1" + "0" * 400 + ")",
            r"`end` must be a non-negative finite number, got an integer of about 401 digits",
        ),
        ("cosine(steps=10, end=1e400)", r"`end` must be a non-negative finite number, got inf"),
        ("step(every=" + str(2**53 + 1) + ")", r"`every` must be at most 2\*\*53"),
    ],
)
def test_huge_numbers_are_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse(spec)


def test_cyclic_with_a_tiny_fall_stays_finite() -> None:
    s = Cyclic(up=2**52, down=1)
    t = torch.tensor([0.0, 2.0**52, 2.0**52 + 0.5, 2.0**52 + 1], dtype=torch.float64)
    assert torch.isfinite(s(t)).all()
    assert s(0) == 0.1 and s(2**52) == 1.0


@pytest.mark.parametrize("dtype", [torch.bool, torch.complex64])
def test_bool_and_complex_step_tensors_are_type_errors(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=rf"Cosine: steps must be real numbers, got {dtype}"):
        Cosine(steps=10)(torch.zeros(3, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_steps_are_evaluated_in_float32(dtype: torch.dtype) -> None:
    s = RAdamWarmup.example()
    t = torch.arange(0, 300, 7)
    got = s(t.to(dtype))
    assert got.dtype == dtype and torch.isfinite(got).all()
    want = s(t.to(dtype).to(torch.float32)).to(dtype)
    assert torch.equal(got, want)


def test_a_nan_step_reads_nan_from_a_table() -> None:
    s = Multiplicative(Constant(0.5), steps=3)
    got = s(torch.tensor([float("nan"), 1.0, float("inf")], dtype=torch.float64))
    assert torch.isnan(got[0]) and got[1] == 0.5 and got[2] == 0.125
