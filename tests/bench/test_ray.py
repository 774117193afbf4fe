"""--executor ray: workers as Ray tasks on one storage (a local Ray started here)."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("optuna")
from lrkit.bench import load, run  # noqa: E402


@pytest.mark.slow
def test_a_local_ray_runs_the_sweep(tmp_path: Path) -> None:
    cfg = {"study": "ray", "task": "quadratic", "steps": 20, "optimizers": ["adam", "sgd"],
           "lr": [1e-3, 1e-2], "seeds": [0, 1]}  # fmt: skip
    try:
        summary = run(cfg, db=tmp_path / "ray.db", workers=2, executor="ray")
    finally:
        ray.shutdown()
    rows = load(tmp_path / "ray.db", "ray")
    assert summary.total == 8 and collections.Counter(r.status for r in rows) == {"ok": 8}
    assert len({(r.optimizer, r.lr, r.seed) for r in rows}) == 8
