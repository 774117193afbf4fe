"""examples/ddp_train.py and examples/fsdp_train.py under torchrun on 2 CPU ranks (gloo):
they train, and a run stopped after an epoch resumes from its checkpoint to the same end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is needed", allow_module_level=True)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _torchrun(script: str, *args: str) -> list[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("script", ["ddp_train.py", "fsdp_train.py"])
def test_interrupted_run_resumes_to_the_same_end(tmp_path: Path, script: str) -> None:
    ckpt = str(tmp_path / "ckpt")
    first = _torchrun(script, "--epochs", "3", "--checkpoint", ckpt, "--stop-after", "0")
    assert len(first) == 1 and first[0].startswith("epoch 0:")
    second = _torchrun(script, "--epochs", "3", "--checkpoint", ckpt)
    assert second[0] == "resumed after epoch 0 (step 23)"
    assert [line.split(":")[0] for line in second[1:]] == ["epoch 1", "epoch 2"]
    accuracy = float(second[-1].rsplit("accuracy", 1)[1])
    assert accuracy > 0.9
    if script == "fsdp_train.py":  # the same numbers as a run that was never interrupted
        assert _torchrun(script, "--epochs", "3")[1:] == second[1:]
