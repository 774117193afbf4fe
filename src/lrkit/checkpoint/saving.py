"""``save_checkpoint``: encode everything first, then write into a staging folder
and swap it into place (Note [atomic checkpoints])."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lrkit.checkpoint import folders, rng, storage
from lrkit.checkpoint.encoding import PlainDataError, encode, is_stateful
from lrkit.checkpoint.optimizer_state import by_name, param_names
from lrkit.checkpoint.ranks import rank_world, run_everywhere, run_on_rank0
from lrkit.validation import Param, normalize

FORMAT, VERSION = "lrkit.checkpoint", 1


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    *,
    keep: int = 1,
    rng_state: bool = True,
    **extra: Any,
) -> Path:
    """Write a checkpoint into the folder ``path``, replacing the one there atomically.

    Call it on every rank. ``extra`` values are plain data (numbers, strings,
    lists, dicts, tensors, NumPy arrays) or stateful objects with
    ``state_dict()``/``load_state_dict()``: a module or optimizer (saved like
    the model), or anything else, such as a data loader or sampler, saved per
    rank. ``keep=N`` keeps the N latest checkpoints, the older ones as
    ``path.1`` .. ``path.{N-1}``; ``rng_state`` saves each rank's random
    generators (Note [bit-exact resume]). Returns ``path``.
    """
    path = folders.folder_path("save_checkpoint", path)
    keep = normalize("save_checkpoint", "keep", Param(kind="int", lo=1), keep)
    rng_state = normalize("save_checkpoint", "rng_state", Param(kind="bool"), rng_state)
    rank, world = rank_world()
    tensors: dict[str, Tensor] = {}
    head, own = run_everywhere(
        lambda: _encode(model, optimizer, scheduler, extra, rng_state, _sink(tensors)), world
    )
    head.update(format=FORMAT, version=VERSION, world_size=world, versions=_versions())
    tmp = folders.staging(path)
    run_on_rank0(lambda: _prepare(path, keep), world)
    try:
        storage.write(tmp, tensors, world > 1)
    except BaseException as exc:  # DCP's CheckpointException is a BaseException
        raise storage.plain_error("save_checkpoint", tmp, exc) from None
    run_everywhere(lambda: folders.write_synced(tmp / f"rank-{rank}.json", _dumps(own)), world)
    run_on_rank0(lambda: _finish(path, tmp, head, keep), world)
    return path


def _encode(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any,
    extra: Mapping[str, Any],
    with_rng: bool,
    sink: Callable[[str, Tensor], str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The head (``lrkit.json``) and this rank's part, every tensor handed to ``sink``."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    if not isinstance(model, nn.Module):
        raise TypeError(
            f"save_checkpoint: `model` must be an nn.Module, got {type(model).__name__}"
        )
    shared = {
        k: v
        for k, v in extra.items()
        if is_stateful(v) and isinstance(v, (nn.Module, torch.optim.Optimizer))
    }
    per_rank = {k: v for k, v in extra.items() if is_stateful(v) and k not in shared}
    plain = {k: v for k, v in extra.items() if not is_stateful(v)}
    try:
        head = {
            "model": encode(get_model_state_dict(model), "model", sink),
            "optimizer": None
            if optimizer is None
            else encode(by_name(optimizer, param_names(model)), "optimizer", sink),
            "scheduler": None
            if scheduler is None
            else encode(scheduler.state_dict(), "scheduler", sink),
            "extra": encode(plain, "extra", sink),
            "stateful": {k: encode(v.state_dict(), k, sink) for k, v in shared.items()},
            "per_rank": sorted(per_rank),
        }
        own = {
            "rng": rng.capture() if with_rng else None,
            "stateful": {k: encode(v.state_dict(), k) for k, v in per_rank.items()},
        }
    except PlainDataError as exc:
        raise TypeError(f"save_checkpoint: {exc}") from None
    return head, own


def _sink(tensors: dict[str, Tensor]) -> Callable[[str, Tensor], str]:
    def store(where: str, t: Tensor) -> str:
        key, n = where, 1
        while key in tensors:  # e.g. extras {"a.b": x} and {"a": {"b": y}}
            key, n = f"{where}#{n}", n + 1
        tensors[key] = t
        return key

    return store


def _prepare(path: Path, keep: int) -> None:
    folders.check_target(path)
    folders.recover(path, keep)
    tmp = folders.staging(path)
    tmp.mkdir(parents=True)


def _finish(path: Path, tmp: Path, head: dict[str, Any], keep: int) -> None:
    folders.write_synced(tmp / folders.MARKER, _dumps(head))
    folders.sync_folder(tmp)
    folders.commit(path, tmp, keep)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _versions() -> dict[str, str]:
    from lrkit import __version__

    return {"lrkit": __version__, "torch": torch.__version__}


__all__ = ["FORMAT", "VERSION", "save_checkpoint"]
