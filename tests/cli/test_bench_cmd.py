"""lrkit bench run | status | report | presets, through main()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("optuna")
from lrkit.cli.main import main

SWEEP = """\
version: 1
study: cli
task: quadratic
steps: 20
eval_every: 10
optimizers: [adam, sgd]
lr: [1e-3, 1e-2]
"""


def test_run_status_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    assert main(["bench", "run", "sweep.yaml", "--format", "json"]) == 0
    (study,) = json.loads(capsys.readouterr().out)["studies"]
    assert study["study"] == "cli" and study["trials"] == 4 and study["counts"] == {"ok": 4}
    assert study["storage"] == f"sqlite:///{tmp_path / 'lrkit-bench.db'}"  # the default storage
    assert main(["bench", "status", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["studies"] == [{"study": "cli", "trials": 4, "counts": {"ok": 4}, "running": []}]
    assert main(["bench", "report", "-o", "r.html", "-q"]) == 0
    assert capsys.readouterr().out == "" and (tmp_path / "r.html").stat().st_size > 10_000
    assert main(["bench", "run", "sweep.yaml", "--db", "other.db", "--report", "o.html"]) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and (tmp_path / "o.html").exists() and (tmp_path / "o-lr.png").exists()


def test_the_report_uses_the_configs_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.yaml").write_text(SWEEP + "target: 123.5\n")
    assert main(["bench", "run", "sweep.yaml", "--report", "r.html", "-q"]) == 0
    assert "Time to result: test loss 123.5" in (tmp_path / "r.md").read_text()
    assert main(["bench", "report", "-o", "s.html", "--target", "77", "-q"]) == 0
    assert "Time to result: test loss 77" in (tmp_path / "s.md").read_text()  # the flag wins


def test_presets_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "presets", "--format", "json"]) == 0
    presets = json.loads(capsys.readouterr().out)
    assert len(presets) == 7 and all(set(p) == {"name", "description", "claim"} for p in presets)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SWEEP + "optimisers: [adam]\n", "unknown key 'optimisers'"),
        (SWEEP.replace("[1e-3, 1e-2]", "[]"), "`lr` is an empty grid"),
        (SWEEP.replace("[1e-3, 1e-2]", "[1e-3, -1]"), "`lr` must be > 0"),
        (SWEEP.replace("[adam, sgd]", "[adam, 'sgd(momentum=x)']"), "`optimizers`"),
        (SWEEP + "schedules: ['cosine(steps=)']\n", "`schedules`"),
    ],
)
def test_bad_configs_exit_2_naming_the_key(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    assert main(["bench", "run", str(tmp_path / "bad.yaml"), "--db", str(tmp_path / "b.db")]) == 2
    assert message in capsys.readouterr().err


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "run"]) == 2
    assert "give a CONFIG file or --preset NAME" in capsys.readouterr().err
    assert main(["bench", "run", "--preset", "warmupp"]) == 2
    assert "did you mean 'warmup'" in capsys.readouterr().err
    assert main(["bench", "report", "--db", str(tmp_path / "none.db"), "--study", "x"]) == 2
    assert "no study 'x'" in capsys.readouterr().err
