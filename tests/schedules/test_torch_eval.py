"""Tensor evaluation: shapes, dtypes, devices, and torch.compile(fullgraph=True).

fullgraph=True turns any host read-back (``.item()``, ``bool(tensor)``,
data-dependent Python control flow) into an error, so these tests are also
the no-host-sync check on CPU; on CUDA the sync-debug mode checks it directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrkit.schedules import Schedule, WarmupCosine

from .registry_cases import EXAMPLES, NAMES

STEPS = torch.tensor([0.0, 1.0, 9.5, 10.0, 99.0, 100.0, 101.0, 2500.0, 1e6], dtype=torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_fullgraph_capture_matches_eager(name: str) -> None:
    schedule = EXAMPLES[name]
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: schedule(t), fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(STEPS), schedule(STEPS), rtol=1e-12, atol=0)
    torch.testing.assert_close(compiled(STEPS[3]), schedule(STEPS[3]), rtol=1e-12, atol=0)


def test_inductor_compiled_schedule_does_not_recompile_as_the_step_changes() -> None:
    from torch._dynamo.utils import counters

    schedule = WarmupCosine(steps=100, warmup=10, end=0.1)
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(lambda t: schedule(t), fullgraph=True)
    for step in range(0, 120, 7):
        t = torch.tensor(float(step), dtype=torch.float64)
        assert compiled(t).item() == pytest.approx(schedule(step), rel=1e-12)
    assert counters["stats"]["unique_graphs"] == 1


def test_tensor_shapes_and_dtypes() -> None:
    s = EXAMPLES["warmup_cosine"]
    assert s(torch.arange(5)).dtype == torch.float64
    assert s(torch.arange(5, dtype=torch.int32)).dtype == torch.float64
    assert s(torch.arange(5, dtype=torch.float32)).dtype == torch.float32
    assert s(torch.arange(5, dtype=torch.bfloat16)).dtype == torch.bfloat16
    assert s(torch.tensor(3)).shape == ()
    assert s(torch.arange(6).reshape(2, 3)).shape == (2, 3)
    out = s(torch.zeros(0))
    assert out.shape == (0,)


def test_negative_tensor_steps_evaluate_as_zero() -> None:
    s: Schedule = EXAMPLES["warmup_cosine"]
    assert s(torch.tensor([-5.0], dtype=torch.float64)).item() == s(0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_evaluation_without_host_sync(name: str) -> None:
    schedule = EXAMPLES[name]
    steps = STEPS.cuda()
    schedule(steps)  # warm up: device tables of Multiplicative are built here
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = schedule(steps)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert out.device == steps.device
    np.testing.assert_allclose(out.cpu().numpy(), schedule(STEPS.numpy()), rtol=1e-12)
