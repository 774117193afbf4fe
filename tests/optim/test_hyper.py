"""Note [torch keywords] and Note [tensor hyperparameters]: swapping
``torch.optim`` for ``lrkit.optim`` is one import line; ``impl`` and
``max_grad_norm`` live in the param groups like every other option."""

from __future__ import annotations

import copy
import inspect
from typing import Any

import pytest
import torch
from tests.optim.test_contract import NAMES, OPTIONS, build

import lrkit.optim as lo
from lrkit import ScheduledLR
from lrkit.optim.base import REGISTRY
from lrkit.schedules import Linear

TORCH_PAIRS = [
    (torch.optim.SGD, lo.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (torch.optim.Adagrad, lo.Adagrad, dict(lr=0.1)),
    (torch.optim.RMSprop, lo.RMSprop, dict(lr=0.01, centered=True)),
    (torch.optim.Adam, lo.Adam, dict(lr=0.1, amsgrad=True)),
    (torch.optim.AdamW, lo.AdamW, dict(lr=0.1)),
    (torch.optim.RAdam, lo.RAdam, dict(lr=0.1)),
]


def _run(cls: type, steps: int = 6, **kw: Any) -> torch.Tensor:
    p = torch.nn.Parameter(torch.linspace(-1, 1, 7, dtype=torch.float64))
    opt = cls([p], **kw)
    for i in range(steps):
        p.grad = torch.sin(torch.arange(7.0, dtype=torch.float64) * (i + 1))
        opt.step()
    return p.detach()


@pytest.mark.parametrize(
    "theirs, ours, kw", TORCH_PAIRS, ids=[t.__name__ for t, _, _ in TORCH_PAIRS]
)
@pytest.mark.parametrize(
    "keywords",
    [
        dict(foreach=False),
        dict(foreach=True),
        dict(foreach=None, fused=None, capturable=False, differentiable=False),
    ],
)
def test_torchs_keywords_run_unchanged(theirs: type, ours: type, kw: dict, keywords: dict) -> None:
    accepted = inspect.signature(theirs).parameters
    keywords = {k: v for k, v in keywords.items() if k in accepted}  # SGD has no capturable
    want, got = _run(theirs, **kw, **keywords), _run(ours, **kw, **keywords)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "keywords, impl",
    [
        (dict(fused=True), "fused"),
        (dict(foreach=True), "foreach"),
        (dict(foreach=False), "reference"),
        (dict(fused=False), "foreach"),
        (dict(foreach=None, fused=None), "auto"),
    ],
)
def test_torchs_keywords_choose_the_impl(keywords: dict, impl: str) -> None:
    opt = lo.Adam([torch.zeros(3, requires_grad=True)], **keywords)
    assert opt.param_groups[0]["impl"] == impl == opt.impl


@pytest.mark.parametrize(
    "keywords, exc, message",
    [
        (
            dict(foreach=True, fused=True),
            ValueError,
            r"`fused` and `foreach` cannot be `True` together",
        ),
        (dict(capturable=True), ValueError, r"`capturable=True` is not supported"),
        (dict(differentiable=True), ValueError, r"`differentiable=True` is not supported"),
        (
            dict(impl="reference", fused=True),
            ValueError,
            r"`impl='reference'` and `fused=True` disagree",
        ),
        (dict(foreach="yes"), TypeError, r"`foreach` must be a bool"),
        (
            dict(fusde=True),
            TypeError,
            r"got an unexpected keyword argument 'fusde' \(did you mean 'fused'\?\)",
        ),
    ],
)
def test_unsupported_or_contradictory_keywords_are_named(
    keywords: dict, exc: type, message: str
) -> None:
    with pytest.raises(exc, match=message):
        lo.Adam([torch.zeros(3, requires_grad=True)], **keywords)


@pytest.mark.parametrize("name", NAMES)
def test_every_optimizer_takes_torchs_keywords(name: str) -> None:
    opt = build(name, [torch.zeros(3, requires_grad=True)], foreach=True, capturable=False)
    assert opt.param_groups[0]["impl"] == "foreach"


