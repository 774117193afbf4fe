"""``impl="fused"``: which kernels run a call, and which tensors they take.

lrkit's fused kernels (AdamP, SGDP, LAMB) come in two builds with one
interface: C++ on the CPU (``fused_cpu``, Note [fused cpu]) and Triton on
CUDA (``fused_triton``, Note [fused triton]); Prodigy's and D-Adaptation's
(``csrc/distance_cpu.cpp``) are C++ only. The optimizers' ``_fused``
methods and the per-tensor decisions between the two passes are shared; which
tensors the kernels take is ``optim/layout.py``'s.
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


__all__ = ["DTYPES", "kernels", "row_segments", "rows", "rows_are_blocks", "takes"]
