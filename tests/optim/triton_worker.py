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
from tests.optim import test_fused_distance as distance_tests

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


def _gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().max() / b.abs().max().clamp(min=1e-30)


def main() -> None:
    if os.environ.get("TRITON_INTERPRET") != "1":
        sys.exit("set TRITON_INTERPRET=1")
    from lrkit.optim import distance_triton, fused_triton

    fused_triton.BLOCK, fused_triton.SEGMENT = 16, 40
    calls = {"n": 0}

    def triton_kernels(device: torch.device) -> object:
        calls["n"] += 1
        return fused_triton

    def distance_kernels(device: torch.device) -> object:
        calls["distance"] += 1
        return distance_triton

    fused.kernels = triton_kernels  # type: ignore[assignment]
    fused.distance_kernels = distance_kernels  # type: ignore[assignment]
    calls["distance"] = 0
    results = []
    for cls, kw in fused_cpu_tests.CASES:
        for dtype in (torch.float64, torch.float32):
            want = trajectory(cls, kw, "reference", dtype)
            got = trajectory(cls, kw, "fused", dtype)
            gap = max(
                float(_gap(a, b))
                for row_a, row_b in zip(got, want, strict=True)
                for a, b in zip(row_a, row_b, strict=True)
            )
            results.append({"case": f"{cls.__name__}{kw}", "dtype": str(dtype), "gap": gap})
    distance = []  # Prodigy, D-Adaptation: the last params' gap, and d's
    for cls, kw in distance_tests.CASES:
        for dtype in (torch.float64, torch.float32):
            want, d_want = distance_tests.quadratic(cls, kw, "reference", dtype, STEPS, SHAPES)
            got, d_got = distance_tests.quadratic(cls, kw, "fused", dtype, STEPS, SHAPES)
            gap = max(float(_gap(a, b)) for a, b in zip(got[-1], want[-1], strict=True))
            d_gap = abs(d_got - d_want) / d_want
            distance.append({"case": f"{cls.__name__}{kw}", "dtype": str(dtype), "gap": gap,
                             "d_gap": d_gap})  # fmt: skip
    # how many tensors the (nearly orthogonal) first gradients make AdamP project
    probe = fused_cpu_tests.make(torch.float64, SHAPES, CHANNELS_LAST)
    grads = fused_cpu_tests.make_grads_like(probe, 1, 2, CHANNELS_LAST)[0]
    projected = sum(
        bool(projection(p.detach(), g, g.clone(), 0.1, 1e-8)[1])
        for p, g in zip(probe, grads, strict=True)
        if p.dim() > 1
    )
    report = {"calls": calls["n"], "projected": projected, "results": results}
    report |= {"distance_calls": calls["distance"], "distance": distance}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
