"""Note [atomic checkpoints]: a save killed between any two of its file-system
operations leaves the latest complete checkpoint readable, and the next save's
recovery keeps every checkpoint that ``keep`` asks for."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lrkit.checkpoint import folders


class Killed(BaseException):
    pass


def _make(folder: Path, version: int) -> None:
    folder.mkdir()
    (folder / folders.MARKER).write_text(str(version))


def _version(folder: Path | None) -> int | None:
    return None if folder is None else int((folder / folders.MARKER).read_text())


def _kill_after(monkeypatch: pytest.MonkeyPatch, ops: int) -> None:
    """Let ``ops`` renames and deletions happen, then stop the process (raise)."""
    count = {"n": 0}
    rename, rmtree = Path.rename, shutil.rmtree

    def tick() -> None:
        count["n"] += 1
        if count["n"] > ops:
            raise Killed

    def killable_rename(self: Path, target: Path) -> Path:
        tick()
        return rename(self, target)

    def killable_rmtree(path, *a, **k) -> None:
        tick()
        rmtree(path, *a, **k)

    monkeypatch.setattr(Path, "rename", killable_rename)
    monkeypatch.setattr(folders.shutil, "rmtree", killable_rmtree)


@pytest.mark.parametrize("keep", [1, 2, 3])
@pytest.mark.parametrize("ops", range(8))
def test_a_kill_between_any_two_operations_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int, ops: int
) -> None:
    path = tmp_path / "ckpt"
    for version in range(keep):  # history: ckpt = keep-1 (latest), ckpt.k = keep-1-k
        slot = path if version == keep - 1 else folders.history(path, keep - 1 - version)
        _make(slot, version)
    new = keep
    _make(folders.staging(path), new)
    _kill_after(monkeypatch, ops)
    try:
        folders.commit(path, folders.staging(path), keep)
        finished = True
    except Killed:
        finished = False
    monkeypatch.undo()
    latest = _version(folders.readable(path))
    assert latest in (new - 1, new)
    assert finished <= (latest == new)
    folders.recover(path, keep)
    assert _version(folders.readable(path)) == latest
    kept = [_version(folders.history(path, k)) for k in range(1, keep)]
    assert kept == [latest - k for k in range(1, keep)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["ckpt", *(f"ckpt.{k}" for k in range(1, keep))]
    )


def test_recover_undoes_a_save_killed_between_its_two_renames(tmp_path: Path) -> None:
    path = tmp_path / "ckpt"
    _make(folders.previous(path), 1)  # step 1 done, step 2 not
    _make(folders.staging(path), 2)
    assert _version(folders.readable(path)) == 1
    folders.recover(path, keep=1)
    assert _version(folders.readable(path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_a_smaller_keep_drops_the_older_history(tmp_path: Path) -> None:
    path = tmp_path / "ckpt"
    for k in range(4):
        _make(path if k == 0 else folders.history(path, k), 10 - k)
    _make(folders.staging(path), 11)
    folders.commit(path, folders.staging(path), keep=2)
    assert [_version(path), _version(folders.history(path, 1))] == [11, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "ckpt.1"]


def test_an_unfinished_folder_is_not_readable(tmp_path: Path) -> None:
    path = tmp_path / "ckpt"
    path.mkdir()
    (path / ".metadata").write_bytes(b"")
    assert folders.readable(path) is None
    assert folders.is_checkpoint(path)
    (tmp_path / "other").mkdir()
    assert not folders.is_checkpoint(tmp_path / "other")
