"""``impl="fused"``: which kernels run a call, and which tensors they take.

lrkit's fused kernels come in two builds with one interface: C++ on the CPU
(``fused_cpu``, Note [fused cpu]) and Triton on CUDA (``fused_triton``, Note
[fused triton]) for AdamP, SGDP and LAMB; ``csrc/distance_cpu.cpp`` (in the
same C++ extension) and ``distance_triton`` for Prodigy and D-Adaptation
(``distance_kernels``). The optimizers' ``_fused`` methods and the per-tensor
decisions between the two passes are shared; which tensors the kernels take
is ``optim/layout.py``'s.
"""

from __future__ import annotations

from typing import Any

import torch

from lrkit.optim.layout import DTYPES, row_segments, rows, rows_are_blocks, takes


def kernels(device: torch.device) -> Any:
    """The kernels for tensors on ``device`` (the C++ extension is built on first use)."""
    if device.type == "cuda":
        from lrkit.optim import fused_triton

        return fused_triton
    from lrkit.optim import fused_cpu

    return fused_cpu.kernels()


def runs_on(p: torch.Tensor, impl: str) -> bool:
    """Whether lrkit's kernels run ``p`` for a group's ``impl`` (Note [auto fused]): on
    the CPU, and on CUDA (Triton) only with ``impl="fused"``: ``auto`` leaves the
    CUDA kernels, not yet timed on a GPU, alone."""
    return p.device.type == "cpu" or impl == "fused"


def distance_kernels(device: torch.device) -> Any:
    """Prodigy's and D-Adaptation's kernels for tensors on ``device`` (Note [distance
    estimation]): the C++ extension's on the CPU, ``distance_triton``'s on CUDA."""
    if device.type == "cuda":
        from lrkit.optim import distance_triton

        return distance_triton
    return kernels(device)


__all__ = [
    "DTYPES",
    "distance_kernels",
    "kernels",
    "row_segments",
    "rows",
    "rows_are_blocks",
    "runs_on",
    "takes",
]
