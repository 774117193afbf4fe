"""impl="fused" on the CPU: lrkit's C++ kernels for AdamP, SGDP and Lamb (Note [fused cpu])."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest
import torch
from tests.optim.trajectory import assert_same, clone_params, make_grads, run

import lrkit.optim as lo
from lrkit.optim import fused, fused_cpu
from lrkit.optim.adamp import projection

pytestmark = pytest.mark.skipif(
    fused_cpu.compiler_problem() is not None,
    reason=f"fused CPU kernels: {fused_cpu.compiler_problem()}",
)

# odd sizes: a scalar, 1, 7 and 4097 elements, rows of one element, one row, a
# conv kernel, channels_last, and 40 rows of 1000 (split over several work items)
SHAPES: list[tuple[int, ...]] = [(), (1,), (7,), (4097,), (5, 1), (1, 100), (3, 5)]
SHAPES += [(16, 3, 3, 3), (8, 4, 3, 3), (40, 1000)]
CHANNELS_LAST = 8

CASES: list[tuple[type[lo.Optimizer], dict[str, Any]]] = [
    (lo.AdamP, dict(lr=1e-2, weight_decay=0.1)),
    (lo.AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True, maximize=True)),
    (lo.AdamP, dict(lr=1e-2, betas=(0.3, 0.9), delta=0.2, wd_ratio=0.3, max_grad_norm=0.5)),
    (lo.SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    (lo.SGDP, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2, maximize=True)),
    (lo.SGDP, dict(lr=0.1, momentum=0.5, dampening=0.2, max_grad_norm=0.3)),
    (lo.Lamb, dict(lr=1e-2)),
    (lo.Lamb, dict(lr=1e-2, caution=True, trust_clip=True)),
    (lo.Lamb, dict(lr=1e-2, decoupled_decay=True, weight_decay=0.1, max_grad_norm=None)),
    (lo.Lamb, dict(lr=1e-2, weight_decay=0.0, always_adapt=True, grad_averaging=False)),
    (lo.Lamb, dict(lr=1e-2, bias_correction=False, weight_decay=0.0)),
    (lo.Lamb, dict(lr=1e-2, caution=True, weight_decay=0.05, maximize=True)),
    (lo.Lamb, dict(lr=1e-2, caution=True, decoupled_decay=True, corrected_weight_decay=True)),
]


def make(
    dtype: torch.dtype,
    shapes: Sequence[tuple[int, ...]] = SHAPES,
    channels_last: int = CHANNELS_LAST,
) -> list[torch.Tensor]:
    """Seeded params of ``shapes``; the one at index ``channels_last`` in that layout."""
    gen = torch.Generator().manual_seed(0)
    out = []
    for i, shape in enumerate(shapes):
        t = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
        if i == channels_last:
            t = t.contiguous(memory_format=torch.channels_last)
        out.append(t.requires_grad_())
    return out


def make_grads_like(
    params: list[torch.Tensor], steps: int, orthogonal_every: int, channels_last: int
) -> list[list[torch.Tensor]]:
    grads = make_grads(0, params, steps, orthogonal_every=orthogonal_every)
    for row in grads:  # autograd gives a channels_last param a channels_last grad
        row[channels_last] = row[channels_last].contiguous(memory_format=torch.channels_last)
    return grads


def trajectory(
    cls: type[lo.Optimizer],
    kw: dict[str, Any],
    impl: str,
    dtype: torch.dtype,
    shapes: Sequence[tuple[int, ...]] = SHAPES,
    channels_last: int = CHANNELS_LAST,
    steps: int = 12,
    orthogonal_every: int = 3,
) -> list[list[torch.Tensor]]:
    """``steps`` updates of ``make(dtype, shapes, channels_last)`` with seeded grads, made
    nearly orthogonal to the params per row every ``orthogonal_every`` steps."""
    params = make(dtype, shapes, channels_last)
    grads = make_grads_like(params, steps, orthogonal_every, channels_last)
    return run(lambda ps: cls(ps, impl=impl, **kw), clone_params(params), grads)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize(("cls", "kw"), CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_fused_equals_reference_on_odd_shapes(
    cls: type[lo.Optimizer], kw: dict[str, Any], dtype: torch.dtype
) -> None:
    want = trajectory(cls, kw, "reference", dtype)
    got = trajectory(cls, kw, "fused", dtype)
    assert_same(got, want, dtype)


def test_the_odd_shapes_exercise_the_projection_and_the_channels_last_path() -> None:
    params = make(torch.float64)
    assert fused.takes(params[CHANNELS_LAST], params[CHANNELS_LAST].detach().clone())
    assert not params[CHANNELS_LAST].is_contiguous()
    grads = make_grads(0, params, 1, orthogonal_every=3)[0]
    applied = [
        projection(p.detach(), g, g.clone(), 0.1, 1e-8)[1]
        for p, g in zip(params, grads)
        if p.dim() > 1
    ]
    assert sum(applied) >= 3 and not all(applied)


@pytest.mark.parametrize("cls", [lo.AdamP, lo.SGDP, lo.Lamb], ids=lambda c: c.__name__)
def test_fused_results_do_not_depend_on_the_thread_count(cls: type[lo.Optimizer]) -> None:
    kw = dict(CASES[[c for c, _ in CASES].index(cls)][1])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = trajectory(cls, kw, "fused", torch.float32)
        torch.set_num_threads(2)
        two = trajectory(cls, kw, "fused", torch.float32)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one[-1], two[-1], strict=True):
        assert torch.equal(a, b)


def test_tensors_the_kernels_do_not_take_go_through_foreach_in_the_same_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gen = torch.Generator().manual_seed(3)
    plain = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    transposed = torch.randn(5, 6, generator=gen, dtype=torch.float64).t()
    other_strides = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    params = [t.requires_grad_() for t in (plain, transposed, other_strides)]
    grads = make_grads(3, params, 6)
    grads = [[g[0], g[1], g[2].t().contiguous().t()] for g in grads]  # column-major grad
    assert grads[0][2].stride() != other_strides.stride()
    seen: list[int] = []
    foreach = lo.AdamP._foreach

    def spy(self: Any, group: Any, ps: Any, *rest: Any) -> None:
        seen.extend(p.numel() for p in ps)
        foreach(self, group, ps, *rest)

    monkeypatch.setattr(lo.AdamP, "_foreach", spy)
    want = run(lambda ps: lo.AdamP(ps, lr=0.01, impl="reference"), clone_params(params), grads)
    got = run(lambda ps: lo.AdamP(ps, lr=0.01, impl="fused"), clone_params(params), grads)
    assert_same(got, want, torch.float64)
    assert sorted(set(seen)) == [12, 30] and len(seen) == 2 * 6  # never the plain (6, 5)


def test_takes_only_row_block_float_tensors_with_matching_operands() -> None:
    x = torch.randn(4, 6)
    assert fused.takes(x, torch.randn(4, 6))
    assert fused.takes(torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last))
    assert fused.takes(torch.randn(7, dtype=torch.float64))
    assert not fused.takes(x.t())  # rows are strided
    assert not fused.takes(x[:, :3])  # rows with gaps
    assert not fused.takes(torch.randn(3).expand(4, 3))
    assert not fused.takes(torch.randn(4, 6, dtype=torch.float16))
    assert not fused.takes(torch.empty(0, 3))  # nothing to fuse
    assert not fused.takes(x, torch.randn(6, 4).t())  # grad of other strides
    assert not fused.takes(x, torch.randn(4, 6, dtype=torch.float64))
    assert not fused.takes(x, None)


def test_row_sums_of_the_first_pass_are_the_dot_products() -> None:
    gen = torch.Generator().manual_seed(5)
    p, g = (torch.randn(40, 1000, generator=gen, dtype=torch.float64) for _ in range(2))
    m, v = torch.zeros_like(p), torch.zeros_like(p)
    stats = fused_cpu.kernels().adamp_phase1([p], [g], [m], [v], -2.0, 0.9, 0.99, 0.1, 1e-8, False)
    gs = -2.0 * g
    u = (0.1 * gs) / ((0.01 * gs * gs).sqrt() / 0.1 + 1e-8)
    want = torch.stack([(gs * p).sum(1), (gs * gs).sum(1), (p * p).sum(1), (p * u).sum(1)], 1)
    torch.testing.assert_close(stats, want, rtol=1e-12, atol=0)
    torch.testing.assert_close(m, 0.1 * gs, rtol=1e-15, atol=0)


def test_fused_refuses_what_it_cannot_run_at_construction() -> None:
    half = torch.zeros(3, dtype=torch.float16, requires_grad=True)
    with pytest.raises(ValueError, match=r"AdamP: `impl='fused'` on cpu takes float32 or float64"):
        lo.AdamP([half], impl="fused")
    meta = torch.zeros(3, device="meta", requires_grad=True)
    with pytest.raises(ValueError, match=r"Lamb: `impl='fused'` runs on CPU and CUDA tensors, got"):
        lo.Lamb([meta], impl="fused")
    opt = lo.SGDP([torch.zeros(3, requires_grad=True)], lr=0.1, impl="fused")
    with pytest.raises(ValueError, match=r"SGDP: `impl='fused'` on cpu takes float32"):
        opt.add_param_group({"params": [torch.zeros(2, dtype=torch.bfloat16, requires_grad=True)]})


def test_a_missing_compiler_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXX", "no-such-compiler-lrkit")
    problem = fused_cpu.compiler_problem()
    assert problem is not None and "'no-such-compiler-lrkit' is not on PATH" in problem
    with pytest.raises(RuntimeError, match=r"compiles a small C\+\+ extension, but no C\+\+"):
        fused_cpu.kernels.__wrapped__()


def _amp_run(
    cls: type[lo.Optimizer], kw: dict[str, Any], impl: str, inf_at: int
) -> tuple[list[tuple[list[torch.Tensor], dict[str, Any]]], list[float]]:
    """Six GradScaler steps on a small conv net, step ``inf_at`` with an inf gradient;
    the params and optimizer state after each step, and the scales."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 5)
    )
    opt = cls(model.parameters(), impl=impl, **kw)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 5, (16,))
    after, scales = [], []
    for t in range(6):
        opt.zero_grad()
        scaler.scale(torch.nn.functional.cross_entropy(model(x), y)).backward()
        if t == inf_at:
            model[2].bias.grad[1] = float("inf")
        scaler.step(opt)
        scaler.update()
        after.append(
            ([p.detach().clone() for p in model.parameters()], copy.deepcopy(opt.state_dict()))
        )
        scales.append(scaler.get_scale())
    return after, scales


