"""DDP and FSDP2 on 2 CPU ranks (gloo) give the parameters of one process; DCP resumes exactly.

The work happens in ``worker.py`` under ``torchrun`` (one process group per
mode); these tests compare what it saved. Tolerance per tensor:
``max |distributed - single| <= tol * max |single|``, tol 1e-9 in float64 and
1e-5 in float32 (the ranks sum gradients in another order, and Adam-type
updates amplify float32 rounding of near-zero gradients).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests.distributed import worker

dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is needed", allow_module_level=True)

WORKER = Path(worker.__file__)
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-5}


def _launch(mode: str, out: Path) -> dict:
    ranks = [] if mode == "single" else ["-m", "torch.distributed.run", "--nproc-per-node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parents[2])}
    done = subprocess.run(
        [sys.executable, *ranks, str(WORKER), mode, str(out)],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out / f"{mode}.pt")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("distributed")
    return {mode: _launch(mode, out) for mode in ("single", "ddp", "fsdp", "resume")}


CASES = worker.cases()


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
@pytest.mark.parametrize("case", CASES, ids=[worker.key(*c) for c in CASES])
def test_same_parameters_as_one_process(runs, mode: str, case) -> None:
    name = worker.key(*case)
    single, distributed = runs["single"][name], runs[mode][name]
    assert not isinstance(distributed, str), distributed  # the error it raised
    assert not isinstance(single, str), single
    assert (
        set(distributed)
        == set(single)
        == ({"train", "eval"} if "schedulefree" in name else {"train"})
    )
    tol = TOLERANCE[case[3]]
    if case[0] == "muon" and case[3] == torch.float32:
        # Newton-Schulz runs in bfloat16 (as torch's): a gradient that differs in
        # float32's last bit (the ranks sum in another order) can round to another
        # bfloat16 value, and 20 steps carry that on: within bfloat16's epsilon (7.8e-3)
        # twice over. In float64 the gradients agree to 1e-16 and so does Muon (1e-9).
        tol = 2 * torch.finfo(torch.bfloat16).eps
    for part in single:  # train-mode weights, and schedule-free's eval-mode weights
        for i, (a, b) in enumerate(zip(single[part], distributed[part])):
            assert a.dtype == b.dtype == case[3] and a.shape == b.shape
            gap = float((a - b).abs().max() / a.abs().max())
            assert gap <= tol, f"{part} parameter {i}: {gap:.2e} > {tol:g}"


RESUMED = [c for c in CASES if c[1] == "auto" and c[2] is None]  # the resume runs under FSDP2


@pytest.mark.parametrize("case", RESUMED, ids=[worker.key(*c) for c in RESUMED])
def test_dcp_checkpoint_resumes_bit_exact(runs, case) -> None:
    name = worker.key(*case)
    resumed, straight = runs["resume"][name], runs["fsdp"][name]
    assert not isinstance(resumed, str), resumed
    for part in straight:
        for a, b in zip(straight[part], resumed[part]):
            assert torch.equal(a, b)


def test_each_rank_resumes_its_own_random_generators(runs) -> None:
    per_rank = runs["resume"]["rng"]
    assert len(per_rank) == 2
    for draws in per_rank:
        assert draws[:3] == draws[3:]  # torch, NumPy and Python, restored on this rank
    assert per_rank[0][:3] != per_rank[1][:3]  # and each rank has its own
