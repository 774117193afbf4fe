"""impl="fused" for Prodigy and D-Adaptation: the C++ kernels of csrc/distance_cpu.cpp
(Note [fused cpu], Note [distance estimation]). Their Triton versions run these cases
under Triton's interpreter in tests/optim/test_fused_triton.py."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from tests.optim.test_fused_cpu import CHANNELS_LAST, SHAPES, make
from tests.optim.trajectory import assert_same

import lrkit.optim as lo
from lrkit.optim import fused_cpu

pytestmark = pytest.mark.skipif(
    fused_cpu.compiler_problem() is not None,
    reason=f"fused CPU kernels: {fused_cpu.compiler_problem()}",
)

CASES: list[tuple[type[lo.Optimizer], dict[str, Any]]] = [
    (lo.Prodigy, dict(weight_decay=0.01)),
    (lo.Prodigy, dict(betas=(0.0, 0.99), weight_decay=0.1, decouple=False, maximize=True)),
    (lo.Prodigy, dict(use_bias_correction=True, safeguard_warmup=True, max_grad_norm=0.5)),
    (lo.DAdaptAdam, dict(weight_decay=0.01, decouple=True, use_bias_correction=True)),
    (lo.DAdaptAdam, dict(weight_decay=0.01, betas=(0.5, 0.9), maximize=True)),
    (lo.DAdaptSGD, dict(momentum=0.9, weight_decay=0.01)),
    (lo.DAdaptSGD, dict(max_grad_norm=0.3)),
]
ZERO = 2  # the (7,) param starts at zero: Prodigy keeps a 0-d p0 for it


def quadratic(
    cls: type[lo.Optimizer],
    kw: dict[str, Any],
    impl: str,
    dtype: torch.dtype,
    steps: int = 25,
    shapes: list[tuple[int, ...]] = SHAPES,
) -> tuple[list[list[torch.Tensor]], float]:
    """Steps on ``0.5 |p - target|^2`` plus seeded noise (negated under ``maximize``), so
    that ``d`` grows; the params after every step, and the last ``d``."""
    params = make(dtype, shapes, CHANNELS_LAST if len(shapes) > CHANNELS_LAST else -1)
    with torch.no_grad():
        params[ZERO].zero_()
    gen = torch.Generator().manual_seed(1)
    targets = [torch.randn(p.shape, generator=gen, dtype=dtype) for p in params]
    opt = cls(params, impl=impl, **kw)
    history = []
    for _ in range(steps):
        for p, t in zip(params, targets, strict=True):
            noise = torch.randn(p.shape, generator=gen, dtype=dtype)
            g = ((p.detach() - t) + 0.1 * noise) * (-1 if kw.get("maximize") else 1)
            p.grad = g.contiguous(memory_format=torch.channels_last) if g.dim() == 4 else g
        opt.step()
        history.append([p.detach().clone() for p in params])
    return history, opt.param_groups[0]["d"]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize(("cls", "kw"), CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_fused_equals_reference_while_d_grows(
    cls: type[lo.Optimizer], kw: dict[str, Any], dtype: torch.dtype
) -> None:
    want, d_want = quadratic(cls, kw, "reference", dtype)
    got, d_got = quadratic(cls, kw, "fused", dtype)
    assert d_want > 2 * 1e-6  # the sums moved d (from d0 = 1e-6), so they are checked
    assert d_got == pytest.approx(d_want, rel=1e-12 if dtype == torch.float64 else 1e-4)
    if dtype == torch.float32:  # the sums add up in another order (and in double here),
        for a, b in zip(got[-1], want[-1], strict=True):  # and Adam's m / sqrt(v) amplifies
            assert (a - b).norm() <= 1e-4 * b.norm() + 1e-6  # that where g is near 0
    else:
        assert_same(got, want, dtype)


def test_tensors_the_kernels_do_not_take_run_foreach_in_the_same_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prodigy's kernels read s and p0 in p's element order: a transposed param (and every
    param under slice_p > 1) runs foreach, and the sums still add up to the reference's."""
    paths: list[tuple[str, int]] = []
    sums = lo.Prodigy._sums

    def spy(self: Any, group: Any, params: Any, *rest: Any) -> Any:
        paths.append((rest[-1], len(params)))
        return sums(self, group, params, *rest)

    monkeypatch.setattr(lo.Prodigy, "_sums", spy)
    shapes = [(6, 5), (5, 6), (4,)]
    transposed = {1}

    def run(impl: str, slice_p: int) -> list[list[torch.Tensor]]:
        gen = torch.Generator().manual_seed(2)
        params = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
        params = [p.t() if i in transposed else p for i, p in enumerate(params)]
        params = [p.requires_grad_() for p in params]
        opt = lo.Prodigy(params, impl=impl, slice_p=slice_p, weight_decay=0.01)
        history = []
        for _ in range(8):
            for p in params:
                p.grad = (p.detach() - 1.0) + 0.1 * torch.randn(p.shape, generator=gen).to(p)
            opt.step()
            history.append([p.detach().clone() for p in params])
        return history

    for slice_p in (1, 3):
        want = run("reference", slice_p)
        paths.clear()
        assert_same(run("fused", slice_p), want, torch.float64)
        expected = [("fused", 2), ("foreach", 1)] if slice_p == 1 else [("foreach", 3)]
        assert set(paths) == set(expected) and len(paths) == 8 * len(expected)


