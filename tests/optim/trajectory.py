"""Seeded parameters, gradients and optimizer runs shared by the optim tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

# scalar, 1-D, 2-D, 4-D conv, and a non-contiguous (transposed) 2-D view
SHAPES: tuple[tuple[int, ...], ...] = ((), (7,), (5, 3), (4, 3, 3, 3), (6, 4))
NONCONTIGUOUS = 4  # index in SHAPES made non-contiguous


def make_params(seed: int, dtype: torch.dtype, complex_too: bool = False) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, shape in enumerate(SHAPES):
        if i == NONCONTIGUOUS:
            t = torch.randn(tuple(reversed(shape)), generator=gen, dtype=torch.float64).t()
        else:
            t = torch.randn(shape, generator=gen, dtype=torch.float64)
        out.append(t.to(dtype).detach().requires_grad_())
    if complex_too:
        c = torch.randn((3, 2), generator=gen, dtype=torch.complex128).to(
            torch.complex64 if dtype == torch.float32 else torch.complex128
        )
        out.append(c.detach().requires_grad_())
    assert not out[NONCONTIGUOUS].is_contiguous()
    return out


def make_grads(
    seed: int, params: Sequence[Tensor], steps: int, orthogonal_every: int = 0
) -> list[list[Tensor]]:
    """Gradients per step, never zero; every ``orthogonal_every`` steps the
    multi-dimensional ones are made (nearly) orthogonal to their parameter's
    starting value per row, as for scale-invariant weights."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    out = []
    for t in range(steps):
        row = []
        for p in params:
            g = torch.randn(
                p.shape, generator=gen, dtype=torch.complex128 if p.is_complex() else torch.float64
            )
            g = g * (0.5 + torch.rand((), generator=gen, dtype=torch.float64))
            if orthogonal_every and t % orthogonal_every == 0 and p.dim() > 1:
                pv = p.detach().double().reshape(len(p), -1)
                gv = g.reshape(len(p), -1)
                gv = gv - pv * ((gv * pv).sum(1, keepdim=True) / (pv * pv).sum(1, keepdim=True))
                g = gv.reshape(p.shape) + 1e-6 * g
            row.append(g.to(p.dtype))
        out.append(row)
    return out


def clone_params(params: Sequence[Tensor]) -> list[Tensor]:
    return [p.detach().clone().requires_grad_() for p in params]


def run(
    make_opt: Callable[[list[Tensor]], Any],
    params: list[Tensor],
    grads: list[list[Tensor]],
    *,
    negate: bool = False,
    clip: float | None = None,
    every: Callable[[Any, int], None] | None = None,
) -> list[list[Tensor]]:
    """Step ``make_opt(params)`` through ``grads``; the params after every step.

    ``negate`` feeds ``-grad`` (a peer without ``maximize``); ``clip`` calls
    ``clip_grad_norm_`` before each step (a peer without ``max_grad_norm``);
    ``every(opt, t)`` runs before step ``t``.
    """
    opt = make_opt(params)
    history = []
    for t, row in enumerate(grads):
        if every is not None:
            every(opt, t)
        for p, g in zip(params, row, strict=True):
            p.grad = -g.clone() if negate else g.clone()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        history.append([p.detach().clone() for p in params])
    return history


def assert_same(got: list[list[Tensor]], want: list[list[Tensor]], dtype: torch.dtype) -> None:
    rtol, atol = (1e-10, 1e-12) if dtype == torch.float64 else (1e-5, 1e-6)
    for t, (a, b) in enumerate(zip(got, want, strict=True)):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            torch.testing.assert_close(
                x, y, rtol=rtol, atol=atol, msg=lambda m, t=t, i=i: f"step {t}, tensor {i}: {m}"
            )
