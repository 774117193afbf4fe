"""Loading a crafted checkpoint runs no code and reads nothing outside its folder
(Note [safe dcp], Note [checkpoint encoding])."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from lrkit import load_checkpoint, save_checkpoint


class Payload:
    """Pickles to a call of os.system: what a hostile .metadata would hold."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _saved(tmp_path: Path) -> tuple[Path, nn.Module]:
    model = nn.Linear(3, 2)
    save_checkpoint(tmp_path / "ckpt", model, torch.optim.SGD(model.parameters(), lr=0.1))
    return tmp_path / "ckpt", model


def test_a_metadata_pickle_that_calls_a_function_is_refused(tmp_path: Path) -> None:
    folder, model = _saved(tmp_path)
    marker = tmp_path / "ran"
    (folder / ".metadata").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match=r"names posix\.system, which lrkit does not load"):
        load_checkpoint(folder, model)
    assert not marker.exists()


def test_trusted_reads_metadata_with_plain_pickle(tmp_path: Path) -> None:
    folder, model = _saved(tmp_path)
    marker = tmp_path / "ran"
    (folder / ".metadata").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match=r"does not hold DCP metadata"):
        load_checkpoint(folder, model, trusted=True)
    assert marker.exists()  # the documented risk of the opt-in


def test_a_storage_path_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder, model = _saved(tmp_path)
    metadata = pickle.loads((folder / ".metadata").read_bytes())
    for info in metadata.storage_data.values():
        info.relative_path = "../secret"
    (folder / ".metadata").write_bytes(pickle.dumps(metadata))
    (tmp_path / "secret").write_bytes(b"x" * 10_000)
    with pytest.raises(ValueError, match=r"refers to a file outside it: '\.\./secret'"):
        load_checkpoint(folder, model)


def test_a_tensor_stored_as_pickled_bytes_is_refused(tmp_path: Path) -> None:
    from torch.distributed.checkpoint.metadata import BytesStorageMetadata

    folder, model = _saved(tmp_path)
    metadata = pickle.loads((folder / ".metadata").read_bytes())
    metadata.state_dict_metadata["model.weight"] = BytesStorageMetadata()
    (folder / ".metadata").write_bytes(pickle.dumps(metadata))
    with pytest.raises(
        ValueError, match=r"stores 'model\.weight' as something other than a tensor"
    ):
        load_checkpoint(folder, model)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h["extra"].update(x={"__pickle__": "gASV"}), r"unknown entry '__pickle__'"),
        (lambda h: h["extra"].update(x={"__tensor__": "nope"}), r"is missing the tensor 'nope'"),
        (lambda h: h["extra"].update(x={"__tensor__": 5}), r"refers to a tensor it does not hold"),
        (lambda h: h.update(format="torch"), r"is not an lrkit checkpoint of version 1"),
        (lambda h: h.update(model=[]), r"lrkit\.json is malformed"),
        (
            lambda h: h["extra"].update(
                x={"__tensor_data__": {"dtype": "float32", "shape": [10**9], "data": ""}}
            ),
            r"bytes do not match its dtype and shape",
        ),
        (
            lambda h: h["extra"].update(
                x={"__ndarray__": {"dtype": "|O", "shape": [1], "data": "AAAAAAAAAAA="}}
            ),
            r"unknown array dtype '\|O'",
        ),
    ],
)
def test_crafted_json_is_a_value_error(tmp_path: Path, edit, message: str) -> None:
    folder, model = _saved(tmp_path)
    head = json.loads((folder / "lrkit.json").read_text())
    edit(head)
    (folder / "lrkit.json").write_text(json.dumps(head))
    with pytest.raises(ValueError, match=message):
        load_checkpoint(folder, model)


def test_deeply_nested_json_is_a_value_error(tmp_path: Path) -> None:
    folder, model = _saved(tmp_path)
    (folder / "lrkit.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"lrkit\.json (nests too deeply|is not valid)"):
        load_checkpoint(folder, model)
