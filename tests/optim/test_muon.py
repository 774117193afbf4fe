"""Muon against torch.optim.Muon, its AdamW groups, and create_optimizer's split."""

from __future__ import annotations

import copy
import random

import pytest
import torch
from tests.optim.trajectory import assert_same, run
from torch import nn

import lrkit.optim as lo
from lrkit.optim.muon import NS_COEFFICIENTS, Workspace, adjusted_lr, newton_schulz

SHAPES = [(7, 5), (5, 7), (16, 16), (1, 9), (33, 3)]  # tall, wide, square, a row, odd


@pytest.mark.parametrize("impl", ["reference", "foreach", "auto"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_torch_muon_over_50_steps(seed: int, impl: str) -> None:
    rng = random.Random(seed)
    kw = dict(
        lr=rng.uniform(1e-3, 0.05),
        weight_decay=rng.choice([0.0, 0.1, rng.uniform(0, 0.2)]),
        momentum=rng.uniform(0.8, 0.99),
        nesterov=rng.random() < 0.6,
        ns_steps=rng.choice([3, 5, 7]),
        adjust_lr_fn=rng.choice([None, "original", "match_rms_adamw", "spectral_unclamped"]),
    )
    for dtype in (torch.float64, torch.float32):
        gen = torch.Generator().manual_seed(seed)
        start = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in SHAPES]
        grads = [[torch.randn(s, generator=gen).to(dtype) for s in SHAPES] for _ in range(50)]
        ours = [p.clone().requires_grad_() for p in start]
        theirs = [p.clone().requires_grad_() for p in start]
        got = run(lambda ps: lo.Muon(ps, impl=impl, **kw), ours, grads)
        want = run(lambda ps: torch.optim.Muon(ps, **kw), theirs, grads)
        assert_same(got, want, dtype)


@pytest.mark.parametrize("direction", ["torch_to_lrkit", "lrkit_to_torch"])
def test_state_dicts_move_between_torch_and_lrkit(direction: str) -> None:
    gen = torch.Generator().manual_seed(4)
    start = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
    grads = [[torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES] for _ in range(8)]
    first, then = (torch.optim.Muon, lo.Muon)
    if direction == "lrkit_to_torch":
        first, then = then, first
    a = [p.clone().requires_grad_() for p in start]
    opt = first(a, lr=0.02)
    run(lambda ps: opt, a, grads[:4])
    b = [p.detach().clone().requires_grad_() for p in a]
    opt_b = then(b, lr=0.02)
    opt_b.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert_same(
        run(lambda ps: opt_b, b, grads[4:]), run(lambda ps: opt, a, grads[4:]), torch.float64
    )


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(11, 8)
        self.conv = nn.Conv1d(8, 8, 3, padding=1)
        self.hidden = nn.Linear(8, 16)
        self.norm = nn.LayerNorm(16)
        self.out = nn.Linear(16, 11)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.embed(x).transpose(1, 2)).transpose(1, 2)
        return self.out(self.norm(torch.relu(self.hidden(h))))


