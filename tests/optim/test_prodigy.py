"""Prodigy: the step size d lives in the param groups; prodigyopt's state dicts; bad input."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from tests.optim.trajectory import assert_same, clone_params, make_grads, run

import lrkit.optim as lo

prodigyopt = pytest.importorskip("prodigyopt")


def test_d_grows_from_d0_and_trains_a_quadratic_without_an_lr() -> None:
    torch.manual_seed(0)
    target = torch.randn(50, 20)
    w = torch.zeros(50, 20, requires_grad=True)
    opt = lo.Prodigy([w])  # lr=1: no learning rate to choose
    ds, losses = [], []
    for _ in range(200):
        opt.zero_grad()
        loss = ((w - target) ** 2).sum()
        loss.backward()
        opt.step()
        ds.append(opt.param_groups[0]["d"])
        losses.append(loss.item())
    # d0 = 1e-6; the first step has x = x0, so the estimate starts with the second
    assert ds[0] == 1e-6 and ds[1] > 1e-6 and ds[-1] > 1e3 * 1e-6
    assert all(b >= a for a, b in itertools.pairwise(ds))  # never shrinks (growth_rate inf)
    assert losses[-1] < 1e-2 * losses[0]
    assert {"d", "d0", "d_max", "d_numerator", "d_denom", "d_hat", "k"} <= set(opt.param_groups[0])


@pytest.mark.parametrize("direction", ["prodigyopt_to_lrkit", "lrkit_to_prodigyopt"])
def test_state_dicts_move_between_prodigyopt_and_lrkit(direction: str) -> None:
    start = [torch.randn(6, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64)]
    grads = make_grads(3, start, 12)
    first, then = prodigyopt.Prodigy, lo.Prodigy
    if direction == "lrkit_to_prodigyopt":
        first, then = then, first
    a = [p.clone().requires_grad_() for p in start]
    opt = first(a, weight_decay=0.01, use_bias_correction=True)
    run(lambda ps: opt, a, grads[:6])
    b = [p.detach().clone().requires_grad_() for p in a]
    opt_b = then(b, weight_decay=0.01, use_bias_correction=True)
    opt_b.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert opt_b.param_groups[0]["d"] == opt.param_groups[0]["d"]
    assert_same(
        run(lambda ps: opt_b, b, grads[6:]), run(lambda ps: opt, a, grads[6:]), torch.float64
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"growth_rate": 0.5}, "`growth_rate` must be a number >= 1"),
        ({"d0": 0.0}, "`d0` must be"),
        ({"slice_p": 0}, "`slice_p` must be"),
        ({"betas": (0.9, 1.0)}, r"`betas\[1\]` must be"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lo.Prodigy([torch.zeros(2, requires_grad=True)], **kwargs)


def test_groups_differ_in_lr_only_by_zero() -> None:
    a, b, c = (torch.ones(2, requires_grad=True) for _ in range(3))
    opt = lo.Prodigy([{"params": [a]}, {"params": [b], "lr": 0.0}, {"params": [c], "lr": 0.5}])
    for p in (a, b, c):
        p.grad = torch.ones(2)
    with pytest.raises(RuntimeError, match="param groups may differ in lr only by 0"):
        opt.step()
    frozen = lo.Prodigy([{"params": [a]}, {"params": [b], "lr": 0.0}])
    frozen.step()
    assert torch.equal(b, torch.ones(2)) and not torch.equal(a, torch.ones(2))


@pytest.mark.parametrize("beta1", [0.9, 0.0])
def test_foreach_cuts_tensors_for_the_cache_and_matches_prodigyopt(
    beta1: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [cache batches]: with slice_p=1 both passes cut tensors into chunks whose
    dots and norms add up to the tensors' (a zero tensor keeps prodigyopt's 0-d p0)."""
    from lrkit.optim import layout

    torch.manual_seed(0)
    start = [torch.randn(9, 5, dtype=torch.float64), torch.zeros(30, dtype=torch.float64)]
    start.append(torch.randn(4, dtype=torch.float64))
    grads = make_grads(5, start, 40)
    monkeypatch.setattr(layout, "CPU_BATCH", 8)
    options = dict(betas=(beta1, 0.99), weight_decay=0.01, use_bias_correction=True)
    got = run(lambda ps: lo.Prodigy(ps, impl="foreach", **options), clone_params(start), grads)
    want = run(lambda ps: prodigyopt.Prodigy(ps, **options), clone_params(start), grads)
    assert_same(got, want, torch.float64)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("decouple", [True, False], ids=["decoupled", "coupled"])
