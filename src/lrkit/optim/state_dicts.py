"""What an optimizer state dict must hold before it is loaded, and what a fused
kernel must be given before it runs.

Note [state validation]
~~~~~~~~~~~~~~~~~~~~~~~
``Optimizer.load_state_dict`` checks the whole incoming state dict before it
changes anything: its structure, each group's hyperparameters (the same
checks as at construction), and for every parameter that has state, each
buffer the update reads (``_buffer_shapes``) -- a tensor of its shape, the
parameter's for most, Adafactor's factored row and column moments smaller --
and the step counter -- one finite, non-negative number. A buffer with
another shape would reach torch's fused CPU kernels (which ``auto`` runs for
Adam, AdamW, SGD and Adagrad) or lrkit's, and they index memory by the
parameter's size: the process would crash or corrupt memory. The same shape,
dtype and device check runs before every fused step, for state edited by hand
after loading, and Prodigy's and D-Adaptation's steps check every buffer's
element count first (their foreach passes write with ``out=``). Missing
buffers are an error, except for optimizers whose reference creates a buffer
on first use (``lazy_buffers``: SGD's momentum buffer, as torch.optim.SGD
rebuilds it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any, cast

from torch import Tensor

from lrkit.optim.layout import PLAIN


def check_state_dict(
    owner: str,
    state_dict: Any,
    groups: Sequence[dict[str, Any]],
    check_group: Callable[[dict[str, Any]], None],
    buffers: Callable[[dict[str, Any], Tensor], Mapping[str, Any]],
    *,
    lazy_buffers: bool,
    steps_in_state: bool,
    scalars: tuple[str, ...] = (),
    step_if_present: bool = False,
) -> list[dict[str, Any]]:
    """Note [state validation] for ``state_dict`` against the current ``groups``.

    ``step_if_present``: a class that keeps no step tensor but whose reference
    keeps an int ``step`` (Prodigy, D-Adaptation) has it checked where there is one.
    Returns each saved group's hyperparameters as they will be after loading
    (the saved values over the current ones, normalised), or raises
    ``ValueError``/``TypeError`` naming the group, parameter and key.
    """
    where = f"{owner}.load_state_dict"
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{where}: expected a dict, got {type(state_dict).__name__}")
    for key in ("state", "param_groups"):
        if key not in state_dict:
            raise ValueError(f"{where}: the state dict has no {key!r}")
    state, saved = state_dict["state"], state_dict["param_groups"]
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}: 'state' must be a dict, got {type(state).__name__}")
    if not isinstance(saved, Sequence) or not all(isinstance(g, Mapping) for g in saved):
        raise TypeError(f"{where}: 'param_groups' must be a list of dicts")
    if len(saved) != len(groups):
        raise ValueError(
            f"{where}: the state dict has {len(saved)} param groups, the optimizer {len(groups)}"
        )
    merged: list[dict[str, Any]] = []
    for i, (old, new) in enumerate(zip(groups, saved, strict=True)):
        ids = new.get("params")
        if not isinstance(ids, Sequence) or len(ids) != len(old["params"]):
            size = len(ids) if isinstance(ids, Sequence) else ids
            raise ValueError(
                f"{where}: param group {i} has {size} params in the state dict, "
                f"{len(old['params'])} in the optimizer"
            )
        group = {**old, **{k: v for k, v in new.items() if k != "params"}}
        check_group(group)  # the construction checks, on a copy
        merged.append(group)
    params = [(p, g) for g in merged for p in g["params"]]
    saved_ids = chain.from_iterable(g["params"] for g in saved)
    for index, (sid, (p, group)) in enumerate(zip(saved_ids, params, strict=True)):
        entry = state.get(sid)
        if entry is None:
            continue
        if not isinstance(entry, Mapping):
            raise TypeError(
                f"{where}: the state of parameter {index} must be a dict, "
                f"got {type(entry).__name__}"
            )
        steps = "required" if steps_in_state else "if present" if step_if_present else "no"
        _check_entry(where, index, p, entry, buffers(group, p), lazy_buffers, steps)
        for key in scalars:  # Note [scalar state] in optim/base.py
            number = _one_number(entry.get(key)) if entry else 0.0
            if number is None or not math.isfinite(number):
                raise ValueError(
                    f"{where}: state {key!r} of parameter {index} must be one finite number, "
                    f"got {entry.get(key)!r}"
                )
    return merged


def _check_entry(
    where: str,
    index: int,
    p: Tensor,
    entry: Mapping[str, Any],
    shapes: Mapping[str, Any],
    lazy: bool,
    steps: str,  # "required", "if present" or "no"
) -> None:
    name = f"parameter {index} (shape {list(p.shape)})"
    for key, shape in shapes.items():
        value = entry.get(key)
        if value is None:
            if lazy:
                continue  # created on the next step, as the reference does
            raise ValueError(f"{where}: the state of {name} has no {key!r}")
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{where}: state {key!r} of {name} must be a tensor, got {type(value).__name__}"
            )
        if value.shape != shape:
            must = "the parameter's shape" if shape == p.shape else f"shape {list(shape)}"
            raise ValueError(
                f"{where}: state {key!r} of {name} has shape {list(value.shape)}; it must have "
                + must
            )
    if steps != "no" and entry and (steps == "required" or "step" in entry):
        step = entry.get("step")
        if step is None:
            raise ValueError(f"{where}: the state of {name} has no 'step'")
        number = _one_number(step)
        if number is None or not (math.isfinite(number) and number >= 0):
            raise ValueError(
                f"{where}: state 'step' of {name} must be one finite number >= 0, got {step!r}"
            )


def _one_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.is_complex():
            return None
        return float(value.detach().reshape(()).cpu())
    if isinstance(value, (int, float)):
        return float(value)
    return None


def replicate_small_buffers(
    groups: Sequence[dict[str, Any]],
    state: Mapping[Tensor, dict[str, Any]],
    buffers: Callable[[dict[str, Any], Tensor], Mapping[str, Any]],
) -> None:
    """After a load: a sharded (DTensor) parameter's buffers of another shape than its
    own (Adafactor's factored moments) are replicated DTensors on its mesh, as
    ``new_zeros`` makes them; a checkpoint or a full state dict hands them back as
    plain tensors, which DTensor ops refuse to mix with DTensors."""
    if all(type(p) in PLAIN for g in groups for p in g["params"]):
        return
    from torch.distributed.tensor import DTensor, Replicate

    for group in groups:
        for p in group["params"]:
            entry = state.get(p)
            if type(p) in PLAIN or not entry:
                continue
            mesh = cast(DTensor, p).device_mesh
            for key, shape in buffers(group, p).items():
                value = entry.get(key)
                if shape != p.shape and isinstance(value, Tensor) and type(value) in PLAIN:
                    entry[key] = DTensor.from_local(
                        value, mesh, [Replicate()] * mesh.ndim, run_check=False
                    )


def check_buffers(
    owner: str, params: Sequence[Tensor], states: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Note [state validation] before a fused step: every buffer a tensor of its
    parameter's shape, dtype and device (the kernels index memory by them)."""
    for p, state in zip(params, states, strict=True):
        for key in keys:
            b = state.get(key)
            if b is None:
                continue  # a buffer the step creates (SGD's on its first use)
            if not isinstance(b, Tensor) or (b.shape, b.dtype, b.device) != (
                p.shape,
                p.dtype,
                p.device,
            ):
                got = (
                    f"{list(b.shape)} {b.dtype} on {b.device}"
                    if isinstance(b, Tensor)
                    else type(b).__name__
                )
                raise ValueError(
                    f"{owner}.step: state {key!r} of a parameter of shape {list(p.shape)} "
                    f"{p.dtype} on {p.device} is {got}; it must match the parameter"
                )


def check_buffer_sizes(
    owner: str,
    group: dict[str, Any],
    params: Sequence[Tensor],
    states: Sequence[Mapping[str, Any]],
    buffers: Callable[[dict[str, Any], Tensor], Mapping[str, Any]],
) -> None:
    """Note [state validation] before a step that writes into buffers sized from the
    parameters with ``out=`` (which would resize a wrong output instead of refusing
    it): each buffer of ``buffers(group, p)`` that is there has its element count.
    Element counts, not shapes: Prodigy's ``s`` is a slice, a sharded parameter's
    buffers are flat views of its local shard."""
    for p, state in zip(params, states, strict=True):
        for key, shape in buffers(group, p).items():
            b = state.get(key)
            if isinstance(b, Tensor) and b.numel() != shape.numel():
                raise ValueError(
                    f"{owner}.step: state {key!r} of a parameter of shape {list(p.shape)} "
                    f"has {b.numel()} elements; it needs {shape.numel()}"
                )


__all__ = ["check_buffer_sizes", "check_buffers", "check_state_dict", "replicate_small_buffers"]
