"""Note [checkpoint encoding]: plain data and tensors round-trip through JSON;
anything else is refused when saving, and any JSON decodes or raises ValueError."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.checkpoint.encoding import PlainDataError, decode, encode, tensor_keys


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        -3,
        2**70,
        0.1,
        float("-inf"),
        "text",
        [1, [2, [3]]],
        (1, (2.0, "x")),
        {"a": {"b": [1, 2]}},
        {1: "one", 2.5: "half", None: 0, False: "f"},
        {"__tensor__": "a user's key that looks like a tag"},
    ],
)
def test_plain_data_round_trips(value) -> None:
    assert decode(json.loads(json.dumps(encode(value, "v"))), "v") == value


@pytest.mark.parametrize(
    "t",
    [
        torch.arange(6, dtype=torch.float64).reshape(2, 3),
        torch.tensor(3.5),
        torch.ones(2, dtype=torch.bfloat16),
        torch.tensor([True, False]),
        torch.tensor([1 + 2j]),
        torch.empty(0, 4),
        torch.arange(4, dtype=torch.uint8),
    ],
)
def test_tensors_round_trip_inline_and_through_a_sink(t: torch.Tensor) -> None:
    back = decode(json.loads(json.dumps(encode({"t": t}, "v"))), "v")["t"]
    assert back.dtype == t.dtype and back.shape == t.shape and torch.equal(back, t)
    store: dict[str, torch.Tensor] = {}

    def sink(where: str, x: torch.Tensor) -> str:
        store[where] = x
        return where

    encoded = encode({"t": t}, "v", sink)
    assert tensor_keys(encoded) == ["v.t"] and store["v.t"] is not None
    assert decode(encoded, "v", store)["t"] is store["v.t"]


def test_numpy_arrays_and_scalars_round_trip() -> None:
    value = {"a": np.arange(6, dtype=np.int16).reshape(3, 2), "s": np.float32(1.5)}
    back = decode(json.loads(json.dumps(encode(value, "v"))), "v")
    assert back["a"].dtype == np.int16 and back["a"].tolist() == value["a"].tolist()
    assert isinstance(back["s"], np.float32) and back["s"] == 1.5


@pytest.mark.parametrize(
    "value, where",
    [
        (object(), r"^v is a builtins\.object"),
        ({"f": print}, r"^v\.f is a builtins\.builtin_function_or_method"),
        ([1, {2, 3}], r"^v\[1\] is a builtins\.set"),
        ({(1, 2): 3}, r"^v has a key of type tuple"),
        ({"a": np.array([object()])}, r"^v\.a is a NumPy array of dtype object"),
    ],
)
def test_what_is_not_plain_data_is_named(value, where: str) -> None:
    with pytest.raises(PlainDataError, match=where):
        encode(value, "v")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "__tensor__",
                    "__tensor_data__",
                    "__ndarray__",
                    "__tuple__",
                    "__dict__",
                    "a",
                    "dtype",
                    "shape",
                    "data",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_decodes_or_raises_value_error(data) -> None:
    try:
        decode(data, "v", {})
    except ValueError:
        pass
