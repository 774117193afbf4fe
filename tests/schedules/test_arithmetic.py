"""Schedules support arithmetic as data (as optax users expect): every result is a
composition that prints, parses, serialises and evaluates like any schedule."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from lrkit.schedules import (
    Constant,
    Cosine,
    Linear,
    Maximum,
    Minimum,
    Product,
    Scale,
    Schedule,
    Sum,
    WarmupCosine,
    parse,
)

A, B = Cosine(steps=100, end=0.1), Linear(steps=50, start=0.2, end=1.0)
T = np.arange(0, 160, 7, dtype=np.float64)


@pytest.mark.parametrize(
    "made, want, kind",
    [
        (0.5 * A, 0.5 * A(T), Scale),
        (A * 0.5, 0.5 * A(T), Scale),
        (np.float64(0.5) * A, 0.5 * A(T), Scale),
        (A / 4, A(T) / 4, Scale),
        (A * B, A(T) * B(T), Product),
        (A * B * A, A(T) * B(T) * A(T), Product),
        (A + B, A(T) + B(T), Sum),
        (A + 0.1, A(T) + 0.1, Sum),
        (0.1 + A, A(T) + 0.1, Sum),
        (sum([A, B, A]), 2 * A(T) + B(T), Sum),
        (Minimum([A, B]), np.minimum(A(T), B(T)), Minimum),
        (Maximum([A, B, Constant(0.3)]), np.maximum(np.maximum(A(T), B(T)), 0.3), Maximum),
    ],
)
def test_arithmetic_builds_compositions(made: Schedule, want: np.ndarray, kind: type) -> None:
    assert type(made) is kind
    np.testing.assert_allclose(made(T), want, rtol=1e-14)
    assert parse(str(made)) == made
    assert Schedule.from_dict(made.to_dict()) == made
    assert pickle.loads(pickle.dumps(made)) == made
    torch.testing.assert_close(made(torch.tensor(T)), torch.tensor(want), rtol=1e-14, atol=0)


def test_nested_sums_and_products_stay_flat() -> None:
    flat_sum, flat_product = Sum((A, B, A)), Product((A, B, A))
    assert flat_sum == (A + B) + A and flat_product == A * (B * A)
    assert sum([A]) is A  # 0 + s is s
    assert WarmupCosine(steps=10, warmup=2) * 1.0 == Scale(WarmupCosine(steps=10, warmup=2), 1.0)


def test_what_would_leave_the_non_negative_values_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"Scale: `factor` must be a non-negative finite number"):
        A * -1.0
    with pytest.raises(ValueError, match=r"divided by a number > 0, got 0"):
        A / 0
    with pytest.raises(TypeError):
        A - B  # type: ignore[operator]
    with pytest.raises(TypeError):
        A * "2"  # type: ignore[operator]
