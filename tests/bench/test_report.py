"""lrkit.bench.report: one self-contained HTML page, PNGs and markdown beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("matplotlib")
from lrkit.bench import load, run
from lrkit.bench.report import write_report
from lrkit.bench.results import (
    Row,
    default_targets,
    lr_windows,
    points,
    ranking,
    time_to_target,
)

CFG = {"study": "rep", "task": "quadratic", "steps": 30, "eval_every": 10,
       "optimizers": ["adam", "sgd(momentum=0.9)"], "lr": [1e-3, 1e-2, 1e-1, 1e4], "seeds": [0, 1]}  # fmt: skip


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list:
    db = tmp_path_factory.mktemp("rep") / "r.db"
    run(CFG, db=db)
    return load(db, "rep")


def test_the_page_embeds_every_figure_and_table(rows: list, tmp_path: Path) -> None:
    paths = write_report(
        rows, tmp_path / "report.html", study="rep", claim="a claim", finding="a finding"
    )
    page = (tmp_path / "report.html").read_text()
    names = sorted(p.name for p in paths)
    assert names == [
        "report-curves.png",
        "report-lr.png",
        "report-time.png",
        "report.html",
        "report.md",
    ]
    assert page.count("src='data:image/png;base64,") == 3
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # nothing from the network
    for text in ("a claim", "a finding", "Ranking", "LR robustness", "Time to result", "diverged"):
        assert text in page
    md = (tmp_path / "report.md").read_text()
    assert "| task | configuration | best lr |" in md and "![report-lr.png](report-lr.png)" in md
    assert all((tmp_path / n).stat().st_size > 5000 for n in names if n.endswith(".png"))


def test_diverged_trials_are_reported_not_dropped(rows: list, tmp_path: Path) -> None:
    diverged = [r for r in rows if r.status == "diverged"]
    assert {r.lr for r in diverged} >= {1e4} and len(diverged) >= 4  # lr 1e4: all of them
    write_report(rows, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert page.count("<td class='bad'>diverged</td>") == len(diverged)
    assert sum(r.diverged for r in ranking(rows)) == len(diverged)


def test_windows_targets_and_ranking(rows: list) -> None:
    windows = {w.label: w for w in lr_windows(rows)}
    assert set(windows) == {"adam", "sgd(momentum=0.9)"}
    for w in windows.values():
        assert w.low <= w.best_lr <= w.high and w.decades >= 0
    target = default_targets(rows)["quadratic"]
    best = min(r.mean for r in ranking(rows))
    assert target == pytest.approx(best * 1.05)
    times = time_to_target(rows, target)
    assert any(t.steps is not None for t in times) and all(t.seeds == 2 for t in times)
    with pytest.raises(ValueError, match="no finished trials"):
        write_report([], Path("x.html"))


def _row(task: str, metric: str, optimizer: str, lr: float, seed: int, value: float) -> Row:
    return Row(
        number=0, state="COMPLETE", status="ok", task=task, optimizer=optimizer,
        schedule="constant()", lr=lr, seed=seed, steps=100, max_grad_norm=None, batch_size=None,
        value=value, metric=metric, message="", wall_time=1.0, device="cpu", versions={},
        loss_steps=[0, 100], train_loss=[2.0, 1.0], evals=[[100, value, 1.0]],
        extras={},
    )  # fmt: skip


def test_a_report_of_an_accuracy_task_and_a_loss_task_ranks_each_its_own_way(
    tmp_path: Path,
) -> None:
    # A preset's two studies: an accuracy (maximize) beside a loss (minimize).
    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    accuracy = {"a": [0.5, 0.9, 0.6, 0.1], "b": [0.4, 0.5, 0.8, 0.7]}
    loss = {"a": [3.0, 1.0, 2.5, 2.9], "b": [2.8, 2.0, 1.5, 1.55]}
    rows = [
        _row(task, metric, opt, lr, seed, values[opt][i] + 0.001 * seed)
        for task, metric, values in (
            ("acc_task", "test_accuracy", accuracy),
            ("loss_task", "test_loss", loss),
        )
        for opt in ("a", "b")
        for i, lr in enumerate(lrs)
        for seed in (0, 1)
    ]
    best = {(w.task, w.label): w.best_lr for w in lr_windows(rows)}
    assert best == {
        ("acc_task", "a"): 1e-2, ("acc_task", "b"): 1e-1,
        ("loss_task", "a"): 1e-2, ("loss_task", "b"): 1e-1,
    }  # fmt: skip
    windows = {(w.task, w.label): (w.low, w.high) for w in lr_windows(rows)}
    assert windows[("acc_task", "b")] == (1e-1, 1e-1)  # 0.7 is not within 5% of 0.8
    assert windows[("loss_task", "b")] == (1e-1, 1.0)  # 1.55 is within 5% of 1.5
    order = [(r.task, r.label) for r in ranking(rows)]
    assert order == [("acc_task", "a"), ("acc_task", "b"), ("loss_task", "a"), ("loss_task", "b")]
    targets = default_targets(rows)
    assert targets["acc_task"] == pytest.approx(0.9005 * 0.95)
    assert targets["loss_task"] == pytest.approx(1.0005 * 1.05)
    reached = {(t.task, t.label): t.reached for t in time_to_target(rows, targets)}
    assert reached == {
        ("acc_task", "a"): 2, ("acc_task", "b"): 0, ("loss_task", "a"): 2, ("loss_task", "b"): 0,
    }  # fmt: skip
    worst = {p.task: p.first.metric for p in points(rows)}
    assert worst == {"acc_task": "test_accuracy", "loss_task": "test_loss"}
    write_report(rows, tmp_path / "mixed.html")
    md = (tmp_path / "mixed.md").read_text()
    assert "| loss_task | a | 0.01 | test loss | 1 |" in md
    assert "| acc_task | a | 0.01 | test accuracy | 0.9005 |" in md
