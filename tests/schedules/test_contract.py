"""Contract tests over the registry: every registered schedule, recipes included."""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest
import torch

import lrkit.schedules as S
from lrkit.schedules import Schedule, parse

from .registry_cases import EXAMPLES, GRID, NAMES, variants

SCALAR_STEPS = [0, 1, 7, 9.99, 10, 10.5, 99, 100, 101, 399, 400, 1234.5, 10**6, 10**9]


@pytest.fixture(params=NAMES)
def example(request: pytest.FixtureRequest) -> Schedule:
    return EXAMPLES[request.param]


def test_every_registered_class_is_exported_and_has_an_example(example: Schedule) -> None:
    assert getattr(S, type(example).__name__) is type(example)
    assert type(example).summary
    assert isinstance(example, type(example))


def test_dict_round_trip_is_json_safe(example: Schedule) -> None:
    data = json.loads(json.dumps(example.to_dict()))
    assert data["version"] == S.SCHEMA_VERSION
    assert data["type"] == example.name
    assert Schedule.from_dict(data) == example
    assert type(example).from_dict(data) == example


def test_spec_round_trip(example: Schedule) -> None:
    text = str(example)
    assert text.startswith(example.name + "(")
    assert "\n" not in text
    assert parse(text) == example


def test_repr_evaluates_back(example: Schedule) -> None:
    namespace = {name: getattr(S, name) for name in S.__all__}
    assert eval(repr(example), namespace) == example


def test_pickle_and_hash(example: Schedule) -> None:
    again = pickle.loads(pickle.dumps(example))
    assert again == example and hash(again) == hash(example)
    np.testing.assert_array_equal(again(GRID), example(GRID))


def test_frozen(example: Schedule) -> None:
    field = dataclasses.fields(example)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(example, field, 1)


def test_scalar_numpy_and_torch_agree(example: Schedule) -> None:
    scalars = np.array([example(t) for t in SCALAR_STEPS])
    assert all(isinstance(example(t), float) for t in (0, 3.5))
    steps = np.array(SCALAR_STEPS, dtype=np.float64)
    np.testing.assert_allclose(example(steps), scalars, rtol=1e-12, atol=1e-300)
    ints = np.array([t for t in SCALAR_STEPS if float(t).is_integer()], dtype=np.int64)
    np.testing.assert_allclose(example(ints), [example(int(t)) for t in ints], rtol=1e-12)
    tensor = example(torch.tensor(steps))
    assert tensor.dtype == torch.float64 and tensor.shape == steps.shape
    np.testing.assert_allclose(tensor.numpy(), scalars, rtol=1e-12, atol=1e-300)
    int_tensor = example(torch.tensor(ints))
    assert int_tensor.dtype == torch.float64
    np.testing.assert_allclose(int_tensor.numpy(), example(ints), rtol=1e-12)
    zero_d = example(torch.tensor(10))
    assert zero_d.shape == () and zero_d.item() == pytest.approx(example(10), rel=1e-12)
    f32 = example(torch.tensor(steps[steps < 1e5], dtype=torch.float32))
    assert f32.dtype == torch.float32
    np.testing.assert_allclose(f32.numpy(), scalars[steps < 1e5], rtol=2e-5, atol=1e-7)
    np_scalar = example(np.int64(10))
    assert isinstance(np_scalar, np.floating) and np_scalar == pytest.approx(example(10))


def test_no_nan_and_within_declared_bounds(example: Schedule) -> None:
    values = example(GRID)
    assert not np.isnan(values).any()
    lo, hi = example.bounds()
    assert lo <= hi
    assert (values >= lo - 1e-12 * max(1.0, abs(lo))).all()
    assert (values <= hi + 1e-12 * max(1.0, abs(hi))).all()


def test_declared_monotonicity_holds(example: Schedule) -> None:
    direction = example.monotone()
    diffs = np.diff(example(np.sort(GRID)))
    if direction is None:
        return
    if direction == 0:
        np.testing.assert_allclose(diffs, 0.0, atol=1e-15)
    else:
        assert (direction * diffs >= -1e-12).all()


def test_tensor_gradients_are_finite(example: Schedule) -> None:
    t = torch.tensor(SCALAR_STEPS[:-2], dtype=torch.float64, requires_grad=True)
    out = example(t)
    if not out.requires_grad:  # piecewise-constant in t, e.g. Constant
        return
    out.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_every_argument_changes_the_output(name: str) -> None:
    example = EXAMPLES[name]
    reference = example(GRID)
    for f in dataclasses.fields(example):  # type: ignore[arg-type]
        changed = [
            v for v in variants(example, f.name) if not np.allclose(v(GRID), reference, rtol=1e-12)
        ]
        assert changed, f"{name}: no valid change of `{f.name}` changes the values"


def test_registry_lookup_errors() -> None:
    with pytest.raises(ValueError, match="did you mean 'cosine'"):
        S.get("cosin")
    assert set(S.list_schedules()) == set(NAMES) and sorted(NAMES) == NAMES


def test_declared_horizon_is_where_the_value_settles(example: Schedule) -> None:
    horizon = example.horizon()
    if horizon is None:
        return
    after = example(np.array([horizon, horizon + 0.5, horizon + 1, 10 * horizon + 1000, 1e9]))
    np.testing.assert_allclose(after, after[0], rtol=1e-12)
    assert all(b <= horizon for b in example.breakpoints())
