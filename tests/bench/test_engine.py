"""lrkit.bench.run: Optuna studies that run every configuration exactly once."""

from __future__ import annotations

import collections
import math
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("torch")
from lrkit.bench import load, read_config, run  # noqa: E402
from lrkit.bench.storage import open_storage, study_id, trials  # noqa: E402

GRID = {
    "task": "quadratic",
    "steps": 30,
    "eval_every": 10,
    "optimizers": ["adam", "sgd(momentum=0.9)"],
    "lr": [1e-3, 1e-2, 1e4],
    "seeds": [0, 1],
}


def _keys(db: Path, study: str) -> collections.Counter[str]:
    st = open_storage(db)
    return collections.Counter(
        t.user_attrs["key"] for t in trials(st, study_id(st, study), ["COMPLETE", "PRUNED"])
    )


def test_a_grid_runs_each_configuration_once_and_records_it(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    seen: list[tuple[int, int]] = []
    summary = run({**GRID, "study": "g"}, db=db, progress=lambda d, t, b: seen.append((d, t)))
    assert summary.total == 12 and sum(summary.counts.values()) == 12
    assert seen[-1] == (12, 12) and summary.counts["diverged"] >= 2  # lr 1e4 explodes
    rows = load(db, "g")
    assert len(rows) == 12 and {(r.optimizer, r.lr, r.seed) for r in rows} == {
        (o, lr, s) for o in GRID["optimizers"] for lr in GRID["lr"] for s in GRID["seeds"]
    }
    ok = [r for r in rows if r.status == "ok"]
    assert ok and all(r.steps == 30 and len(r.evals) == 3 and r.wall_time > 0 for r in ok)
    assert all(len(r.train_loss) == 30 and r.versions["lrkit"] and r.device == "cpu" for r in ok)
    assert all(r.value == r.evals[-1][1] for r in ok)
    diverged = [r for r in rows if r.status == "diverged"]
    assert all(r.value == math.inf and "training loss" in r.message for r in diverged)
    study = optuna.load_study(study_name="g", storage=open_storage(db))
    done = [t for t in study.trials if t.user_attrs["status"] == "ok"]
    assert all(sorted(t.intermediate_values) == [10, 20, 30] for t in done)
    assert {"optimizer", "schedule", "lr", "seed"} <= set(
        done[0].params
    )  # Optuna's own tools read it
    again = run({**GRID, "study": "g"}, db=db)
    assert again.total == 12 and set(_keys(db, "g").values()) == {1}


def test_two_workers_on_one_sqlite_file_never_run_a_configuration_twice(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    cfg = {**GRID, "study": "w", "lr": [1e-3, 3e-3, 1e-2, 3e-2], "seeds": [0, 1, 2]}
    summary = run(cfg, db=db, workers=2)
    keys = _keys(db, "w")
    assert summary.total == 24 and len(keys) == 24 and set(keys.values()) == {1}
    workers = {r.worker for r in _raw_workers(db, "w")}
    assert len(workers) == 2


class _Worker:
    def __init__(self, worker: str) -> None:
        self.worker = worker


def _raw_workers(db: Path, study: str) -> list[_Worker]:
    st = open_storage(db)
    return [_Worker(t.user_attrs["worker"]) for t in trials(st, study_id(st, study))]


def test_an_lr_range_is_searched_per_group_and_resumes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    cfg = {**GRID, "study": "r", "lr": {"low": 1e-4, "high": 1.0, "trials": 4}, "seeds": [0, 1]}
    summary = run(cfg, db=db)
    rows = load(db, "r")
    assert summary.total == 16 and len(rows) == 16
    for optimizer in GRID["optimizers"]:
        lrs = collections.Counter(r.lr for r in rows if r.optimizer == optimizer)
        assert len(lrs) == 4 and set(lrs.values()) == {2}  # four lrs, each for both seeds
        assert all(1e-4 <= lr <= 1.0 for lr in lrs)
    assert run(cfg, db=db).total == 16 and len(load(db, "r")) == 16
    more = run({**cfg, "lr": {"low": 1e-4, "high": 1.0, "trials": 5}}, db=db)
    assert more.total == 20  # the search continues where it stopped


def test_qmc_proposals_do_not_repeat_across_rounds(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    cfg = {**GRID, "study": "q", "optimizers": ["adam"], "seeds": [0],
           "lr": {"low": 1e-4, "high": 1.0, "trials": 5, "sampler": "qmc"}}  # fmt: skip
    run(cfg, db=db)
    assert len({r.lr for r in load(db, "q")}) == 5


def test_errors_and_entry_points(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    entry = {"entry": "tests.bench.entry_example:setup", "steps": 40, "eval_every": 20,
             "optimizers": ["sgd", "sgd(nesterov=true)"], "lr": [0.05]}  # fmt: skip
    run({**entry, "study": "e"}, db=db)
    rows = {r.optimizer: r for r in load(db, "e")}
    assert rows["sgd"].status == "ok" and rows["sgd"].value < rows["sgd"].evals[0][1]
    bad = rows["sgd(nesterov=true)"]
    assert bad.status == "error" and bad.state == "FAIL" and "nesterov" in bad.message
    broken = {**entry, "entry": "tests.bench.entry_example:broken", "optimizers": ["sgd"]}
    run({**broken, "study": "broken"}, db=db)
    (row,) = load(db, "broken")
    assert row.status == "error" and "the user's setup failed" in row.message
    run({**broken, "study": "broken"}, db=db)  # an error is a result: not run again
    assert len(load(db, "broken")) == 1


def test_median_pruning_stops_bad_trials_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    cfg = {**GRID, "study": "p", "optimizers": ["adam"], "lr": [0.3, 1e-6], "seeds": [0, 1, 2, 3, 4],
           "steps": 40, "prune": "median"}  # fmt: skip
    run(cfg, db=db)
    statuses = collections.Counter((r.lr, r.status) for r in load(db, "p"))
    assert statuses[(0.3, "ok")] == 5 and statuses[(1e-6, "pruned")] >= 3
    assert "prune" not in read_config(GRID).__dict__ or read_config(GRID).prune is None


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`workers` must be a positive integer"):
        run(GRID, db=tmp_path / "x.db", workers=0)
    with pytest.raises(ValueError, match="`executor` must be one of local, ray"):
        run(GRID, db=tmp_path / "x.db", executor="slurm")
    with pytest.raises(ValueError, match="no study 'nope'"):
        load(tmp_path / "x.db", "nope")
