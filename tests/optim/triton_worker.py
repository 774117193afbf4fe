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
from tests.optim.test_fused_cpu import CASES
from tests.optim.trajectory import clone_params, make_grads, run

from lrkit.optim import fused
from lrkit.optim.adamp import projection

# few rows (the interpreter runs one program per row segment, one after another):
# a scalar, 7 elements, a matrix, a conv kernel, the same in channels_last, and rows
# longer than BLOCK and than SEGMENT (both shrunk in main) so that loops and segments repeat
SHAPES = [(), (7,), (5, 3), (4, 2, 3, 3), (4, 2, 3, 3), (2, 75)]
CHANNELS_LAST = 4
STEPS = 4


def make_params(dtype: torch.dtype) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for i, shape in enumerate(SHAPES):
        t = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
        if i == CHANNELS_LAST:
            t = t.contiguous(memory_format=torch.channels_last)
        params.append(t.requires_grad_())
    return params


def make_grads_for(params: list[torch.Tensor], steps: int) -> list[list[torch.Tensor]]:
    grads = make_grads(0, params, steps, orthogonal_every=2)
    for row in grads:
        row[CHANNELS_LAST] = row[CHANNELS_LAST].contiguous(memory_format=torch.channels_last)
    return grads


def trajectory(cls: type, kw: dict, impl: str, dtype: torch.dtype) -> list[list[torch.Tensor]]:
    params = make_params(dtype)
    grads = make_grads_for(params, STEPS)
    return run(lambda ps: cls(ps, impl=impl, **kw), clone_params(params), grads)


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
    for cls, kw in CASES:
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
    probe = [p.detach() for p in make_params(torch.float64)]
    projected = sum(
        bool(projection(p, g, g.clone(), 0.1, 1e-8)[1])
        for p, g in zip(probe, make_grads_for(probe, 1)[0], strict=True)
        if p.dim() > 1
    )
    print(json.dumps({"calls": calls["n"], "projected": projected, "results": results}))


if __name__ == "__main__":
    main()
