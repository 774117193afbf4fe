"""NAdam: resume keeps mu_product in float32 (torch's load casts it), bad input named."""

from __future__ import annotations

import io

import pytest
import torch
from tests.optim.trajectory import run

import lrkit.optim as lo


def _steps(opt: torch.optim.Optimizer, w: torch.Tensor, grads: list[torch.Tensor]) -> None:
    run(lambda ps: opt, [w], [[g] for g in grads])


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("impl", ["reference", "foreach"])
def test_a_resumed_run_is_bit_identical(dtype: torch.dtype, impl: str) -> None:
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(64, 3, generator=gen).to(dtype) for _ in range(30)]
    start = torch.randn(64, 3, generator=gen).to(dtype)
    kw = dict(lr=1e-2, momentum_decay=0.02, weight_decay=0.01, decoupled_weight_decay=True)
    w = start.clone().requires_grad_()
    whole = lo.NAdam([w], impl=impl, **kw)
    _steps(whole, w, grads)
    v = start.clone().requires_grad_()
    first = lo.NAdam([v], impl=impl, **kw)
    _steps(first, v, grads[:13])
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = lo.NAdam([v], impl=impl, **kw)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    (state,) = resumed.state.values()
    assert state["mu_product"].dtype == torch.float32 and state["mu_product"].device.type == "cpu"
    _steps(resumed, v, grads[13:])
    assert torch.equal(v, w)
    assert torch.equal(state["mu_product"], whole.state[w]["mu_product"])


def test_torch_state_dicts_load_and_mu_product_is_checked() -> None:
    w = torch.zeros(3, requires_grad=True)
    peer = torch.optim.NAdam([w], lr=0.1)
    w.grad = torch.ones(3)
    peer.step()
    ours = lo.NAdam([w], lr=0.1)
    ours.load_state_dict(peer.state_dict())
    assert float(ours.state[w]["mu_product"]) == float(peer.state[w]["mu_product"])
    bad = peer.state_dict()
    bad["state"][0]["mu_product"] = torch.tensor(float("nan"))
    with pytest.raises(ValueError, match="'mu_product' of parameter 0 must be one finite number"):
        lo.NAdam([w], lr=0.1).load_state_dict(bad)
    bad["state"][0]["mu_product"] = torch.ones(2)
    with pytest.raises(ValueError, match="'mu_product' of parameter 0 must be one finite number"):
        lo.NAdam([w], lr=0.1).load_state_dict(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"momentum_decay": -1.0}, "NAdam: `momentum_decay` must be"),
        ({"betas": (0.9, 1.5)}, "NAdam: `betas"),
        ({"eps": 0.0}, "NAdam: `eps` must be"),
        ({"capturable": True}, "capturable"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        lo.NAdam([torch.zeros(2, requires_grad=True)], **kwargs)
