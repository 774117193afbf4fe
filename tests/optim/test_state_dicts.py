"""Note [state validation]: a state dict is checked whole before it loads, and no
buffer of the wrong shape reaches a fused kernel; empty parameters step everywhere."""

from __future__ import annotations

import copy

import pytest
import torch
from tests.optim.test_contract import FUSED, NAMES, build, impls_of, needs_compiler

from lrkit.optim.base import REGISTRY


def _trained(name: str, impl: str = "auto", size: int = 12) -> tuple[torch.nn.Parameter, object]:
    p = torch.nn.Parameter(torch.randn(size, 3, dtype=torch.float64))
    opt = build(name, [p], impl=impl)
    for _ in range(2):
        p.grad = torch.randn_like(p)
        opt.step()
    return p, opt


def _buffer_keys(opt, p) -> list[str]:
    """The state keys that are buffers of ``p`` (Adafactor's factored ones included)."""
    shapes = opt._buffer_shapes(opt.param_groups[0], p)
    return [k for k, v in opt.state[p].items() if isinstance(v, torch.Tensor) and k in shapes]


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_shaped_buffer_is_refused_before_anything_changes(name: str) -> None:
    p, opt = _trained(name)
    sd = copy.deepcopy(opt.state_dict())  # state_dict() shares the live per-param dicts
    before = copy.deepcopy(sd)
    key = _buffer_keys(opt, p)[0]
    sd["state"][0][key] = torch.zeros(5)
    with pytest.raises(
        ValueError, match=rf"state '{key}' of parameter 0 \(shape \[12, 3\]\) has shape \[5\]"
    ):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert all(
        torch.equal(a, after["state"][0][k])
        for k, a in before["state"][0].items()
        if isinstance(a, torch.Tensor)
    )
    p.grad = torch.randn_like(p)
    opt.step()  # still usable


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("impl", ["auto", "fused"])
def test_a_buffer_edited_by_hand_never_reaches_a_fused_kernel(name: str, impl: str) -> None:
    if impl == "fused" and name not in FUSED:
        pytest.skip("no fused kernel")
    if impl == "fused" and "fused" not in impls_of(name):
        pytest.skip("no compiler for the fused CPU kernels")
    p, opt = _trained(name, impl=impl, size=4096)
    key = _buffer_keys(opt, p)[0]
    opt.state[p][key] = torch.zeros(5, dtype=torch.float64)
    p.grad = torch.randn_like(p)
    try:
        opt.step()
    except (ValueError, RuntimeError) as exc:  # foreach paths: torch's own shape error
        assert "5" in str(exc)
    else:
        pytest.fail("a step with a 5-element buffer for a 12288-element parameter went through")


@pytest.mark.parametrize("name", NAMES)
def test_missing_keys_and_bad_steps_are_named(name: str) -> None:
    p, opt = _trained(name)
    sd = copy.deepcopy(opt.state_dict())
    key = _buffer_keys(opt, p)[0]
    missing = copy.deepcopy(sd)
    del missing["state"][0][key]
    if REGISTRY[name].cls.lazy_buffers:
        opt.load_state_dict(missing)  # SGD: rebuilt on the next step, as torch does
        p.grad = torch.randn_like(p)
        opt.step()
    else:
        with pytest.raises(
            ValueError, match=rf"the state of parameter 0 \(shape \[12, 3\]\) has no '{key}'"
        ):
            opt.load_state_dict(missing)
    if "step" in sd["state"][0]:
        bad = copy.deepcopy(sd)
        bad["state"][0]["step"] = torch.tensor(float("nan"))
        with pytest.raises(
            ValueError, match=r"state 'step' of parameter 0 .* must be one finite number >= 0"
        ):
            opt.load_state_dict(bad)
    groups = copy.deepcopy(sd)
    groups["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"`lr` must be a non-negative"):
        opt.load_state_dict(groups)
    with pytest.raises(ValueError, match=r"the state dict has 2 param groups, the optimizer 1"):
        opt.load_state_dict({**sd, "param_groups": sd["param_groups"] * 2})
    with pytest.raises(TypeError, match=r"expected a dict, got list"):
        opt.load_state_dict([])  # type: ignore[arg-type]


def test_sgd_rebuilds_a_missing_momentum_buffer_as_torch_does() -> None:
    p = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    ours = REGISTRY["sgd"].cls([p], lr=0.1, momentum=0.9)
    q = torch.nn.Parameter(p.detach().clone())
    theirs = torch.optim.SGD([q], lr=0.1, momentum=0.9)
    for opt in (ours, theirs):
        sd = opt.state_dict()
        sd["state"] = {0: {"momentum_buffer": None}}
        opt.load_state_dict(sd)
    for _ in range(3):
        g = torch.randn(4, dtype=torch.float64)
        p.grad, q.grad = g.clone(), g.clone()
        ours.step()
        theirs.step()
    assert torch.equal(p, q)


@pytest.mark.parametrize("name", NAMES)
def test_a_zero_element_parameter_steps_on_every_path(name: str) -> None:
    for impl in ("reference", "foreach", "auto", *(("fused",) if name in FUSED else ())):
        if impl == "fused" and "fused" not in impls_of(name):
            continue
        empty = torch.nn.Parameter(torch.zeros(0, 3, dtype=torch.float64))
        p = torch.nn.Parameter(torch.randn(5, 3, dtype=torch.float64))
        ref = torch.nn.Parameter(p.detach().clone())
        opt = build(name, [empty, p], impl=impl)
        alone = build(name, [ref], impl=impl)
        for _ in range(3):
            g = torch.randn(5, 3, dtype=torch.float64)
            empty.grad, p.grad, ref.grad = (
                torch.zeros(0, 3, dtype=torch.float64),
                g.clone(),
                g.clone(),
            )
            opt.step()
            alone.step()
        assert torch.equal(p, ref), impl
        assert empty.shape == (0, 3)


@needs_compiler
def test_the_fused_kernels_refuse_a_buffer_of_another_shape() -> None:
    from lrkit.optim import fused

    p = torch.zeros(10, dtype=torch.float32)
    assert fused.takes(p, torch.zeros(10))
    assert not fused.takes(p, torch.zeros(5))


DISTANCE = ["prodigy", "dadapt_adam", "dadapt_sgd"]


@pytest.mark.parametrize("name", DISTANCE)
@pytest.mark.parametrize("impl", ["reference", "foreach"])
def test_a_buffer_edited_by_hand_is_named_before_the_step_writes(name: str, impl: str) -> None:
    """The foreach passes write through scratch buffers with ``out=``, which would resize
    a wrong buffer instead of refusing it: every buffer is checked before any pass."""
    first, opt = _trained(name, impl=impl, size=4096)
    for key in _buffer_keys(opt, first):
        p, opt = _trained(name, impl=impl, size=4096)
        opt.state[p][key] = torch.zeros(5, dtype=torch.float64)
        before = {k: v.clone() for k, v in opt.state[p].items() if isinstance(v, torch.Tensor)}
        x = p.detach().clone()
        p.grad = torch.randn_like(p)
        with pytest.raises(ValueError, match=rf"state '{key}' .* has 5 elements; it needs "):
            opt.step()
        assert torch.equal(p.detach(), x)
        assert all(torch.equal(v, opt.state[p][k]) for k, v in before.items())
