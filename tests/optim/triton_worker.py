"""Run lrkit's Triton kernels on the CPU under Triton's interpreter (Note [fused
triton]) and print, as JSON, each case's largest relative gap to the reference path.

    TRITON_INTERPRET=1 python -m tests.optim.triton_worker

The interpreter must be chosen before triton is imported, hence a process of its own.
"""

from __future__ import annotations

import json
import os
import sys

import torch
from tests.optim import test_fused_cpu as fused_cpu_tests

from lrkit.optim import fused
from lrkit.optim.adamp import projection

# few rows (the interpreter runs one program per row segment, one after another):
# a scalar, 7 elements, a matrix, a conv kernel, the same in channels_last, and rows
# longer than BLOCK and than SEGMENT (both shrunk in main) so that loops and segments repeat
SHAPES = [(), (7,), (5, 3), (4, 2, 3, 3), (4, 2, 3, 3), (2, 75)]
CHANNELS_LAST = 4
STEPS = 4


def trajectory(cls: type, kw: dict, impl: str, dtype: torch.dtype) -> list[list[torch.Tensor]]:
    return fused_cpu_tests.trajectory(cls, kw, impl, dtype, SHAPES, CHANNELS_LAST, STEPS, 2)


def main() -> None:
    if os.environ.get("TRITON_INTERPRET") != "1":
        sys.exit("set TRITON_INTERPRET=1")
    from lrkit.optim import fused_triton

    fused_triton.BLOCK, fused_triton.SEGMENT = 16, 40
    calls = {"n": 0}

    def triton_kernels(device: torch.device) -> object:
        calls["n"] += 1
        return fused_triton

    fused.kernels = triton_kernels  # type: ignore[assignment]
    results = []
    for cls, kw in fused_cpu_tests.CASES:
        for dtype in (torch.float64, torch.float32):
            want = trajectory(cls, kw, "reference", dtype)
            got = trajectory(cls, kw, "fused", dtype)
            gap = max(
                float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))
                for row_a, row_b in zip(got, want, strict=True)
                for a, b in zip(row_a, row_b, strict=True)
            )
            results.append({"case": f"{cls.__name__}{kw}", "dtype": str(dtype), "gap": gap})
    # how many tensors the (nearly orthogonal) first gradients make AdamP project
    probe = fused_cpu_tests.make(torch.float64, SHAPES, CHANNELS_LAST)
    grads = fused_cpu_tests.make_grads_like(probe, 1, 2, CHANNELS_LAST)[0]
    projected = sum(
        bool(projection(p.detach(), g, g.clone(), 0.1, 1e-8)[1])
        for p, g in zip(probe, grads, strict=True)
        if p.dim() > 1
    )
    print(json.dumps({"calls": calls["n"], "projected": projected, "results": results}))


if __name__ == "__main__":
    main()
