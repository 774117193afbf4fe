"""Every Python block of the README and docs/ runs, and every shell command in them
exists with the flags shown (below), so that the examples cannot rot.

The blocks of one page run in order in one namespace (a page's later blocks
use its earlier ones), in a fresh working directory, seeded with what a
reader's own training script has: ``model``, ``optimizer``, ``scheduler``,
``loader``, ``loss_fn``, ``loss`` (whose ``backward()`` takes a fresh batch),
``epoch`` and ``adam``. A block indented under a list item is dedented.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path, language: str = "python") -> list[str]:
    """The page's fenced blocks in ``language``, each dedented (one under a list item)."""
    fence = re.compile(rf"^([ \t]*)```{language}\n(.*?)^\1```", re.S | re.M)
    return [textwrap.dedent(m.group(2)) for m in fence.finditer(page.read_text())]


class _Loss:
    """A loss whose ``backward()`` computes a fresh one, as each step of a loop does."""

    def __init__(self, model: Any, loss_fn: Any, loader: Any) -> None:
        self.model, self.loss_fn, self.loader, self.n = model, loss_fn, loader, 0

    def backward(self) -> None:
        x, y = self.loader[self.n % len(self.loader)]
        self.n += 1
        self.loss_fn(self.model(x), y).backward()


class _Loader:
    """A stateful data loader (``state_dict``/``load_state_dict``, as torchdata's)."""

    def __init__(self, batches: list) -> None:
        self.batches, self.position = batches, 0

    def __iter__(self) -> Any:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> Any:
        return self.batches[i]

    def state_dict(self) -> dict[str, int]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.position = int(state["position"])


def _reader_script() -> dict[str, Any]:
    import lrkit

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = _Loader([(torch.randn(16, 4), torch.randint(0, 3, (16,))) for _ in range(4)])
    loss_fn = torch.nn.functional.cross_entropy
    scheduler = lrkit.ScheduledLR(optimizer, lrkit.schedules.WarmupCosine(steps=100, warmup=10))
    adam = torch.optim.Adam(torch.nn.Linear(4, 2).parameters(), lr=1e-3)
    return {
        "torch": torch, "lrkit": lrkit, "model": model, "optimizer": optimizer,
        "loader": loader, "loss_fn": loss_fn, "loss": _Loss(model, loss_fn, loader),
        "scheduler": scheduler, "epoch": 3, "adam": adam, "params": list(model.parameters()),
    }  # fmt: skip


def test_every_page_with_code_is_collected() -> None:
    with_code = {p.name for p in PAGES if blocks(p)}
    assert {"README.md", "bench.md", "tools.md", "optimizers.md"} <= with_code
    guides = {p.name for p in (ROOT / "docs" / "guides").glob("*.md")}
    assert guides - {"performance.md"} <= with_code
    assert sum(len(blocks(p)) for p in PAGES) >= 55


@pytest.mark.parametrize(
    "page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_python_blocks_of_a_page_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = _reader_script()
    for i, code in enumerate(blocks(page)):
        try:
            exec(compile(code, f"{page.name} block {i}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{page.name}, block {i}: {type(exc).__name__}: {exc}\n{code}")


# The shell blocks: each command a reader copies must still exist with the flags shown.
# The quick `lrkit` commands run (plot, list, steps, bench presets); the others, which
# take minutes (a sweep, torchrun), are parsed by the CLI's own parser; a script's
# flags must appear in its `--help`; an extra named in a `pip install` must be
# lrkit's. A command that reads the reader's own file (sweep.yaml) is parsed only.
# Lines written as a synopsis (`a|b`, `[--flag]`, `...`) are not commands.
QUICK = (["plot"], ["list"], ["steps"], ["bench", "presets"])


def commands() -> list[tuple[str, list[str]]]:
    import shlex

    out = []
    for page in PAGES:
        for block in blocks(page, "bash"):
            text = block.replace("\\\n", " ")
            for line in text.splitlines():
                for part in line.split("&&"):
                    words = shlex.split(part, comments=True)
                    if not words or any(
                        w == "..." or ("|" in w and "://" not in w) or w.startswith("[")
                        for w in words
                    ):
                        continue
                    out.append((page.name, words))
    return out


def test_the_shell_blocks_name_commands_and_flags_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib
    import io
    import subprocess
    import sys
    from importlib.metadata import metadata

    from lrkit.cli.main import build_parser, main

    extras = set(metadata("lrkit").get_all("Provides-Extra") or [])
    helps: dict[str, str] = {}
    seen = {"lrkit": 0, "script": 0, "pip": 0}
    for page, words in commands():
        where = f"{page}: {' '.join(words)}"
        reads_own_file = any(w.endswith((".yaml", ".yml", ".json")) for w in words)
        if (
            words[0] == "lrkit"
            and not reads_own_file
            and any(words[1 : 1 + len(q)] == q for q in QUICK)
        ):
            monkeypatch.chdir(tmp_path)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(words[1:])
            assert code == 0, f"{where}: exit {code}: {err.getvalue()[-1000:]}"
            seen["lrkit"] += 1
        elif words[0] == "lrkit":
            try:
                build_parser().parse_args(words[1:])
            except SystemExit as exc:
                pytest.fail(f"{where}: the CLI rejects it (exit {exc.code})")
            seen["lrkit"] += 1
        elif words[0] in ("python", "torchrun") and any(w.endswith(".py") for w in words):
            script = next(w for w in words if w.endswith(".py"))
            assert (ROOT / script).is_file(), f"{where}: no {script}"
            if script not in helps:
                helps[script] = subprocess.run(
                    [sys.executable, str(ROOT / script), "--help"], capture_output=True,
                    text=True, timeout=120, cwd=ROOT / Path(script).parent,
                ).stdout  # fmt: skip
            after = words[words.index(script) + 1 :]
            for flag in (w.split("=")[0] for w in after if w.startswith("--")):
                assert flag in helps[script], f"{where}: {script} has no {flag}"
            seen["script"] += 1
        elif words[:2] == ["pip", "install"]:
            for extra in re.findall(r"\[([\w,-]+)\]", " ".join(words)):
                assert set(extra.split(",")) <= extras, f"{where}: no extra [{extra}]"
            seen["pip"] += 1
    assert seen["lrkit"] >= 30 and seen["script"] >= 8 and seen["pip"] >= 3, seen


def test_the_yaml_blocks_are_valid_and_the_sweeps_are_bench_configs() -> None:
    yaml = pytest.importorskip("yaml")
    from lrkit.bench import read_config

    sweeps = 0
    for page in PAGES:
        for block in blocks(page, "yaml"):
            data = yaml.safe_load(block)
            if isinstance(data, dict) and "version" in data:  # a sweep: every key checked
                read_config(data, study="docs")
                sweeps += 1
    assert sweeps >= 2
