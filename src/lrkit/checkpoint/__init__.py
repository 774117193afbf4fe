"""Checkpoints of model, optimizer, scheduler and extras that survive a kill, load
without running code, and resume exactly -- alone, under DDP and under FSDP2.

:func:`save_checkpoint` / :func:`load_checkpoint` keep a folder:

* tensors (the model's, the optimizer's, tensor extras) in
  ``torch.distributed.checkpoint`` (DCP) files: every rank writes its shards
  of FSDP2's DTensors, and loading reshards to the model as it is now;
* everything else in ``lrkit.json`` (Note [checkpoint encoding]), written last;
* each rank's random generators and per-rank extras in ``rank-<r>.json``.

Guarantees, and where each is explained:

* a save replaces the previous checkpoint atomically: a process killed at any
  moment leaves the previous or the new checkpoint, complete; ``keep=N`` keeps
  the N latest (Note [atomic checkpoints]);
* loading runs no code from the folder: the only pickle is DCP's metadata,
  read with an allow-list of DCP's classes (Note [safe dcp]); pass
  ``trusted=True`` to read it with plain ``pickle`` (as ``torch.load(...,
  weights_only=False)`` does) only for a checkpoint whose source you trust;
* a resumed run is the uninterrupted one, bit for bit, under the conditions of
  Note [bit-exact resume] (the same world size; the random generators and
  stateful extras restored);
* errors are ``FileNotFoundError`` (a missing folder or shard),
  ``PermissionError`` (an unwritable place) or ``ValueError``/``TypeError``
  (a truncated file, a shape or key mismatch, data that is not plain), each
  naming the path and the key.
"""

from __future__ import annotations

from lrkit.checkpoint.loading import load_checkpoint
from lrkit.checkpoint.saving import save_checkpoint

__all__ = ["load_checkpoint", "save_checkpoint"]
