"""The documentation site: every public name has a docstring and a place in the API
reference, and ``mkdocs build --strict`` (warnings are errors: broken links,
missing images, docstrings that do not render) passes with the figures drawn.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "lrkit", "lrkit.schedules", "lrkit.optim", "lrkit.compat.torch",
    "lrkit.compat.transformers", "lrkit.compat.timm", "lrkit.compat.keras",
    "lrkit.compat.optax", "lrkit.tasks", "lrkit.bench",
]  # fmt: skip
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", re.M)


def public_names() -> list[tuple[str, str, Any]]:
    pytest.importorskip("torch")
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    out = []
    for name in MODULES:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        out += [(name, n, getattr(module, n)) for n in module.__all__ if not n.startswith("__")]
    return out


def own_docstring(obj: Any) -> str | None:
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__")  # not one inherited from a base
    if inspect.ismodule(obj) or callable(obj):
        return getattr(obj, "__doc__", None)
    return None  # a constant: its docstring is the string under it, read by griffe


def directives() -> set[str]:
    return {
        m
        for page in (ROOT / "docs" / "api").glob("*.md")
        for m in DIRECTIVE.findall(page.read_text())
    }


def test_every_public_name_has_its_own_docstring() -> None:
    missing = [
        f"{module}.{name}"
        for module, name, obj in public_names()
        if (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj))
        and not (own_docstring(obj) or "").strip()
    ]
    assert not missing, f"public names without a docstring: {missing}"


def test_every_module_and_public_submodule_has_a_reference_section() -> None:
    wanted = set(MODULES) | {obj.__name__ for _, _, obj in public_names() if inspect.ismodule(obj)}
    assert wanted <= directives(), sorted(wanted - directives())


def test_the_site_builds_strict_and_renders_every_public_name(tmp_path: Path) -> None:
    for package in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(package)
    pytest.importorskip("matplotlib")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg",
           "KERAS_BACKEND": "numpy"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]

    rendered = set()
    for page in (site / "api").rglob("index.html"):
        rendered |= set(re.findall(r'id="(lrkit\.[\w.]+)"', page.read_text()))
    missing = [
        f"{module}.{name}"
        for module, name, obj in public_names()
        if not inspect.ismodule(obj) and f"{module}.{name}" not in rendered
    ]
    assert not missing, f"public names missing from the API reference: {missing}"

    # every picture a page shows is in the site, the build-time figures included
    for page in site.rglob("*.html"):
        for src in re.findall(r'<img[^>]+src="([^"]+)"', page.read_text()):
            if not src.startswith(("http:", "https:", "data:")):
                assert (page.parent / src).resolve().is_file(), f"{page}: {src}"
    figures = sorted(p.name for p in (site / "figures").glob("*.png"))
    assert len(figures) >= 8 and all(
        (site / "figures" / f).stat().st_size > 10_000 for f in figures
    )
