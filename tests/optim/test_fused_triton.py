"""impl="fused" on CUDA: lrkit's Triton kernels (Note [fused triton]).

CI has no GPU: the kernels run on the CPU under Triton's interpreter in a
process of its own (tests/optim/triton_worker.py), against the reference
path. The CUDA tests run where a GPU is present and skip elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests.optim.test_fused_cpu import CASES
from tests.optim.test_fused_distance import CASES as DISTANCE_CASES
from tests.optim.trajectory import assert_same, clone_params, make_grads, run
from tests.optim.triton_worker import STEPS

import lrkit.optim as lo

ROOT = Path(__file__).resolve().parents[2]
needs_triton = pytest.mark.skipif(
    importlib.util.find_spec("triton") is None, reason="triton is not installed"
)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@needs_triton
def test_triton_kernels_match_the_reference_under_the_interpreter() -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "tests.optim.triton_worker"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["calls"] == STEPS * len(report["results"])  # Triton ran every fused step
    assert report["projected"] >= 1  # the projection is exercised, not only skipped
    assert len(report["results"]) == 2 * len(CASES)
    for r in report["results"]:
        bound = 1e-10 if r["dtype"] == "torch.float64" else 1e-5
        assert r["gap"] < bound, r
    # Prodigy, D-Adaptation (distance_triton): both passes ran in Triton every step
    assert len(report["distance"]) == 2 * len(DISTANCE_CASES)
    assert report["distance_calls"] == 2 * STEPS * len(report["distance"])
    for r in report["distance"]:
        bound = 1e-10 if r["dtype"] == "torch.float64" else 1e-5
        assert r["gap"] < bound and r["d_gap"] < bound, r


def _cuda_params(dtype: torch.dtype) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    shapes = [(), (1,), (7,), (4097,), (5, 1), (1, 100), (64, 3, 3, 3), (257, 1031), (3, 70000)]
    return [torch.randn(s, generator=gen).to("cuda", dtype).requires_grad_() for s in shapes]


@needs_cuda
@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(("cls", "kw"), CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_cuda_fused_equals_reference(cls: type[lo.Optimizer], kw: dict, dtype: torch.dtype) -> None:
    params = _cuda_params(dtype)
    grads = make_grads(0, params, 10, orthogonal_every=3)
    want = run(lambda ps: cls(ps, impl="reference", **kw), clone_params(params), grads)
    got = run(lambda ps: cls(ps, impl="fused", **kw), clone_params(params), grads)
    assert_same(got, want, dtype)


@needs_cuda
@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(("cls", "kw"), DISTANCE_CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_cuda_distance_kernels_equal_reference(
    cls: type[lo.Optimizer], kw: dict, dtype: torch.dtype
) -> None:
    """Prodigy and D-Adaptation (distance_triton), with a param that starts at zero."""
    params = _cuda_params(dtype)
    with torch.no_grad():
        params[2].zero_()  # Prodigy keeps a 0-d p0 for it
    grads = make_grads(0, params, 10, orthogonal_every=3)
    want = run(lambda ps: cls(ps, impl="reference", **kw), clone_params(params), grads)
    got = run(lambda ps: cls(ps, impl="fused", **kw), clone_params(params), grads)
    assert_same(got, want, dtype)


@needs_cuda
@needs_triton
@pytest.mark.parametrize("cls", [lo.AdamP, lo.SGDP, lo.Lamb], ids=lambda c: c.__name__)
def test_cuda_fused_bf16_stays_near_float32(cls: type[lo.Optimizer]) -> None:
    """bf16 params and state, float32 math: within 2% of a float32 run over 10 steps."""
    kw = dict(CASES[[c for c, _ in CASES].index(cls)][1])
    ref = _cuda_params(torch.float32)
    grads = make_grads(0, ref, 10, orthogonal_every=3)
    want = run(lambda ps: cls(ps, impl="reference", **kw), clone_params(ref), grads)
    half = [p.detach().bfloat16().requires_grad_() for p in ref]
    got = run(
        lambda ps: cls(ps, impl="fused", **kw),
        half,
        [[g.bfloat16() for g in row] for row in grads],
    )
    for a, b in zip(got[-1], want[-1], strict=True):
        torch.testing.assert_close(a.float(), b, rtol=2e-2, atol=2e-2)
