"""The non-tensor part of a checkpoint as JSON: a format that cannot run code.

Note [checkpoint encoding]
~~~~~~~~~~~~~~~~~~~~~~~~~~
Model, optimizer and scheduler state and the extras are trees of plain data
and tensors. :func:`encode` turns a tree into JSON-ready data: ``None``,
bools, numbers (``inf`` and ``nan`` included), strings and lists as they are;
everything else as a one-key object whose key is a tag:

* ``{"__tensor__": KEY}``: a tensor stored by DCP under ``KEY`` (``sink``);
* ``{"__tensor_data__": {"dtype", "shape", "data"}}``: a small tensor inline,
  its bytes in base64 (per-rank files, which DCP does not see);
* ``{"__ndarray__": {...}}``: a NumPy array or scalar, likewise;
* ``{"__tuple__": [...]}``; ``{"__dict__": [[key, value], ...]}`` for a dict
  whose keys are not all strings (torch's optimizer state is keyed by int) or
  that has a key beginning with ``__``.

:func:`decode` accepts exactly these forms, rebuilds tensors from their dtype
name, shape and bytes (checked against each other), and raises ``ValueError``
on anything else. Nothing in this format names a class or a function, so
reading it runs no code; an object that is not plain data is refused at
save time with a ``TypeError`` naming where it is.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

TAGS = ("__tensor__", "__tensor_data__", "__ndarray__", "__tuple__", "__dict__")
_KEY_TYPES = (str, int, float, bool, type(None))
_NUMPY_KINDS = "biufc"  # bool, integers, floats, complex: never objects
Sink = Callable[[str, Tensor], str]  # stores a tensor for DCP, returns the key it used


class PlainDataError(TypeError):
    """A value that a checkpoint cannot store as plain data."""


def encode(value: Any, where: str, sink: Sink | None = None) -> Any:
    """Note [checkpoint encoding]: ``value`` as JSON-ready data; tensors go to
    ``sink`` (for DCP) or inline when it is None. ``where`` names ``value`` in errors."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Tensor):
        if sink is not None:
            return {"__tensor__": sink(where, value.detach())}
        return {"__tensor_data__": _tensor_data(value, where)}
    if isinstance(value, (np.ndarray, np.generic)):
        return {"__ndarray__": _array_data(np.asarray(value), where, np.ndim(value) == 0)}
    if isinstance(value, list):
        return [encode(v, f"{where}[{i}]", sink) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, f"{where}[{i}]", sink) for i, v in enumerate(value)]}
    if isinstance(value, Mapping):
        keys = list(value)
        if all(isinstance(k, str) and not k.startswith("__") for k in keys):
            return {k: encode(value[k], f"{where}.{k}", sink) for k in keys}
        for k in keys:
            if not isinstance(k, _KEY_TYPES):
                raise PlainDataError(
                    f"{where} has a key of type {type(k).__name__}; "
                    "keys must be strings, numbers, bools or None"
                )
        return {"__dict__": [[k, encode(value[k], f"{where}[{k!r}]", sink)] for k in keys]}
    raise PlainDataError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}: a checkpoint "
        "stores plain data (None, bools, numbers, strings, lists, tuples, dicts), tensors "
        "and NumPy arrays, never pickled objects"
    )


