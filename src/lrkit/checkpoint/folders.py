"""Replacing a checkpoint folder so that a kill at any moment leaves one that loads.

Note [atomic checkpoints]
~~~~~~~~~~~~~~~~~~~~~~~~~
A save never writes into the folder it replaces. It writes everything into
the sibling ``NAME.tmp``, ``lrkit.json`` last (a folder without it is
incomplete), flushes the files and the folder to disk, and then swaps:

1. ``NAME``     -> ``NAME.old``   (the previous checkpoint, complete)
2. ``NAME.tmp`` -> ``NAME``       (the new one, complete)
3. ``NAME.old`` is retired: deleted, or with ``keep=N`` moved to ``NAME.1``
   after ``NAME.1 .. NAME.{N-2}`` move up one (the oldest, ``NAME.{N-1}``,
   is deleted), so ``NAME`` is the latest and ``NAME.k`` the one k saves back.

Each step is one ``rename``, which POSIX makes atomic. A process killed before
step 2 leaves the previous checkpoint as ``NAME`` or ``NAME.old``; one killed
after it leaves the new one as ``NAME``. :func:`recover`, which the next save
runs first, finishes what a killed save left (step 1 done but not 2: ``NAME.old``
goes back; step 3 unfinished: it is redone) and removes ``NAME.tmp``; a load
reads ``NAME``, or ``NAME.old`` when only that is complete. Retiring shifts
history into the first free slot, so it can be redone after a kill at any point
without losing a checkpoint it should keep. Deletion renames a folder to
``.NAME.trash`` first, so a half-deleted folder never carries a checkpoint's name.
Only folders that are checkpoints are ever renamed or deleted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

MARKER = "lrkit.json"  # written last: its presence makes a folder complete
DCP_METADATA = ".metadata"


def staging(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def previous(path: Path) -> Path:
    return path.with_name(path.name + ".old")


def history(path: Path, k: int) -> Path:
    """The checkpoint ``k`` saves before the latest (``keep=N`` keeps k < N)."""
    return path.with_name(f"{path.name}.{k}")


def _trash(path: Path) -> Path:
    return path.with_name(f".{path.name}.trash")


def complete(folder: Path) -> bool:
    """A finished lrkit checkpoint: a folder holding ``lrkit.json``."""
    return (folder / MARKER).is_file()


def is_checkpoint(folder: Path) -> bool:
    """A folder lrkit may replace: an lrkit checkpoint, finished or not, or a DCP one."""
    return folder.is_dir() and ((folder / MARKER).exists() or (folder / DCP_METADATA).exists())


def check_target(path: Path) -> None:
    """Refuse to replace what is not a checkpoint (a file, a folder of other data)."""
    if path.exists() and not is_checkpoint(path):
        kind = "folder" if path.is_dir() else "file"
        raise ValueError(
            f"save_checkpoint: {path} is a {kind} that is not a checkpoint, and a save "
            "replaces its target; choose another path"
        )
    parent = path.parent
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"save_checkpoint: cannot write in {parent} (permission denied)")


def readable(path: Path) -> Path | None:
    """The folder a load reads: ``path``, or ``NAME.old`` left complete by a killed save."""
    if complete(path):
        return path
    old = previous(path)
    if not path.exists() and complete(old):
        return old
    return None


def recover(path: Path, keep: int) -> None:
    """Finish or undo what a killed save left around ``path`` (Note [atomic checkpoints])."""
    old = previous(path)
    if old.exists():
        if not path.exists():
            old.rename(path)  # killed between steps 1 and 2
            sync_folder(path.parent)
        else:
            retire(path, old, keep)  # killed during step 3
    _delete(staging(path), path)
    if _trash(path).exists():
        shutil.rmtree(_trash(path))


def commit(path: Path, tmp: Path, keep: int) -> None:
    """Steps 1-3 of Note [atomic checkpoints]: ``tmp`` becomes ``path``."""
    old = previous(path)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    sync_folder(path.parent)
    if old.exists():
        retire(path, old, keep)


def retire(path: Path, old: Path, keep: int) -> None:
    """Move ``old`` into the history kept beside ``path`` (or delete it with ``keep=1``)."""
    slots = [history(path, k) for k in range(1, keep)]
    if slots:
        free = next((i for i, slot in enumerate(slots) if not slot.exists()), None)
        if free is None:
            _delete(slots[-1], path)
            free = len(slots) - 1
        for i in range(free, 0, -1):
            slots[i - 1].rename(slots[i])
        old.rename(slots[0])
    else:
        _delete(old, path)
    k = keep  # a smaller `keep` than before: drop what is now too old
    while is_checkpoint(history(path, k)):
        _delete(history(path, k), path)
        k += 1
    sync_folder(path.parent)


def _delete(folder: Path, path: Path) -> None:
    """Delete ``folder`` by way of ``path``'s trash name, so a kill leaves no half folder."""
    if not folder.exists():
        return
    trash = _trash(path)
    if trash.exists():
        shutil.rmtree(trash)
    folder.rename(trash)
    shutil.rmtree(trash)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(file: Path, data: bytes) -> None:
    """Write ``data`` to ``file`` and flush it to disk."""
    with open(file, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def folder_path(what: str, path: Any) -> Path:
    if not isinstance(path, (str, Path)) or str(path) == "":
        raise TypeError(f"{what}: `path` must be a folder path (str or Path), got {path!r}")
    return Path(path)


__all__ = [
    "DCP_METADATA",
    "MARKER",
    "check_target",
    "commit",
    "complete",
    "folder_path",
    "history",
    "is_checkpoint",
    "previous",
    "readable",
    "recover",
    "retire",
    "staging",
    "sync_folder",
    "write_synced",
]
