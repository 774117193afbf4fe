"""An optimizer's state keyed by parameter names, so that it loads into the same
model however it is wrapped (one process, DDP, FSDP2) and without a dummy step.

torch's DCP helpers (``get_state_dict``/``set_state_dict``) do the same naming,
but build a fresh optimizer's state by running ``step()`` with zero gradients
and lr 0: that step changes a fresh optimizer that is being saved (Adam's
counter becomes 1, so the resumed run is not the uninterrupted one) and fails
for a schedule-free optimizer in eval mode. Here the saved state is exactly
``optimizer.state_dict()`` with names for indices, and loading builds only
tensors of the saved shapes for DCP to fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

# modules that wrap a model and add a component to its parameter names
_WRAPPER_PARTS = ("_orig_mod", "_checkpoint_wrapped_module", "_fsdp_wrapped_module")


def param_names(model: nn.Module) -> dict[int, str]:
    """``id(param) -> name`` as the unwrapped model names it (``get_model_state_dict``'s keys)."""
    wrapped = isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel))
    names: dict[int, str] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        if wrapped and parts[0] == "module":
            parts = parts[1:]
        names.setdefault(id(p), ".".join(x for x in parts if x not in _WRAPPER_PARTS))
    return names


def by_name(optimizer: torch.optim.Optimizer, names: Mapping[int, str]) -> dict[str, Any]:
    """``optimizer.state_dict()`` with each parameter index replaced by its name."""
    order: list[str] = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in names:
                raise ValueError(
                    f"save_checkpoint: the optimizer holds a parameter of shape "
                    f"{list(p.shape)} that is not in the model"
                )
            order.append(names[id(p)])
    sd = optimizer.state_dict()
    groups = [{**g, "params": [order[i] for i in g["params"]]} for g in sd["param_groups"]]
    return {"state": {order[i]: s for i, s in sd["state"].items()}, "param_groups": groups}


def by_index(
    saved: Mapping[str, Any],
    optimizer: torch.optim.Optimizer,
    names: Mapping[int, str],
    *,
    strict: bool,
) -> dict[str, Any]:
    """The inverse of :func:`by_name` for this optimizer's parameters, in its order.

    The groups must match in number; with ``strict`` each group must hold the
    same named parameters, else the ones on one side only are left out (the
    optimizer's extra parameters start fresh).
    """
    groups, saved_groups = optimizer.param_groups, saved["param_groups"]
    if len(groups) != len(saved_groups):
        raise ValueError(
            f"load_checkpoint: the checkpoint's optimizer has {len(saved_groups)} param "
            f"groups, this one {len(groups)}"
        )
    state: dict[int, Any] = {}
    out_groups: list[dict[str, Any]] = []
    index = 0
    for i, (group, old) in enumerate(zip(groups, saved_groups, strict=True)):
        current = [names[id(p)] for p in group["params"]]
        missing = sorted(set(current) - set(old["params"]))
        extra = sorted(set(old["params"]) - set(current))
        if strict and (missing or extra):
            listed = _listed(" (not saved: ", missing) + _listed(" (only saved: ", extra)
            raise ValueError(
                f"load_checkpoint: param group {i} of the optimizer differs from the "
                f"checkpoint's{listed}; pass strict=False to load what matches"
            )
        ids = list(range(index, index + len(current)))
        for pid, name in zip(ids, current, strict=True):
            if name in saved["state"] and name in old["params"]:
                state[pid] = saved["state"][name]
        out_groups.append({**{k: v for k, v in old.items() if k != "params"}, "params": ids})
        index += len(current)
    return {"state": state, "param_groups": out_groups}


def template(size: torch.Size, dtype: torch.dtype, param: Tensor | None) -> Tensor:
    """What DCP fills for a saved optimizer tensor: sharded like its parameter when it
    has the parameter's (global) shape and the parameter is a DTensor, else on the CPU."""
    if param is not None and type(param) not in (Tensor, nn.Parameter) and param.shape == size:
        return torch.empty_like(param.detach(), dtype=dtype)
    return torch.empty(size, dtype=dtype)


def _listed(head: str, names: list[str]) -> str:
    if not names:
        return ""
    more = f", ... {len(names) - 5} more" if len(names) > 5 else ""
    return head + ", ".join(names[:5]) + more + ")"


__all__ = ["by_index", "by_name", "param_names", "template"]