@pytest.mark.parametrize("impl", ["reference", "foreach"])
def test_skipped_steps_and_frozen_groups_move_the_moments_as_prodigyopt(
    impl: str, decouple: bool, dtype: torch.dtype
) -> None:
    """Note [moments in pass 2]: with slice_p=2 and the sliced elements' gradients zero,
    ``|s|_1`` is 0 and prodigyopt skips the update, but its moments take the other
    elements' gradients (a coupled decay makes those gradients nonzero: no skip); a
    frozen group (lr 0) keeps its moments and still steps. A transposed weight takes the
    foreach ops, the other tensors torch's Adam kernel."""
    gen = torch.Generator().manual_seed(3)
    shapes = [(4, 6), (3, 5), (7,), (2, 3)]
    start = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes]
    start[1] = start[1].t()
    grads = make_grads(6, start, 14)
    for row in grads[:4]:
        for g in row:
            g.view(-1)[::2] = 0.0  # the sliced elements: s stays 0, no update

    def make(cls: type, **kw: object) -> object:
        return lambda ps: cls(
            [{"params": ps[:3]}, {"params": ps[3:], "lr": 0.0}],
            slice_p=2, weight_decay=0.1, decouple=decouple, use_bias_correction=True, **kw,
        )  # fmt: skip

    steps: list[float] = []
    got = run(
        make(lo.Prodigy, impl=impl),
        clone_params(start),
        grads,
        every=lambda opt, t: steps.append(opt.param_groups[0]["k"]),
    )
    want = run(make(prodigyopt.Prodigy), clone_params(start), grads)
    if decouple:  # four skipped steps, then steps
        assert steps[:5] == [0] * 5 and steps[-1] == 9
        assert torch.equal(got[3][0], start[0]) and not torch.equal(got[-1][0], start[0])
    # the frozen group's m stays 0: only a decoupled decay moves it
    assert torch.equal(got[-1][3], start[3]) is not decouple
    assert_same(got, want, dtype)


@pytest.mark.parametrize(
    ("impl", "beta1"), [("foreach", 0.9), ("foreach", 0.0), ("reference", 0.9)]
)
def test_torch_adam_kernel_takes_the_contiguous_float_tensors_of_the_foreach_path(
    impl: str, beta1: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [moments in pass 2]: torch's fused Adam kernel walks raw memory, so it gets
    the contiguous float32/float64 CPU tensors with ``m`` and no other."""
    seen: list[torch.Tensor] = []
    kernel = torch._fused_adamw_

    def spy(params: list[torch.Tensor], *args: object, **kw: object) -> None:
        seen.extend(params)
        kernel(params, *args, **kw)

    monkeypatch.setattr(torch, "_fused_adamw_", spy)
    shapes = [(4, 6), (5, 3), (7,), (3,)]
    params = [torch.randn(s, dtype=torch.float64) for s in shapes]
    params[1] = params[1].t()  # transposed
    params[2] = params[2].float()
    params[3] = params[3].half()
    params = [p.requires_grad_() for p in params]
    opt = lo.Prodigy(params, impl=impl, betas=(beta1, 0.99), weight_decay=0.1)
    for _ in range(2):
        for p in params:
            p.grad = torch.randn_like(p)
        opt.step()
    taken = {p.data_ptr() for p in seen}
    want = {params[0].data_ptr(), params[2].data_ptr()} if impl == "foreach" and beta1 else set()
    assert taken == want
