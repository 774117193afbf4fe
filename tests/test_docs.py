"""Every Python block of the README and docs/ runs, so that the examples cannot rot.

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
BLOCK = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", re.S | re.M)


def blocks(page: Path) -> list[str]:
    return [textwrap.dedent(m.group(2)) for m in BLOCK.finditer(page.read_text())]


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