def decode(data: Any, where: str, tensors: Mapping[str, Tensor] | None = None) -> Any:
    """The inverse of :func:`encode`; ``tensors`` holds what DCP loaded, by key."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, where, tensors) for v in data]
    if not isinstance(data, dict):
        raise ValueError(f"{where}: unexpected {type(data).__name__} in the checkpoint")
    tag = next(iter(data), None) if len(data) == 1 else None
    if tag not in TAGS:
        for k in data:
            if k.startswith("__"):
                raise ValueError(f"{where}: unknown entry {k[:40]!r} in the checkpoint")
        return {k: decode(v, f"{where}.{k}", tensors) for k, v in data.items()}
    body = data[tag]
    if tag == "__tensor__":
        if tensors is None or not isinstance(body, str) or body not in tensors:
            raise ValueError(f"{where}: the checkpoint refers to a tensor it does not hold")
        return tensors[body]
    if tag == "__tensor_data__":
        return _tensor_from(body, where)
    if tag == "__ndarray__":
        return _array_from(body, where)
    if tag == "__tuple__":
        if not isinstance(body, list):
            raise ValueError(f"{where}: malformed tuple in the checkpoint")
        return tuple(decode(v, where, tensors) for v in body)
    if not isinstance(body, list) or not all(isinstance(kv, list) and len(kv) == 2 for kv in body):
        raise ValueError(f"{where}: malformed dict in the checkpoint")
    out: dict[Any, Any] = {}
    for k, v in body:
        if not isinstance(k, _KEY_TYPES):
            raise ValueError(f"{where}: malformed dict key in the checkpoint")
        out[k] = decode(v, f"{where}[{k!r}]", tensors)
    return out


def tensor_keys(data: Any) -> list[str]:
    """Every DCP key an encoded tree refers to, in order."""
    keys: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            if len(item) == 1 and isinstance(item.get("__tensor__"), str):
                keys.append(item["__tensor__"])
            else:
                stack.extend(reversed(list(item.values())))
    return keys


def _tensor_data(t: Tensor, where: str) -> dict[str, Any]:
    if type(t) not in (Tensor, torch.nn.Parameter):
        raise PlainDataError(f"{where} is a {type(t).__name__}; per-rank values must be plain")
    arr = t.detach().cpu().contiguous()
    raw = arr.reshape(-1).view(torch.uint8).numpy().tobytes() if arr.numel() else b""
    return {
        "dtype": str(arr.dtype).removeprefix("torch."),
        "shape": list(arr.shape),
        "data": base64.b64encode(raw).decode("ascii"),
    }


def _tensor_from(body: Any, where: str) -> Tensor:
    dtype, shape, raw = _raw_parts(body, where)
    torch_dtype = getattr(torch, dtype, None) if dtype.isidentifier() else None
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"{where}: unknown tensor dtype {dtype[:40]!r} in the checkpoint")
    size = torch.empty((), dtype=torch_dtype).element_size()
    if len(raw) != size * math.prod(shape):
        raise ValueError(f"{where}: the tensor's bytes do not match its dtype and shape")
    if not raw:
        return torch.empty(shape, dtype=torch_dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch_dtype).reshape(shape).clone()


def _array_data(arr: np.ndarray, where: str, scalar: bool) -> dict[str, Any]:
    if arr.dtype.kind not in _NUMPY_KINDS:
        raise PlainDataError(f"{where} is a NumPy array of dtype {arr.dtype}; only numbers")
    return {
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "data": base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii"),
        "scalar": scalar,
    }


def _array_from(body: Any, where: str) -> Any:
    dtype, shape, raw = _raw_parts(body, where)
    if not re.fullmatch(r"[<>|=]?[biufc]\d{1,2}", dtype):  # a number type, as dtype.str writes
        raise ValueError(f"{where}: unknown array dtype {dtype[:40]!r} in the checkpoint")
    np_dtype = np.dtype(dtype)
    if len(raw) != np_dtype.itemsize * math.prod(shape):
        raise ValueError(f"{where}: malformed NumPy array in the checkpoint")
    arr = np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()
    return arr[()] if body.get("scalar") is True else arr


def _raw_parts(body: Any, where: str) -> tuple[str, list[int], bytes]:
    if not isinstance(body, dict) or not isinstance(body.get("dtype"), str):
        raise ValueError(f"{where}: malformed array in the checkpoint")
    shape, data = body.get("shape"), body.get("data")
    if (
        not isinstance(shape, list)
        or len(shape) > 32  # torch's and NumPy's most dimensions
        or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**62 for n in shape)
        or not isinstance(data, str)
    ):
        raise ValueError(f"{where}: malformed array in the checkpoint")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise ValueError(f"{where}: malformed array bytes in the checkpoint") from None
    return body["dtype"], shape, raw


def is_stateful(value: Any) -> bool:
    return callable(getattr(value, "state_dict", None)) and callable(
        getattr(value, "load_state_dict", None)
    )


__all__ = ["TAGS", "PlainDataError", "Sink", "decode", "encode", "is_stateful", "tensor_keys"]
