"""lrkit.bench.report: one self-contained HTML page, PNGs and markdown beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("matplotlib")
from lrkit.bench import load, run
from lrkit.bench.report import write_report
from lrkit.bench.results import default_target, lr_windows, ranking, time_to_target

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
    target = default_target(rows)
    best = min(r.mean for r in ranking(rows))
    assert target == pytest.approx(best * 1.05)
    times = time_to_target(rows, target)
    assert any(t.steps is not None for t in times) and all(t.seeds == 2 for t in times)
    with pytest.raises(ValueError, match="no finished trials"):
        write_report([], Path("x.html"))
