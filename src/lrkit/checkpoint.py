"""Checkpoints of model, optimizer and scheduler that work alone, under DDP and under FSDP2.

:func:`save_checkpoint` / :func:`load_checkpoint` wrap
``torch.distributed.checkpoint`` (DCP) and its ``get_state_dict`` /
``set_state_dict``: every rank writes its own shards (FSDP2's DTensor
parameters and the optimizer state built from them), and loading reshards
to the model as it is now. Without a process group they work in one
process. A scheduler's state (ScheduledLR or any torch scheduler) and any
``extra`` picklable values (read back with ``pickle``: load only checkpoints
you trust, as with ``torch.load``) travel with them. Resuming on the same world
size is bit-exact (``tests/distributed``).
"""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
    **extra: Any,
) -> Path:
    """Write model, optimizer, scheduler and ``extra`` into the folder ``path`` (on every rank)."""
    from torch.distributed.checkpoint.filesystem import FileSystemWriter
    from torch.distributed.checkpoint.state_dict import get_state_dict
    from torch.distributed.checkpoint.state_dict_saver import save

    model_state, optim_state = get_state_dict(model, optimizer)
    extras = io.BytesIO(pickle.dumps(extra))  # one object: DCP loads only keys it is given
    state: dict[str, Any] = {"model": model_state, "optimizer": optim_state, "extra": extras}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    with _expected_warnings_quiet():
        writer = FileSystemWriter(Path(path), overwrite=True)  # a new epoch replaces the last
        save(state, storage_writer=writer, no_dist=not _distributed())
    return Path(path)


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any = None,
) -> dict[str, Any]:
    """Load what :func:`save_checkpoint` wrote into ``model``, ``optimizer`` and ``scheduler``.

    Build (and shard) the model and optimizer as for training first; returns
    the ``extra`` values that were saved.
    """
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    from torch.distributed.checkpoint.state_dict_loader import load

    if not Path(path).is_dir():
        raise ValueError(f"load_checkpoint: `path` {path} is not a checkpoint folder")
    model_state, optim_state = get_state_dict(model, optimizer)
    state: dict[str, Any] = {"model": model_state, "optimizer": optim_state, "extra": io.BytesIO()}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    with _expected_warnings_quiet():
        load(state, checkpoint_id=Path(path), no_dist=not _distributed())
    set_state_dict(
        model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"]
    )
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    extra: dict[str, Any] = pickle.loads(state["extra"].getvalue())
    return extra


@contextlib.contextmanager
def _expected_warnings_quiet() -> Iterator[None]:
    """DCP warns that it assumes one process without a process group, and that it
    overwrites an existing checkpoint: both are what we asked for."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable")
        warnings.filterwarnings("ignore", message="Detected an existing checkpoint")
        yield


def _distributed() -> bool:
    return bool(torch.distributed.is_available() and torch.distributed.is_initialized())