def test_fused_runs_on_cpu_and_cuda_and_is_named_in_the_error_of_the_others() -> None:
    """C++ on the CPU, Triton on CUDA (distance_triton; tests/optim/test_fused_triton.py)."""
    assert all(c.fused_on("cpu") and c.fused_on("cuda") for c, _ in CASES)
    with pytest.raises(ValueError, match=r"DAdaptSGD, Lamb, Prodigy and SGDP \(lrkit's kernels\)"):
        lo.RAdam([torch.zeros(2, requires_grad=True)], impl="fused")
    opt = lo.Prodigy([torch.zeros(2, requires_grad=True)], impl="fused")
    assert not opt._step_supports_amp_scaling  # GradScaler unscales before the step


@pytest.mark.parametrize(("cls", "kw"), CASES[::3], ids=lambda x: getattr(x, "__name__", ""))
def test_auto_runs_the_kernels_once_they_are_built(
    cls: type[lo.Optimizer], kw: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [auto fused], as for AdamP: decided when the optimizer is made, bit for bit."""
    fused_cpu.kernels()
    monkeypatch.setattr(fused_cpu, "built", lambda: True)
    auto, _ = quadratic(cls, kw, "auto", torch.float64, steps=6)
    fused, _ = quadratic(cls, kw, "fused", torch.float64, steps=6)
    assert all(torch.equal(a, b) for x, y in zip(auto, fused) for a, b in zip(x, y))
    assert "lrkit's CPU kernels are built" in cls([torch.zeros(2, requires_grad=True)]).explain()
    monkeypatch.setattr(fused_cpu, "built", lambda: False)
    auto, _ = quadratic(cls, kw, "auto", torch.float64, steps=6)
    foreach, _ = quadratic(cls, kw, "foreach", torch.float64, steps=6)
    assert all(torch.equal(a, b) for x, y in zip(auto, foreach) for a, b in zip(x, y))


def test_results_do_not_depend_on_the_thread_count() -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one, _ = quadratic(lo.Prodigy, CASES[0][1], "fused", torch.float32, steps=5)
        torch.set_num_threads(2)
        two, _ = quadratic(lo.Prodigy, CASES[0][1], "fused", torch.float32, steps=5)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(one[-1], two[-1], strict=True))


def test_the_kernels_sums_are_the_inner_products_and_norms() -> None:
    gen = torch.Generator().manual_seed(5)
    p, g, p0 = (torch.randn(40, 1000, generator=gen, dtype=torch.float64) for _ in range(3))
    m, v, s = (torch.randn(40, 1000, generator=gen, dtype=torch.float64).abs() for _ in range(3))
    kernels = fused_cpu.kernels()
    m1, v1, s1 = m.clone(), v.clone(), s.flatten().clone()
    sums = kernels.prodigy_phase1(
        [p], [g], [m1], [v1], [s1], [p0.flatten()], 0.0, 0.9, 0.2, 0.99, 0.3, 0.95, 0.4
    )
    want_s = 0.95 * s + 0.4 * g
    torch.testing.assert_close(sums[:, 0], (g * (p0 - p)).sum(1), rtol=1e-12, atol=0)
    torch.testing.assert_close(sums[:, 1], want_s.abs().sum(1), rtol=1e-12, atol=0)
    torch.testing.assert_close(m1, 0.9 * m + 0.2 * g, rtol=1e-12, atol=0)
    torch.testing.assert_close(v1, 0.99 * v + 0.3 * g * g, rtol=1e-12, atol=0)
    s2 = s.clone()
    sums = kernels.dadapt_sgd_phase1([p], [g], [s2], 0.1, 0.5)  # coupled decay 0.1
    decayed = g + 0.1 * p
    torch.testing.assert_close(sums[:, 0], (decayed * s).sum(1), rtol=1e-12, atol=0)
    torch.testing.assert_close(sums[:, 1], ((s + 0.5 * decayed) ** 2).sum(1), rtol=1e-12, atol=0)
    with pytest.raises(RuntimeError, match=r"s\[0\] must be contiguous with its contiguous"):
        kernels.prodigy_phase1([p], [g], [m], [v], [s1[:-1]], [p0.flatten()], *[0.5] * 7)
