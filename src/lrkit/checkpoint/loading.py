"""``load_checkpoint``: check the folder and everything it claims before DCP reads
a byte (Note [safe dcp]), load the tensors into place, then the rest."""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lrkit.checkpoint import folders, rng, storage
from lrkit.checkpoint.encoding import decode, is_stateful, tensor_keys
from lrkit.checkpoint.optimizer_state import by_index, param_names, template
from lrkit.checkpoint.ranks import rank_world
from lrkit.checkpoint.saving import FORMAT, VERSION
from lrkit.schedules.limits import check_tree
from lrkit.validation import Param, normalize

MAX_JSON_BYTES = 256 * 1024 * 1024
_JSON_NODES = 10_000_000


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    *,
    strict: bool = True,
    rng_state: bool = True,
    trusted: bool = False,
    **stateful: Any,
) -> dict[str, Any]:
    """Load what :func:`save_checkpoint` wrote into ``model``, ``optimizer`` and
    ``scheduler`` (built, and sharded, as for training); returns the extras.

    Stateful extras passed by keyword (``loader=...``) are restored in place;
    every other saved extra is returned, stateful ones as their state dicts.
    ``strict`` (default) makes keys that the model or optimizer and the
    checkpoint do not share an error. ``rng_state`` restores each rank's
    random generators, last. ``trusted`` is Note [safe dcp]'s opt-in.
    """
    path = folders.folder_path("load_checkpoint", path)
    flag = Param(kind="bool")
    strict = normalize("load_checkpoint", "strict", flag, strict)
    trusted = normalize("load_checkpoint", "trusted", flag, trusted)
    rng_state = normalize("load_checkpoint", "rng_state", flag, rng_state)
    folder = _readable(path)
    head = _read_json(folder / folders.MARKER)
    _check_parts(folder, head, optimizer, scheduler, stateful)
    rank, world = rank_world()
    own = _read_rank(folder, head, rank, world, rng_state, stateful)
    reader = storage.SafeReader(folder, trusted=trusted)
    names = param_names(model)
    params = {names[id(p)]: p for p in model.parameters() if id(p) in names}
    model_state = _model_state(model)
    entries = storage.tensor_entries(reader)
    templates = _templates(folder, head, entries, model_state, params, strict)
    try:
        storage.read(reader, templates, world > 1)
    except BaseException as exc:  # DCP's CheckpointException is a BaseException
        raise storage.plain_error("load_checkpoint", folder, exc) from None
    _apply(head, templates, model, model_state, optimizer, scheduler, names, strict)
    extras = _extras(head, own, templates, stateful)
    if rng_state and own.get("rng") is not None:
        rng.restore(own["rng"], f"{folder}/rank-{rank}.json")
    return extras


def _readable(path: Path) -> Path:
    folder = folders.readable(path)
    if folder is not None:
        return folder
    if not path.exists() and not folders.previous(path).exists():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path}")
    if not path.is_dir():
        raise ValueError(f"load_checkpoint: {path} is not a checkpoint folder")
    raise ValueError(
        f"load_checkpoint: {path} is not a complete lrkit checkpoint (it has no "
        f"{folders.MARKER}: a save that did not finish, or another format)"
    )