def test_create_optimizer_gives_muon_the_hidden_matrices_and_adamw_the_rest() -> None:
    torch.manual_seed(0)
    net = Net()
    opt = lo.create_optimizer(net, "muon", lr=0.02, weight_decay=0.1, adamw_lr=3e-3)
    assert isinstance(opt, lo.Muon)
    names = {id(p): n for n, p in net.named_parameters()}
    muon = sorted(names[id(p)] for g in opt.param_groups if g["use_muon"] for p in g["params"])
    adamw = sorted(names[id(p)] for g in opt.param_groups if not g["use_muon"] for p in g["params"])
    assert muon == ["hidden.weight"]
    assert adamw == sorted(set(names.values()) - {"hidden.weight"})
    for g in opt.param_groups:
        if not g["use_muon"]:
            assert g["lr"] == 3e-3 and g["betas"] == (0.9, 0.95) and g["eps"] == 1e-8
    decayed = {names[id(p)] for g in opt.param_groups if g["weight_decay"] for p in g["params"]}
    assert decayed == {"embed.weight", "conv.weight", "hidden.weight", "out.weight"}
    x = torch.randint(0, 11, (16, 12))
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x[:, :-1]).reshape(-1, 11), x[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    state = opt.state_dict()  # one state dict: Muon's momentum and AdamW's moments
    keys = {k for s in state["state"].values() for k in s}
    assert {"momentum_buffer", "exp_avg", "exp_avg_sq"} <= keys
    again = lo.create_optimizer(Net(), "muon", lr=0.02, weight_decay=0.1, adamw_lr=3e-3)
    again.load_state_dict(copy.deepcopy(state))


def test_adamw_groups_match_adamw() -> None:
    gen = torch.Generator().manual_seed(1)
    start = [torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(3, 4, generator=gen,
             dtype=torch.float64)]  # fmt: skip
    grads = [[torch.randn_like(p) for p in start] for _ in range(20)]
    ours = [p.clone().requires_grad_() for p in start]
    opt = lo.Muon([{"params": ours, "use_muon": False, "lr": 3e-3, "eps": 1e-8}],
                  weight_decay=0.05, betas=(0.9, 0.95))  # fmt: skip
    ref = [p.clone().requires_grad_() for p in start]
    want = run(
        lambda ps: torch.optim.AdamW(ps, lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05),
        ref,
        grads,
    )
    assert_same(run(lambda ps: opt, ours, grads), want, torch.float64)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ns_coefficients": (1.0, 2.0)}, "`ns_coefficients` must be three finite numbers"),
        ({"ns_steps": 100}, "`ns_steps` must be"),
        ({"adjust_lr_fn": "rms"}, "`adjust_lr_fn` must be"),
        ({"momentum": -0.1}, "`momentum` must be"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lo.Muon([torch.zeros(2, 2, requires_grad=True)], **kwargs)


def test_other_shapes_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Muon: param 1 of group 0 has shape \[4\]; Muon takes"):
        lo.Muon([torch.zeros(2, 2, requires_grad=True), torch.zeros(4, requires_grad=True)])
    with pytest.raises(ValueError, match=r"has shape \[2, 3, 3\]"):
        lo.Muon([{"params": [torch.zeros(2, 3, 3, requires_grad=True)]}])
    lo.Muon([{"params": [torch.zeros(4, requires_grad=True)], "use_muon": False}])  # AdamW


@pytest.mark.parametrize("impl", ["reference", "foreach"])
def test_bfloat16_weights_decay_and_keep_their_momentum_buffer(impl: str) -> None:
    # torch 2.14's Newton-Schulz divides a bfloat16 input in place: without nesterov that
    # is the momentum buffer; and _foreach_mul_ rounds 1 - lr * wd to bfloat16 (1.0)
    gen = torch.Generator().manual_seed(5)
    p = torch.randn(8, 5, generator=gen).bfloat16().requires_grad_()
    start = p.detach().clone()
    p.grad = torch.randn(8, 5, generator=gen).bfloat16()
    opt = lo.Muon([p], impl=impl, lr=0.02, weight_decay=0.1, nesterov=False, momentum=0.9)
    opt.step()
    expected = torch.zeros_like(p).lerp_(p.grad, 0.1)
    assert torch.equal(opt.state[p]["momentum_buffer"], expected)
    o = newton_schulz(expected, NS_COEFFICIENTS, 5, 1e-7)
    want = start.mul(1 - 0.02 * 0.1).add_(o, alpha=-adjusted_lr(0.02, None, p.shape))
    assert torch.equal(p.detach(), want)


@pytest.mark.parametrize("steps", [0, 1, 5])
def test_newton_schulz_in_one_workspace_gives_torchs_numbers(steps: int) -> None:
    # one workspace reused across shapes (its buffers hold the last matrix's numbers)
    muon = pytest.importorskip("torch.optim._muon")
    gen = torch.Generator().manual_seed(6)
    grads = [torch.randn(s, generator=gen) for s in SHAPES]
    work = Workspace(grads)
    for g in grads:
        want = muon._zeropower_via_newtonschulz(g, NS_COEFFICIENTS, steps, 1e-7)
        got = newton_schulz(g, NS_COEFFICIENTS, steps, 1e-7, work)
        assert got.shape == g.shape and got.dtype == torch.bfloat16
        assert torch.equal(got, want)
        assert torch.equal(newton_schulz(g, NS_COEFFICIENTS, steps, 1e-7), want)


@pytest.mark.parametrize("nesterov", [True, False])
def test_foreach_over_mixed_dtypes_and_shapes_is_the_reference(nesterov: bool) -> None:
    # one workspace serves the whole group: its bfloat16 iterates, and a scratch per dtype
    dtypes = [torch.float32, torch.bfloat16, torch.float64, torch.float16]
    gen = torch.Generator().manual_seed(7)
    start = [torch.randn(s, generator=gen).to(dtypes[i % 4]) for i, s in enumerate(SHAPES)]
    grads = [[torch.randn(s, generator=gen).to(p.dtype) for s, p in zip(SHAPES, start)]
             for _ in range(6)]  # fmt: skip
    kw = dict(lr=0.02, weight_decay=0.1, nesterov=nesterov)
    got = run(
        lambda ps: lo.Muon(ps, impl="foreach", **kw),
        [p.clone().requires_grad_() for p in start],
        grads,
    )
    want = run(
        lambda ps: lo.Muon(ps, impl="reference", **kw),
        [p.clone().requires_grad_() for p in start],
        grads,
    )
    for step_got, step_want in zip(got, want, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(step_got, step_want, strict=True))
