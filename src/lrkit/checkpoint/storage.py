"""The tensors of a checkpoint, through ``torch.distributed.checkpoint`` (DCP),
read so that a crafted folder cannot run code or read outside itself.

Note [safe dcp]
~~~~~~~~~~~~~~~
lrkit gives DCP tensors only (Note [checkpoint encoding] keeps the rest in
JSON), so the one pickle in a checkpoint is DCP's ``.metadata``. It is read
with an unpickler that knows only DCP's metadata classes, torch's dtypes,
``torch.Size`` and paths: a payload that names anything else is refused
before it is built (``trusted=True`` uses DCP's own ``pickle.load``, for
metadata written by another planner or torch version). The metadata is then
checked before DCP reads a byte: every entry a tensor, every storage item in a
file of the folder (no ``..``, no other folder) and inside that file's size,
chunks inside their tensor, no stream transforms (no decompression). DCP reads
each tensor with ``torch.load(weights_only=True)``; the load planner refuses
the pickled "bytes" items that DCP would read with ``weights_only=False``.
"""

from __future__ import annotations

import dataclasses
import io
import math
import pickle
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.distributed.checkpoint import metadata as dcp_metadata
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
from torch.distributed.checkpoint.filesystem import FileSystemReader, FileSystemWriter
from torch.distributed.checkpoint.metadata import Metadata, TensorStorageMetadata

MAX_METADATA_BYTES = 256 * 1024 * 1024
_PATHS = {"PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath", "Path"}


class _MetadataUnpickler(pickle.Unpickler):
    """Builds DCP's metadata classes and nothing else (Note [safe dcp])."""

    def find_class(self, module: str, name: str) -> Any:
        if module == dcp_metadata.__name__ and dataclasses.is_dataclass(
            getattr(dcp_metadata, name, None)
        ):
            return getattr(dcp_metadata, name)
        allowed = {
            ("torch.distributed.checkpoint.metadata", "_MEM_FORMAT_ENCODING"),
            ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
            ("torch.serialization", "_get_layout"),
            ("torch", "Size"),
            ("collections", "OrderedDict"),
        }
        if (module, name) in allowed or (module == "pathlib" and name in _PATHS):
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise pickle.UnpicklingError(
            f"the checkpoint's DCP metadata names {module}.{name}, which lrkit does not load "
            "(pass trusted=True only for a checkpoint whose source you trust)"
        )


class SafeReader(FileSystemReader):
    """DCP's file reader with Note [safe dcp]; reads and checks the metadata once."""

    def __init__(self, path: Path, *, trusted: bool = False) -> None:
        super().__init__(path)
        self.folder, self.trusted = Path(path), trusted
        self._metadata: Metadata | None = None

    def read_metadata(self, *args: Any, **kwargs: Any) -> Metadata:
        if self._metadata is None:
            self._metadata = self._read()
            check_metadata(self._metadata, self.folder)
        return self._metadata

    def _read(self) -> Metadata:
        file = self.folder / ".metadata"
        if not file.is_file():
            raise FileNotFoundError(f"load_checkpoint: {file} is missing")
        if file.stat().st_size > MAX_METADATA_BYTES:
            raise ValueError(f"load_checkpoint: {file} is larger than any DCP metadata")
        with open(file, "rb") as f:
            try:
                loaded = (
                    pickle.load(f) if self.trusted else _MetadataUnpickler(f).load()
                )  # fmt: skip
            except (pickle.UnpicklingError, EOFError, AttributeError, TypeError) as exc:
                raise ValueError(f"load_checkpoint: {file}: {exc}") from None
        if not isinstance(loaded, Metadata):
            raise ValueError(f"load_checkpoint: {file} does not hold DCP metadata")
        if loaded.storage_meta is not None:
            loaded.storage_meta.load_id = self.load_id
        return loaded


class TensorsOnlyPlanner(DefaultLoadPlanner):
    """DCP's planner over a flat dict of tensors; refuses pickled "bytes" items."""

    def __init__(self) -> None:
        super().__init__(flatten_state_dict=False, flatten_sharded_tensors=False)

    def load_bytes(self, read_item: Any, value: io.BytesIO) -> None:
        raise ValueError(
            f"load_checkpoint: {read_item.dest_index.fqn!r} is stored as pickled bytes, "
            "which lrkit does not load"
        )


