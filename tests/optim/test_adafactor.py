"""Adafactor: factored state with torch's keys and shapes, eps checked, shapes checked."""

from __future__ import annotations

import pytest
import torch

import lrkit.optim as lo


def test_state_has_torchs_keys_and_shapes() -> None:
    params = [torch.randn(2, 4, 5, requires_grad=True), torch.randn(7, requires_grad=True)]
    ours = lo.Adafactor(params)
    theirs = torch.optim.Adafactor([p.detach().clone().requires_grad_() for p in params])
    for opt, ps in ((ours, params), (theirs, theirs.param_groups[0]["params"])):
        for p in ps:
            p.grad = torch.ones_like(p)
        opt.step()
    for p, q in zip(params, theirs.param_groups[0]["params"]):
        a, b = ours.state[p], theirs.state[q]
        assert sorted(a) == sorted(b)
        assert all(a[k].shape == b[k].shape and torch.allclose(a[k], b[k]) for k in a)
    assert ours.state[params[0]]["row_var"].shape == (2, 4, 1)
    assert ours.state[params[0]]["col_var"].shape == (2, 1, 5)


def test_a_factored_moment_of_the_wrong_shape_is_refused() -> None:
    w = torch.randn(4, 3, requires_grad=True)
    opt = lo.Adafactor([w])
    w.grad = torch.ones_like(w)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["row_var"] = torch.zeros(4, 3)
    with pytest.raises(
        ValueError, match=r"'row_var' .* has shape \[4, 3\]; it must have shape \[4, 1\]"
    ):
        lo.Adafactor([w]).load_state_dict(sd)


@pytest.mark.parametrize(
    ("eps", "error", "message"),
    [
        (1e-3, TypeError, "`eps` must be a pair"),
        ((None,), ValueError, "`eps` must be a pair"),
        ((None, -1.0), ValueError, r"`eps\[1\]` must be a non-negative number"),
        ((-1.0, 1e-3), ValueError, r"`eps\[0\]` must be a non-negative number"),
        (("a", 1e-3), TypeError, r"`eps\[0\]` must be a number"),
    ],
)
def test_bad_eps_is_named(eps: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        lo.Adafactor([torch.zeros(2, requires_grad=True)], eps=eps)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"beta2_decay": 0.5}, "`beta2_decay` must be"), ({"d": 0.5}, "`d` must be")],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lo.Adafactor([torch.zeros(2, requires_grad=True)], **kwargs)
