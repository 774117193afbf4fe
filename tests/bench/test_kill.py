"""A sweep killed with SIGKILL, or interrupted with Ctrl-C, and started again with the
same command finishes every configuration exactly once (Note [exactly once])."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("torch")
from lrkit.bench import load, read_config
from lrkit.bench.storage import open_storage, study_id, trials

CONFIG = """\
version: 1
study: killed
task: digits
steps: 150
eval_every: 50
optimizers: [adam, "sgd(momentum=0.9)"]
lr: [1e-3, 1e-2, 1e-1]
seeds: [0, 1]
"""


def _bench(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-c",
        # a test run started in the background (nohup, &) has SIGINT ignored, and its
        # children inherit that: give the sweep Python's Ctrl-C, as a terminal would
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'lrkit'; runpy.run_module('lrkit.cli.main', run_name='__main__')",
        "bench",
        "run",
        "sweep.yaml",
        "--db",
        "k.db",
        *args,
    ]
    return subprocess.Popen(
        command, cwd=tmp_path, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _finished(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        st = open_storage(db)
        return len(trials(st, study_id(st, "killed"), ["COMPLETE", "PRUNED", "FAIL"]))
    except Exception:  # the study is not created yet
        return 0


def _wait_until(
    ready: Callable[[], bool], child: subprocess.Popen[bytes], what: str, every: float = 0.2
) -> None:
    """Poll ``ready()`` while the sweep runs; fail if it exits or 240 s pass first."""
    end = time.monotonic() + 240
    while not ready():
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
        assert time.monotonic() < end, what
        time.sleep(every)


def _wait_for(db: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    _wait_until(lambda: _finished(db) >= count, child, "the sweep made no progress")


def _wait_for_running(db: Path, child: subprocess.Popen[bytes]) -> None:
    """Until a trial is RUNNING, so that a signal sent now lands mid-trial, not between
    two (a trial takes about a second; the poll, a few milliseconds)."""
    st = open_storage(db)

    def running() -> bool:
        return bool(trials(st, study_id(st, "killed"), ["RUNNING"]))

    _wait_until(running, child, "no trial started", every=0.02)


def _check_exactly_once(tmp_path: Path) -> list:
    rows = load(tmp_path / "k.db", "killed")
    expected = {c.key() for c in read_config(tmp_path / "sweep.yaml").configurations()}
    st = open_storage(tmp_path / "k.db")
    done = collections.Counter(
        t.user_attrs["key"] for t in trials(st, study_id(st, "killed"), ["COMPLETE", "PRUNED"])
    )
    assert set(done) == expected and set(done.values()) == {1}
    with sqlite3.connect(tmp_path / "k.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    return rows


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_finishes_each_configuration_once(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(CONFIG)
    child = _bench(tmp_path, "--workers", "2")
    _wait_for(tmp_path / "k.db", 3, child)
    os.killpg(child.pid, signal.SIGKILL)  # the coordinator and both workers, mid-trial
    child.wait()
    st = open_storage(tmp_path / "k.db")
    left = trials(st, study_id(st, "killed"), ["RUNNING", "WAITING"])
    assert left, "the kill should land while trials are queued or running"
    again = _bench(tmp_path, "--workers", "2", "--format", "json")
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    rows = _check_exactly_once(tmp_path)
    stale = [r for r in rows if r.status == "stale"]
    assert all(r.state == "FAIL" for r in stale)  # the killed ones, kept and marked


@pytest.mark.slow
def test_ctrl_c_then_rerun_finishes_each_configuration_once(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(CONFIG)
    child = _bench(tmp_path)  # one worker: the trials run in the coordinator
    _wait_for(tmp_path / "k.db", 2, child)
    _wait_for_running(tmp_path / "k.db", child)
    os.killpg(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 1 and b"interrupted" in err
    again = _bench(tmp_path)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    rows = _check_exactly_once(tmp_path)
    assert any(r.status == "stale" for r in rows)  # the interrupted trial, run again
