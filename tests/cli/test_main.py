"""``lrkit plot`` and ``lrkit list``: outputs and exit codes (0 ok, 2 usage)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lrkit.cli.main import main
from lrkit.schedules import WSD, list_schedules, parse


def test_plot_default_examples_to_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "default.png"
    assert main(["plot", "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert "3 schedule(s)" in capsys.readouterr().out


def test_plot_csv_is_full_precision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "wsd(steps=100, cooldown=30, shape='1-sqrt')", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["step", "value"]
    assert len(rows) == 1 + 111  # steps 0..110 by default (10% past the last phase)
    schedule = WSD(100, 30, shape="1-sqrt")
    for step, value in rows[1:]:
        assert float(value) == schedule(int(step))


def test_plot_json_several(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["plot", "cosine(steps=10)", "linear(steps=5)", "--format", "json", "--steps", "12"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert [d["spec"] for d in data] == ["cosine(steps=10)", "linear(steps=5)"]
    assert len(data[0]["values"]) == 13 and data[1]["values"][5] == 0.0


def test_plot_bad_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "cosin(steps=10)", "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'cosine'" in err and "column 1" in err and "LRKIT_DEBUG" in err
    assert main(["plot", "cosine(steps=10)", "--steps", "0", "--format", "csv"]) == 2


def test_list_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "schedules", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_schedules()
    assert all(r["description"] for r in rows)
    assert main(["list", "schedules", "--filter", "cos*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["cosine", "cosine_restarts"]


def test_console_script_and_bad_flag() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "lrkit.cli.main", "--version"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout.startswith("lrkit ")
    bad = subprocess.run(
        [sys.executable, "-m", "lrkit.cli.main", "plot", "--nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2


def test_default_specs_parse() -> None:
    from lrkit.cli.plot_cmd import DEFAULT_SPECS

    assert all(str(parse(s)) == s for s in DEFAULT_SPECS)
