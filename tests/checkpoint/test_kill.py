"""A save killed with SIGKILL at any moment leaves a checkpoint that loads.

Each case starts from a good ~100 MB checkpoint (every value 1.0) and a child
process (``kill_worker.py``) that saves over it with another value; the child
is killed at a point spread over the save's duration (measured first, alone).
Afterwards the folder loads and holds either the old or the new value, and
the next save cleans up. The cases run concurrently, each on its own copy of
the checkpoint, so that process start-up (importing torch) is paid once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tests.checkpoint import kill_worker

from lrkit.checkpoint import folders, load_checkpoint, save_checkpoint

WORKER = Path(kill_worker.__file__)
FRACTIONS = (0.02, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05)


def _start(folder: Path, value: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(WORKER.parents[2]), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(folder), str(value)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _values(folder: Path) -> set[float]:
    net = kill_worker.model(0.0)
    extra = load_checkpoint(folder, net, torch.optim.SGD(net.parameters(), lr=0.1))
    with torch.no_grad():
        seen = {float(f(p)) for p in net.parameters() for f in (torch.min, torch.max)}
    assert seen == {extra["value"]}, "the weights and the extras come from one save"
    return seen


@pytest.mark.slow
def test_sigkill_during_a_save_never_loses_the_checkpoint(tmp_path: Path) -> None:
    first = _start(tmp_path / "good", 1.0)
    out, err = first.communicate("go\n", timeout=300)
    assert first.returncode == 0, err
    duration = float(out.split()[-1])
    cases = []
    for i, fraction in enumerate(FRACTIONS):
        folder = tmp_path / f"ckpt{i}"
        shutil.copytree(tmp_path / "good", folder)
        cases.append((folder, fraction, _start(folder, 2.0 + i)))
    for _, _, child in cases:  # all started (torch imported) before the first kill
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
    mid_save = 0
    for folder, fraction, child in cases:  # one save at a time, as when measured
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(fraction * duration)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        mid_save += folders.staging(folder).exists() or folders.previous(folder).exists()
    for i, (folder, _, _) in enumerate(cases):
        assert _values(folder) in ({1.0}, {2.0 + i}), folder
    for folder, _, _ in cases:  # the next save recovers what a kill left, and replaces
        if folders.staging(folder).exists() or folders.previous(folder).exists():
            net = kill_worker.model(9.0)
            save_checkpoint(folder, net, torch.optim.SGD(net.parameters(), lr=0.1), value=9.0)
            assert _values(folder) == {9.0}
            assert [p.name for p in tmp_path.iterdir() if folder.name + "." in p.name] == []
    # the kills must have hit saves in progress, or this test tests nothing
    assert mid_save >= 2, f"only {mid_save} of {len(cases)} kills landed during a save"