@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        (lo.AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True)),
        (lo.SGDP, dict(lr=0.1, momentum=0.9, max_grad_norm=0.5)),
        (lo.Lamb, dict(lr=1e-2, caution=True)),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_grad_scaler_hands_its_scale_and_inf_flag_to_the_fused_step(
    cls: type[lo.Optimizer], kw: dict[str, Any]
) -> None:
    """Note [amp]: the same numbers as GradScaler's unscale-then-step path, and a step
    with an inf gradient changes nothing (params, state, step counters)."""
    opt = cls([torch.zeros(2, requires_grad=True)], impl="fused", **kw)
    assert opt._step_supports_amp_scaling
    want, want_scales = _amp_run(cls, kw, "foreach", inf_at=3)
    got, got_scales = _amp_run(cls, kw, "fused", inf_at=3)
    assert got_scales == want_scales and got_scales[3] == got_scales[2] / 2
    for (a_params, a_state), (b_params, b_state) in zip(got, want, strict=True):
        for a, b in zip(a_params, b_params, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        for i, state in b_state["state"].items():
            for key, value in state.items():
                torch.testing.assert_close(a_state["state"][i][key], value, rtol=1e-5, atol=1e-6)
    (p2, s2), (p3, s3) = got[2], got[3]  # the inf step left everything as it was
    assert all(torch.equal(a, b) for a, b in zip(p2, p3, strict=True))
    assert s2["param_groups"] == s3["param_groups"]  # incl. Lamb's group step
    for i, state in s2["state"].items():
        for key, value in state.items():
            assert torch.equal(s3["state"][i][key], value), (i, key)


@pytest.mark.parametrize(("cls", "kw"), CASES[::3], ids=lambda x: getattr(x, "__name__", ""))
def test_auto_runs_the_kernels_once_they_are_built(
    cls: type[lo.Optimizer], kw: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [auto fused]: auto is the fused path when the build is on disk (decided when
    the optimizer is made), the foreach path when it is not -- bit for bit."""
    fused_cpu.kernels()  # built (and cached) for this test

    def same(a: list[list[torch.Tensor]], b: list[list[torch.Tensor]]) -> bool:
        return all(torch.equal(x, y) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))

    monkeypatch.setattr(fused_cpu, "built", lambda: True)
    auto = trajectory(cls, kw, "auto", torch.float64)
    assert same(auto, trajectory(cls, kw, "fused", torch.float64))
    assert not same(auto, trajectory(cls, kw, "foreach", torch.float64))  # they do round apart
    monkeypatch.setattr(fused_cpu, "built", lambda: False)
    assert same(
        trajectory(cls, kw, "auto", torch.float64), trajectory(cls, kw, "foreach", torch.float64)
    )


def test_the_build_is_cached_under_the_configured_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    assert fused_cpu.build_directory().parent == tmp_path
    assert not fused_cpu.built()
