"""Reading YAML and JSON files: Note [bounded input] holds, errors are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrkit.tools import data_files
from lrkit.tools.data_files import DataFileError, read_data_file

pytest.importorskip("yaml")


def _bomb(levels: int = 30) -> str:
    lines = ["a0: &a0 [1, 1]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    with pytest.raises(
        DataFileError, match=r"bomb\.yaml: the data holds more than 1,000,000 values"
    ):
        read_data_file(path)


def test_yaml_anchors_that_stay_small_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {type: cosine, steps: 100}\nlist: [*b, *b]\n")
    data = read_data_file(path)
    assert data["list"] == [{"type": "cosine", "steps": 100}] * 2


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("deep.json", "[" * 200 + "]" * 200, r"deep\.json: the data nests deeper than 100 levels"),
        ("deeper.json", "[" * 100_000 + "]" * 100_000, r"deeper\.json: the data nests too deeply"),
        ("bad.json", "{", r"^.*bad\.json: not valid JSON: "),
        (
            "bad.yaml",
            "a: [1, 2\n",
            r"^.*bad\.yaml: not valid YAML \(line 2, column 1\): expected ',' or ']'",
        ),
        (
            "tag.yaml",
            "!!python/object/apply:os.system ['true']\n",
            r"tag\.yaml: not valid YAML .*could not determine a constructor",
        ),
        ("notes.txt", "x", r"notes\.txt: expected a \.json, \.yaml, \.yml file"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataFileError, match=message) as info:
        read_data_file(path)
    assert "\n" not in str(info.value)


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(data_files, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text("[" + "1," * 100 + "1]")
    with pytest.raises(DataFileError, match=r"big\.json: 203 bytes is more than the 100"):
        read_data_file(path)
    with pytest.raises(DataFileError, match=r"no such file: .*missing\.json"):
        read_data_file(tmp_path / "missing.json")