@pytest.mark.parametrize(
    "theirs, ours", [(torch.optim.Adam, lo.Adam), (torch.optim.AdamW, lo.AdamW)]
)
def test_tensor_betas_and_weight_decay_as_torch_takes_them(theirs: type, ours: type) -> None:
    def kw() -> dict[str, Any]:
        return dict(
            lr=torch.tensor(0.1, dtype=torch.float64),
            betas=(torch.tensor(0.8, dtype=torch.float64), torch.tensor(0.95, dtype=torch.float64)),
            weight_decay=torch.tensor(0.05, dtype=torch.float64),
        )

    torch.testing.assert_close(_run(ours, **kw()), _run(theirs, **kw()), rtol=1e-12, atol=1e-14)
    betas = kw()["betas"]
    opt = ours([torch.zeros(3, requires_grad=True)], betas=betas)
    assert opt.param_groups[0]["betas"][0] is betas[0]  # kept as given, filled in place below
    sched = ScheduledLR(opt, {"betas[0]": Linear(4, start=1.0, end=0.5)})
    sched.step()
    assert opt.param_groups[0]["betas"][0] is betas[0] and float(betas[0]) == pytest.approx(0.7)


def test_tensor_hyperparameters_of_more_than_one_element_are_torchs_error() -> None:
    with pytest.raises(ValueError) as theirs:
        torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError) as ours:
        lo.Adam([torch.zeros(2, requires_grad=True)], lr=torch.tensor([0.1, 0.2]))
    assert str(theirs.value) in str(ours.value)
    with pytest.raises(
        ValueError, match=r"Adam: Tensor betas\[0\] must be 1-element, got shape \[2\]"
    ):
        lo.Adam([torch.zeros(2, requires_grad=True)], betas=(torch.tensor([0.9, 0.9]), 0.99))
    with pytest.raises(ValueError, match=r"`betas\[1\]` must be a number in \[0, 1\), got 1\.5"):
        lo.Adam([torch.zeros(2, requires_grad=True)], betas=(0.9, torch.tensor(1.5)))


@pytest.mark.parametrize("name", NAMES)
def test_impl_and_max_grad_norm_are_group_options(name: str) -> None:
    opt = build(name, [torch.zeros(3, 3, requires_grad=True)], impl="reference", max_grad_norm=0.5)
    group = opt.param_groups[0]
    assert group["impl"] == "reference" and group["max_grad_norm"] == 0.5
    assert "impl: reference" in repr(opt) and "max_grad_norm: 0.5" in repr(opt)
    saved = opt.state_dict()
    assert saved["param_groups"][0]["impl"] == "reference"
    fresh = build(name, [torch.zeros(3, 3, requires_grad=True)])
    fresh.load_state_dict(copy.deepcopy(saved))
    assert fresh.param_groups[0]["max_grad_norm"] == 0.5 and fresh.max_grad_norm == 0.5
    with pytest.raises(
        ValueError, match=r"`max_grad_norm` clips the norm of all gradients together"
    ):
        fresh.add_param_group(
            {"params": [torch.zeros(2, 2, requires_grad=True)], "max_grad_norm": 2.0}
        )
    torch_sd = copy.deepcopy(saved)
    for g in torch_sd["param_groups"]:  # a state dict written before the options existed
        del g["impl"], g["max_grad_norm"]
    fresh.load_state_dict(torch_sd)
    assert fresh.param_groups[0]["impl"] == "reference"  # kept from before


def test_a_group_may_run_another_impl() -> None:
    a, b = torch.nn.Parameter(torch.ones(4)), torch.nn.Parameter(torch.ones(4))
    opt = lo.Adam([{"params": [a]}, {"params": [b], "impl": "reference"}], lr=0.1)
    assert [g["impl"] for g in opt.param_groups] == ["auto", "reference"]
    a.grad, b.grad = torch.ones(4), torch.ones(4)
    opt.step()
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match=r"`impl` must be one of"):
        lo.Adam([{"params": [a], "impl": "fast"}])


def test_radam_official_says_its_decay_is_decoupled() -> None:
    opt = lo.RAdam([torch.zeros(2, requires_grad=True)], variant="official")
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert "decoupled_weight_decay: True" in repr(opt)
    assert (
        lo.RAdam([torch.zeros(2, requires_grad=True)]).param_groups[0]["decoupled_weight_decay"]
        is False
    )
    assert REGISTRY["radam"].cls is lo.RAdam and OPTIONS["radam"]
