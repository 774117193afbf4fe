from __future__ import annotations

from pathlib import Path

import pytest

from lrkit.tools.figure import check_output, saved_figure


def test_check_output_leaves_no_file_and_needs_its_folder(tmp_path: Path) -> None:
    path = check_output("t", tmp_path / "x.png")
    assert not path.exists()
    with pytest.raises(ValueError, match=r"t: cannot write `output` .*x\.png: no folder .*b"):
        check_output("t", tmp_path / "a" / "b" / "x.png")  # a typo is not a new folder
    assert not (tmp_path / "a").exists()
    existing = tmp_path / "keep.svg"
    existing.write_text("old")
    check_output("t", existing)
    assert existing.read_text() == "old"
    with pytest.raises(ValueError, match=r"t: `gif` must end in \.gif, got"):
        check_output("t", tmp_path / "x.png", (".gif",), name="gif")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="t: cannot write `output`"):
        check_output("t", tmp_path / "file" / "x.png")  # a file where a folder should be


def test_saved_figure_writes_on_success_only(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    seen = []
    with saved_figure("t", tmp_path / "ok.png", after=seen.append) as (fig, ax):
        ax.plot([0, 1], [1, 0])
    assert (tmp_path / "ok.png").stat().st_size > 1000 and seen == [fig]
    with pytest.raises(RuntimeError), saved_figure("t", tmp_path / "bad.png") as (_, ax):
        raise RuntimeError("drawing failed")
    assert not (tmp_path / "bad.png").exists()