def _read_json(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise FileNotFoundError(f"load_checkpoint: {file} is missing")
    if file.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"load_checkpoint: {file} is larger than {MAX_JSON_BYTES:,} bytes")
    try:
        data = json.loads(file.read_bytes())
        check_tree(data, str(file), max_nodes=_JSON_NODES)
    except RecursionError:
        raise ValueError(f"load_checkpoint: {file} nests too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError included
        raise ValueError(f"load_checkpoint: {file} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"load_checkpoint: {file} is not an lrkit checkpoint")
    return data


def _read_rank(
    folder: Path,
    head: dict[str, Any],
    rank: int,
    world: int,
    rng_state: bool,
    stateful: Mapping[str, Any],
) -> dict[str, Any]:
    """This rank's file, when the checkpoint was saved by as many ranks."""
    saved_world = head.get("world_size")
    if saved_world != world:
        asked = sorted(k for k in stateful if k in head["per_rank"])
        if asked:
            raise ValueError(
                f"load_checkpoint: {folder} was saved by {saved_world} ranks, so its per-rank "
                f"extras ({', '.join(asked)}) cannot be restored on {world}"
            )
        if rng_state:
            warnings.warn(
                f"load_checkpoint: {folder} was saved by {saved_world} ranks and is loaded by "
                f"{world}: the random generators are not restored",
                stacklevel=3,
            )
        return {}
    file = folder / f"rank-{rank}.json"
    data = _read_json(file)
    if not isinstance(data.get("stateful", {}), dict):
        raise ValueError(f"load_checkpoint: {file} is malformed")
    return data


def _extras(
    head: dict[str, Any],
    own: dict[str, Any],
    templates: Mapping[str, Tensor],
    stateful: Mapping[str, Any],
) -> dict[str, Any]:
    """Restore the stateful extras passed in; return every other extra."""
    extras: dict[str, Any] = decode(head["extra"], "extra", templates)
    saved = {k: decode(v, k, templates) for k, v in head["stateful"].items()}
    saved.update({k: decode(v, k) for k, v in own.get("stateful", {}).items()})
    for key, obj in stateful.items():
        if key not in saved:
            raise ValueError(f"load_checkpoint: this rank's file holds no extra {key!r}")
        obj.load_state_dict(saved.pop(key))
    extras.update(saved)
    return extras


def _check_parts(
    folder: Path, head: dict[str, Any], optimizer: Any, scheduler: Any, stateful: Mapping[str, Any]
) -> None:
    if head.get("format") != FORMAT or head.get("version") != VERSION:
        raise ValueError(
            f"load_checkpoint: {folder} is not an lrkit checkpoint of version {VERSION} "
            f"(format {head.get('format')!r}, version {head.get('version')!r})"
        )
    optimizer_part = head.get("optimizer")
    if (
        not all(isinstance(head.get(k), dict) for k in ("model", "extra", "stateful"))
        or not isinstance(head.get("per_rank"), list)
        or "scheduler" not in head
        or not (
            optimizer_part is None
            or (
                isinstance(optimizer_part, dict)
                and isinstance(optimizer_part.get("state"), dict)
                and isinstance(optimizer_part.get("param_groups"), list)
            )
        )
    ):
        raise ValueError(f"load_checkpoint: {folder}/{folders.MARKER} is malformed")
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and head[name] is None:
            raise ValueError(
                f"load_checkpoint: {folder} was saved without a {name}; pass {name}=None"
            )
    for key, obj in stateful.items():
        if not is_stateful(obj):
            raise TypeError(
                f"load_checkpoint: `{key}` must have state_dict() and load_state_dict() "
                f"(a stateful extra), got {type(obj).__name__}"
            )
        if key not in head["stateful"] and key not in head["per_rank"]:
            raise ValueError(f"load_checkpoint: {folder} holds no stateful extra {key!r}")


def _model_state(model: nn.Module) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    if not isinstance(model, nn.Module):
        raise TypeError(
            f"load_checkpoint: `model` must be an nn.Module, got {type(model).__name__}"
        )
    return get_model_state_dict(model)


def _templates(
    folder: Path,
    head: dict[str, Any],
    entries: Mapping[str, Any],
    model_state: dict[str, Any],
    params: Mapping[str, Tensor],
    strict: bool,
) -> dict[str, Tensor]:
    """A tensor for DCP to fill for every saved tensor the load uses: the model's own
    (loaded in place), the optimizer's sharded like their parameters, the rest on the CPU."""
    saved_model = head["model"]
    only_saved = sorted(set(saved_model) - set(model_state))
    only_model = sorted(set(model_state) - set(saved_model))
    if strict and (only_saved or only_model):
        raise ValueError(
            f"load_checkpoint: the model and {folder} differ"
            + (f"; only in the checkpoint: {_few(only_saved)}" if only_saved else "")
            + (f"; only in the model: {_few(only_model)}" if only_model else "")
            + "; pass strict=False to load the keys they share"
        )
    makers: dict[str, Callable[[Any], Tensor]] = {}
    for key in (k for k in saved_model if k in model_state):  # in the saved order
        for dcp_key in tensor_keys(saved_model[key]):
            makers[dcp_key] = functools.partial(_model_tensor, folder, key, model_state[key])
    optimizer = head["optimizer"] or {}
    for name, saved in optimizer.get("state", {}).items():
        for dcp_key in tensor_keys(saved):
            makers[dcp_key] = functools.partial(_optimizer_tensor, params.get(name))
    for part in (optimizer.get("param_groups"), head["scheduler"], head["extra"], head["stateful"]):
        for dcp_key in tensor_keys(part):
            makers[dcp_key] = _cpu_tensor
    out: dict[str, Tensor] = {}
    for dcp_key, make in makers.items():
        entry = entries.get(dcp_key)
        if entry is None:
            raise ValueError(f"load_checkpoint: {folder} is missing the tensor {dcp_key!r}")
        out[dcp_key] = make(entry)
    return out


def _model_tensor(folder: Path, key: str, current: Any, entry: Any) -> Tensor:
    """The model's own tensor, which DCP loads in place, if it has the saved shape."""
    if not isinstance(current, Tensor):
        raise ValueError(f"load_checkpoint: {key!r} is a tensor in {folder}, not in the model")
    if tuple(entry.size) != tuple(current.shape):
        raise ValueError(
            f"load_checkpoint: {key!r} has shape {list(entry.size)} in {folder}, "
            f"{list(current.shape)} in the model"
        )
    return current


def _optimizer_tensor(param: Tensor | None, entry: Any) -> Tensor:
    return template(entry.size, entry.properties.dtype, param)


def _cpu_tensor(entry: Any) -> Tensor:
    return torch.empty(entry.size, dtype=entry.properties.dtype)


def _apply(
    head: dict[str, Any],
    templates: dict[str, Tensor],
    model: nn.Module,
    model_state: dict[str, Any],
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any,
    names: Mapping[int, str],
    strict: bool,
) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    shared = [k for k in head["model"] if k in model_state]
    state = {k: decode(head["model"][k], f"model.{k}", templates) for k in shared}
    set_model_state_dict(model, state, options=StateDictOptions(strict=strict))
    if optimizer is not None:
        saved = decode(head["optimizer"], "optimizer", templates)
        optimizer.load_state_dict(by_index(saved, optimizer, names, strict=strict))
    if scheduler is not None:
        scheduler.load_state_dict(decode(head["scheduler"], "scheduler", templates))


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f", ... ({len(keys) - 5} more)" if len(keys) > 5 else "")


__all__ = ["MAX_JSON_BYTES", "load_checkpoint"]