def check_metadata(md: Metadata, folder: Path) -> None:
    """Note [safe dcp]: the metadata describes tensors in files of ``folder`` only."""
    entries, storage = md.state_dict_metadata, md.storage_data
    if not isinstance(entries, dict) or not isinstance(storage, dict):
        raise ValueError(f"load_checkpoint: {folder}/.metadata is malformed")
    for key, entry in entries.items():
        if not isinstance(key, str) or not isinstance(entry, TensorStorageMetadata):
            raise ValueError(
                f"load_checkpoint: {folder} stores {key!r} as something other than a tensor"
            )
        _check_chunks(key, entry, folder)
    sizes: dict[str, int] = {}
    for index, info in storage.items():
        key = getattr(index, "fqn", "?")
        name = getattr(info, "relative_path", None)
        offset, length = getattr(info, "offset", None), getattr(info, "length", None)
        if (
            not isinstance(name, str)
            or not isinstance(offset, int)
            or not isinstance(length, int)
            or isinstance(offset, bool)
            or isinstance(length, bool)
        ):
            raise ValueError(f"load_checkpoint: {folder}/.metadata is malformed at {key!r}")
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"load_checkpoint: {folder} refers to a file outside it: {name!r}")
        if getattr(info, "transform_descriptors", None):
            raise ValueError(f"load_checkpoint: {folder} stores {key!r} transformed (compressed)")
        if name not in sizes:
            file = folder / name
            if not file.is_file():
                raise FileNotFoundError(f"load_checkpoint: {file} is missing (it holds {key!r})")
            sizes[name] = file.stat().st_size
        if offset < 0 or length < 0 or offset + length > sizes[name]:
            raise ValueError(
                f"load_checkpoint: {folder / name} is truncated ({key!r} lies at bytes "
                f"{offset}..{offset + length}, the file has {sizes[name]})"
            )


def _check_chunks(key: str, entry: TensorStorageMetadata, folder: Path) -> None:
    size = entry.size
    props = getattr(entry, "properties", None)
    if not isinstance(size, torch.Size) or not isinstance(
        getattr(props, "dtype", None), torch.dtype
    ):
        raise ValueError(f"load_checkpoint: {folder}/.metadata is malformed at {key!r}")
    covered = 0
    for chunk in entry.chunks:
        offsets, sizes = getattr(chunk, "offsets", None), getattr(chunk, "sizes", None)
        if (
            not isinstance(offsets, torch.Size)
            or not isinstance(sizes, torch.Size)
            or not len(offsets) == len(sizes) == len(size)
            or any(o < 0 or n < 0 or o + n > s for o, n, s in zip(offsets, sizes, size))
        ):
            raise ValueError(f"load_checkpoint: {folder}/.metadata has a bad chunk of {key!r}")
        covered += math.prod(sizes)
    if covered != math.prod(size):
        raise ValueError(f"load_checkpoint: {folder} does not hold all of {key!r}")


def write(folder: Path, tensors: dict[str, Tensor], distributed: bool) -> None:
    """Every rank writes its tensors (DTensor shards) into ``folder`` with DCP."""
    from torch.distributed.checkpoint.state_dict_saver import save

    writer = FileSystemWriter(folder, sync_files=True, overwrite=True)
    with _quiet():
        save(tensors, storage_writer=writer, no_dist=not distributed)


def read(reader: SafeReader, templates: dict[str, Tensor], distributed: bool) -> None:
    """Load ``templates`` (tensors and DTensors of the saved shapes) in place with DCP."""
    from torch.distributed.checkpoint.state_dict_loader import load

    with _quiet():
        load(
            templates, storage_reader=reader, planner=TensorsOnlyPlanner(), no_dist=not distributed
        )


def tensor_entries(reader: SafeReader) -> Mapping[str, TensorStorageMetadata]:
    """The saved tensors' global shapes and dtypes, by key (checked metadata)."""
    return reader.read_metadata().state_dict_metadata  # type: ignore[return-value]


@contextmanager
def _quiet() -> Iterator[None]:
    """DCP warns that it assumes one process without a process group, and that it
    overwrites an existing folder: both are what lrkit asked for."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled, unavailable")
        warnings.filterwarnings("ignore", message="Detected an existing checkpoint")
        yield


def plain_error(what: str, folder: Path, exc: BaseException) -> BaseException:
    """DCP's CheckpointException (a BaseException with a traceback per rank) as the
    error it wraps, in one line that names the folder."""
    if not hasattr(exc, "failures"):
        return exc
    failures = list(exc.failures.values())
    inner = failures[0][0] if failures and isinstance(failures[0], tuple) else exc
    message = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    if isinstance(inner, OSError):
        return type(inner)(f"{what}: {folder}: {message}")
    return ValueError(f"{what}: {folder}: {message}")


__all__ = [
    "MAX_METADATA_BYTES",
    "SafeReader",
    "TensorsOnlyPlanner",
    "check_metadata",
    "plain_error",
    "read",
    "tensor_entries",
    "write",
]
