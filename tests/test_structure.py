"""The shape of src/lrkit stays readable: no import cycles, no file over 650
lines, no private name imported across subpackages (``python tests/structure.py``
prints the report these assert on)."""

from __future__ import annotations

from tests import structure


def test_no_import_cycles() -> None:
    assert structure.cycles(structure.graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert structure.cycles(edges) == [["a", "b", "c"]]
    assert structure.cycles({"a": {"b"}, "b": set()}) == []


def test_no_file_over_650_lines() -> None:
    largest = structure.largest(1)
    assert largest and largest[0][0] <= 650, largest


def test_no_private_names_imported_across_subpackages() -> None:
    assert structure.private_imports() == []


def test_lazy_and_relative_imports_count(tmp_path, monkeypatch) -> None:
    package = tmp_path / "lrkit"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("def f():\n    from lrkit.b import _x\n")
    (package / "b.py").write_text("from .sub import a\n")
    monkeypatch.setattr(structure, "SRC", tmp_path)
    edges = structure.graph()
    assert edges["lrkit.sub.a"] == {"lrkit.b"} and edges["lrkit.b"] == {"lrkit.sub.a"}
    assert structure.cycles(edges) == [["lrkit.b", "lrkit.sub.a"]]
    assert structure.private_imports() == ["lrkit.sub.a: _x from lrkit.b"]


def test_imports_only_a_type_checker_runs_do_not_count(tmp_path, monkeypatch) -> None:
    package = tmp_path / "lrkit"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lrkit.a import f\n"
        "else:\n    from lrkit import b\n"
    )
    (package / "a.py").write_text("def f():\n    from lrkit import __version__\n")
    (package / "b.py").write_text("")
    monkeypatch.setattr(structure, "SRC", tmp_path)
    edges = structure.graph()
    assert edges["lrkit"] == {"lrkit.b"} and edges["lrkit.a"] == {"lrkit"}
    assert structure.cycles(edges) == []
