"""Contract of every registered optimizer: impls agree, state dicts resume
bit-exactly and move to and from torch.optim, tensor lr, closures, errors."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from tests.optim.trajectory import assert_same, clone_params, make_grads, make_params, run

import lrkit.optim as lo
from lrkit.optim.base import REGISTRY
from lrkit.optim.fused_cpu import compiler_problem

NAMES = sorted(REGISTRY)
# options that exercise more of each algorithm than the defaults do
OPTIONS: dict[str, dict[str, Any]] = {
    "sgd": dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "adagrad": dict(lr=0.05, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    "rmsprop": dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
    "adam": dict(lr=0.01, amsgrad=True, weight_decay=0.01),
    "adamw": dict(lr=0.01, weight_decay=0.1),
    "radam": dict(lr=0.01, weight_decay=0.01),
    "adamp": dict(lr=0.01, weight_decay=0.01, nesterov=True),
    "sgdp": dict(lr=0.05, momentum=0.9, weight_decay=0.01),
    "lion": dict(lr=1e-3, weight_decay=0.1),
    "nadam": dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01),
    "adafactor": dict(lr=0.01, weight_decay=0.01, d=2.0),
    "muon": dict(lr=0.02, weight_decay=0.01, adjust_lr_fn="match_rms_adamw"),
    "prodigy": dict(lr=1.0, weight_decay=0.01, d0=1e-4, use_bias_correction=True, slice_p=2),
    "dadapt_adam": dict(lr=1.0, weight_decay=0.01, d0=1e-4, use_bias_correction=True),
    "dadapt_sgd": dict(lr=1.0, momentum=0.9, weight_decay=0.01, d0=1e-4),
    "lamb": dict(lr=0.01, caution=True),
    "adamw_schedulefree": dict(lr=0.01, warmup_steps=5, weight_decay=0.01),
    "sgd_schedulefree": dict(lr=0.05, warmup_steps=5),
}


FUSED = [n for n in NAMES if REGISTRY[n].cls.fused_on("cpu")]
needs_compiler = pytest.mark.skipif(
    compiler_problem() is not None, reason=f"fused CPU kernels: {compiler_problem()}"
)


def impls_of(name: str) -> tuple[str, ...]:
    """The impls to compare with ``reference`` for ``name``."""
    fused = name in FUSED and compiler_problem() is None
    return ("foreach", "auto", "fused") if fused else ("foreach", "auto")


def groups_for(name: str, params: Any) -> Any:
    """Muon takes 2-D weights: the others go to a ``use_muon=False`` (AdamW) group."""
    if name != "muon":
        return params
    params = list(params)
    other = [p for p in params if p.ndim != 2]
    return [
        {"params": [p for p in params if p.ndim == 2]},
        *([{"params": other, "use_muon": False, "lr": 3e-3, "eps": 1e-8}] if other else []),
    ]


def build(name: str, params: Any, **kw: Any) -> lo.Optimizer:
    opt = REGISTRY[name].cls(groups_for(name, params), **{**OPTIONS[name], **kw})
    train = getattr(opt, "train", None)
    if callable(train):
        train()
    return opt


def test_every_registered_optimizer_has_options() -> None:
    assert set(OPTIONS) == set(REGISTRY)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("extra", [{}, {"maximize": True, "max_grad_norm": 0.7}])
def test_impls_agree_in_float64(name: str, extra: dict[str, Any]) -> None:
    params = make_params(3, torch.float64)
    grads = make_grads(3, params, 25, orthogonal_every=4)
    want = run(lambda ps: build(name, ps, impl="reference", **extra), clone_params(params), grads)
    for impl in impls_of(name):
        got = run(
            lambda ps, impl=impl: build(name, ps, impl=impl, **extra), clone_params(params), grads
        )
        assert_same(got, want, torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_params_match_the_reference(name: str) -> None:
    """A channels_last conv weight, with a grad in either layout (AdamP/SGDP's foreach
    projection once failed on it)."""
    gen = torch.Generator().manual_seed(9)
    w = torch.randn(6, 4, 3, 3, generator=gen, dtype=torch.float64)
    params = [w.contiguous(memory_format=torch.channels_last).requires_grad_()]
    params.append(torch.randn(5, 3, generator=gen, dtype=torch.float64).requires_grad_())
    grads = make_grads(9, params, 10, orthogonal_every=3)
    for t, row in enumerate(grads):
        if t % 2:
            row[0] = row[0].contiguous(memory_format=torch.channels_last)
    want = run(lambda ps: build(name, ps, impl="reference"), clone_params(params), grads)
    for impl in impls_of(name):
        got = run(lambda ps, impl=impl: build(name, ps, impl=impl), clone_params(params), grads)
        assert_same(got, want, torch.float64)


IMPL_CASES = [(n, i) for n in NAMES for i in ("reference", "foreach", "auto")]
IMPL_CASES += [pytest.param(n, "fused", marks=needs_compiler) for n in FUSED]


@pytest.mark.parametrize(("name", "impl"), IMPL_CASES)
def test_resume_from_state_dict_is_bit_exact(name: str, impl: str) -> None:
    params = make_params(4, torch.float32)
    grads = make_grads(4, params, 20)
    straight = run(lambda ps: build(name, ps, impl=impl), clone_params(params), grads)

    first = clone_params(params)
    opt = build(name, first, impl=impl)
    run(lambda ps: opt, first, grads[:10])
    saved = copy.deepcopy(opt.state_dict())
    resumed = [p.detach().clone().requires_grad_() for p in first]
    opt2 = REGISTRY[name].cls(groups_for(name, resumed), **OPTIONS[name], impl=impl)
    opt2.load_state_dict(saved)
    rest = run(lambda ps: opt2, resumed, grads[10:])
    for a, b in zip(rest[-1], straight[-1], strict=True):
        assert torch.equal(a, b)


TORCH_PEERS = {
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "radam": torch.optim.RAdam,
    "nadam": torch.optim.NAdam,
    "adafactor": torch.optim.Adafactor,
}  # torch's Muon takes 2-D weights only: tests/optim/test_muon.py


@pytest.mark.parametrize("name", sorted(TORCH_PEERS))
@pytest.mark.parametrize("direction", ["torch_to_lrkit", "lrkit_to_torch"])
def test_state_dict_moves_between_torch_and_lrkit(name: str, direction: str) -> None:
    params = make_params(5, torch.float64)
    grads = make_grads(5, params, 12)
    peer, ours = TORCH_PEERS[name], REGISTRY[name].cls
    first_cls, then_cls = (peer, ours) if direction == "torch_to_lrkit" else (ours, peer)
    a = clone_params(params)
    opt = first_cls(a, **OPTIONS[name])
    run(lambda ps: opt, a, grads[:6])
    b = [p.detach().clone().requires_grad_() for p in a]
    opt_b = then_cls(b, **OPTIONS[name])
    opt_b.load_state_dict(copy.deepcopy(opt.state_dict()))
    got = run(lambda ps: opt_b, b, grads[6:])
    want = run(lambda ps: opt, a, grads[6:])
    assert_same(got, want, torch.float64)


def test_lrkit_only_options_keep_their_constructed_values_on_a_torch_load() -> None:
    p = [torch.zeros(3, requires_grad=True)]
    ours = lo.SGD(p, lr=0.1, momentum=0.9, momentum_form="classical")
    ours.load_state_dict(torch.optim.SGD(p, lr=0.2, momentum=0.9).state_dict())
    assert ours.param_groups[0]["momentum_form"] == "classical"
    assert ours.param_groups[0]["lr"] == 0.2


@pytest.mark.parametrize(
    ("name", "impl"), [c for c in IMPL_CASES if getattr(c, "values", c)[1] != "auto"]
)
def test_tensor_lr_equals_float_lr(name: str, impl: str) -> None:
    params = make_params(6, torch.float64)
    grads = make_grads(6, params, 10)
    lr = OPTIONS[name]["lr"]
    want = run(lambda ps: build(name, ps, impl=impl), clone_params(params), grads)
    got = run(
        lambda ps: build(name, ps, impl=impl, lr=torch.tensor(lr, dtype=torch.float64)),
        clone_params(params),
        grads,
    )
    assert_same(got, want, torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_closure_is_called_with_grad_enabled_and_its_loss_returned(name: str) -> None:
    w = torch.ones(3, requires_grad=True)
    opt = build(name, [w])

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    before = w.detach().clone()
    assert opt.step(closure).item() == 3.0
    assert not torch.equal(w.detach(), before)


@pytest.mark.parametrize("name", NAMES)
def test_sparse_gradients_are_rejected_by_name(name: str) -> None:
    w = torch.zeros(4, 2, requires_grad=True)
    opt = build(name, [w])
    w.grad = torch.sparse_coo_tensor([[0, 2]], torch.ones(2, 2), (4, 2))
    with pytest.raises(
        RuntimeError, match=f"{REGISTRY[name].cls.__name__} does not support sparse"
    ):
        opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_params_without_grad_are_left_alone(name: str) -> None:
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = build(name, [a, b])
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b.detach(), torch.ones(2)) and b not in opt.state


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_complex_params_follow_torch(name: str) -> None:
    w = torch.randn(3, 2, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    g = [
        torch.randn(3, 2, dtype=torch.complex128, generator=torch.Generator().manual_seed(i))
        for i in range(8)
    ]
    for impl in ("reference", "foreach", "auto"):
        got = run(
            lambda ps, impl=impl: build(name, ps, impl=impl),
            [w.clone().requires_grad_()],
            [[x] for x in g],
        )
        want = run(
            lambda ps: TORCH_PEERS[name](ps, **OPTIONS[name]),
            [w.clone().requires_grad_()],
            [[x] for x in g],
        )
        assert_same(got, want, torch.float64)


# -- textbook forms -------------------------------------------------------------


def test_sgd_classical_form_matches_torch_at_constant_lr_and_differs_when_lr_changes() -> None:
    params = make_params(7, torch.float64)
    grads = make_grads(7, params, 10)
    torch_form = run(lambda ps: lo.SGD(ps, lr=0.1, momentum=0.9), clone_params(params), grads)
    classical = run(
        lambda ps: lo.SGD(ps, lr=0.1, momentum=0.9, momentum_form="classical"),
        clone_params(params),
        grads,
    )
    assert_same(classical, torch_form, torch.float64)

    def halve(opt: Any, t: int) -> None:
        if t == 5:
            opt.param_groups[0]["lr"] = 0.05

    a = run(lambda ps: lo.SGD(ps, lr=0.1, momentum=0.9), clone_params(params), grads, every=halve)
    b = run(
        lambda ps: lo.SGD(ps, lr=0.1, momentum=0.9, momentum_form="classical"),
        clone_params(params),
        grads,
        every=halve,
    )
    assert not torch.allclose(a[-1][1], b[-1][1])


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("form", ["classical", "dampened"])
def test_sgd_textbook_forms_by_hand(form: str, nesterov: bool) -> None:
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = lo.SGD([w], lr=0.1, momentum=0.5, nesterov=nesterov, momentum_form=form)
    p, v = 1.0, 0.0
    lrs = [0.1, 0.1, 0.3, 0.2]
    for k, lr in enumerate(lrs):
        opt.param_groups[0]["lr"] = lr
        g = 2.0 * p + k  # any gradient
        w.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        scale = lr if form == "classical" else lr * 0.5
        v = 0.5 * v - scale * g
        p = p + (0.5 * v - scale * g if nesterov else v)
        assert w.item() == pytest.approx(p, rel=1e-14)


def test_rmsprop_eps_inside_sqrt_by_hand() -> None:
    w = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    opt = lo.RMSprop([w], lr=0.1, alpha=0.9, eps=1e-6, eps_inside_sqrt=True)
    w.grad = torch.tensor([0.5], dtype=torch.float64)
    opt.step()
    assert w.item() == pytest.approx(2.0 - 0.1 * 0.5 / math.sqrt(1e-6 + 0.1 * 0.25), rel=1e-14)


# -- schedule-free modes -----------------------------------------------------------


@pytest.mark.parametrize("name", ["adamw_schedulefree", "sgd_schedulefree"])
def test_schedule_free_modes(name: str) -> None:
    w = torch.ones(3, requires_grad=True)
    opt = REGISTRY[name].cls([w], **OPTIONS[name])
    w.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match=r"needs train mode; call optimizer.train\(\)"):
        opt.step()
    opt.train()
    for k in range(3):
        w.grad = torch.full((3,), 1.0 + k)
        opt.step()
    opt.eval()
    x = w.detach().clone()
    opt.eval()  # idempotent
    assert torch.equal(w.detach(), x)
    saved = copy.deepcopy(opt.state_dict())
    assert saved["param_groups"][0]["train_mode"] is False
    opt.train()
    opt.train()
    y = w.detach().clone()
    opt.load_state_dict(saved)  # the mode travels with the state dict
    assert opt.param_groups[0]["train_mode"] is False
    assert not torch.equal(x, y)


# -- bad input ---------------------------------------------------------------------

W = [torch.zeros(2, requires_grad=True)]

ERRORS = [
    (
        lo.Adam,
        dict(lr=-1.0),
        ValueError,
        "Adam: `lr` must be a non-negative finite number, got -1.0",
    ),
    (
        lo.Adam,
        dict(lr=float("nan")),
        ValueError,
        "Adam: `lr` must be a non-negative finite number, got nan",
    ),
    (
        lo.Adam,
        dict(betas=(1.0, 0.9)),
        ValueError,
        "Adam: `betas[0]` must be a number in [0, 1), got 1.0",
    ),
    (
        lo.AdamW,
        dict(betas=(0.9, -0.1)),
        ValueError,
        "AdamW: `betas[1]` must be a number in [0, 1), got -0.1",
    ),
    (lo.Adam, dict(betas=0.9), TypeError, "Adam: `betas` must be a pair of numbers, got 0.9"),
    (lo.Adam, dict(eps=0.0), ValueError, "Adam: `eps` must be a positive finite number, got 0.0"),
    (lo.RMSprop, dict(eps=-1e-8), ValueError, "RMSprop: `eps` must be a positive finite number"),
    (
        lo.SGD,
        dict(momentum=-0.1),
        ValueError,
        "SGD: `momentum` must be a non-negative finite number, got -0.1",
    ),
    (
        lo.SGD,
        dict(nesterov=True),
        ValueError,
        "SGD: `nesterov=True` needs `momentum` > 0 and `dampening` = 0",
    ),
    (lo.SGD, dict(momentum=0.9, nesterov=True, dampening=0.1), ValueError, "`nesterov=True` needs"),
    (
        lo.SGD,
        dict(momentum_form="textbook"),
        ValueError,
        "SGD: `momentum_form` must be one of 'torch', 'classical'",
    ),
    (lo.SGD, dict(nesterov=1), TypeError, "SGD: `nesterov` must be a bool, got 1"),
    (
        lo.SGD,
        dict(lr="0.1"),
        TypeError,
        "SGD: `lr` must be a non-negative finite number, got '0.1'",
    ),
    (
        lo.Adam,
        dict(impl="fast"),
        ValueError,
        "Adam: `impl` must be one of 'auto', 'reference', 'foreach', 'fused'",
    ),
    (lo.Adam, dict(impl="foreachh"), ValueError, "(did you mean 'foreach'?)"),
    (
        lo.RAdam,
        dict(impl="fused"),
        ValueError,
        "RAdam: `impl='fused'` is available for AdamP, DAdaptAdam, DAdaptSGD, Lamb, Prodigy "
        "and SGDP (lrkit's kernels) and, "
        "on the CPU, for Adagrad, Adam, AdamW and SGD (torch's)",
    ),
    (
        lo.Adam,
        dict(max_grad_norm=0.0),
        ValueError,
        "Adam: `max_grad_norm` must be a positive finite number",
    ),
    (
        lo.SGDP,
        dict(lr=0.1, momentum=1.0),
        ValueError,
        "SGDP: `momentum` must be a number in [0, 1), got 1.0",
    ),
    (
        lo.RAdam,
        dict(variant="paper"),
        ValueError,
        "RAdam: `variant` must be one of 'torch', 'official'",
    ),
    (
        lo.RAdam,
        dict(variant="official", decoupled_weight_decay=False),
        ValueError,
        "official variant's weight decay",
    ),
    (
        lo.RAdam,
        dict(degenerated_to_sgd=False),
        ValueError,
        "`degenerated_to_sgd=False` is an option of",
    ),
    (
        lo.SGDScheduleFree,
        dict(momentum=1.0),
        ValueError,
        "SGDScheduleFree: `momentum` must be a number in (0, 1)",
    ),
    (
        lo.AdamWScheduleFree,
        dict(warmup_steps=-1),
        ValueError,
        "`warmup_steps` must be a non-negative integer",
    ),
    (
        lo.Lion,
        dict(betas=(0.9, 1.5)),
        ValueError,
        "Lion: `betas[1]` must be a number in [0, 1], got 1.5",
    ),
    (lo.Lamb, dict(lr=0.0, corrected_weight_decay=True), ValueError, "Lamb: `lr` must be positive"),
    (
        lo.Adagrad,
        dict(lr_decay=-1.0),
        ValueError,
        "Adagrad: `lr_decay` must be a non-negative finite number",
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "exc", "message"), ERRORS, ids=lambda x: str(x)[:40])
def test_bad_hyperparameters_name_the_argument(
    cls: type, kwargs: dict[str, Any], exc: type, message: str
) -> None:
    with pytest.raises(exc) as info:
        cls(W, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_bad_params(name: str) -> None:
    cls = REGISTRY[name].cls
    kw = {"lr": 0.1} if name == "sgdp" else {}
    with pytest.raises(ValueError, match=f"{cls.__name__}: `params` is empty"):
        cls([], **kw)
    w = torch.zeros(2, 2, requires_grad=True)  # 2-D: what every class takes (Muon too)
    with pytest.warns(UserWarning, match="parameter group with duplicate parameters"):
        cls([w, w], **kw)  # as torch: a warning within a group ...
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        cls([{"params": [w]}, {"params": [w]}], **kw)  # ... an error across groups
    with pytest.raises(
        TypeError, match="`params` must be an iterable of tensors or of dicts, got a Tensor"
    ):
        cls(w, **kw)
    with pytest.raises(TypeError, match="`params` must hold tensors, got int"):
        cls([1, 2], **kw)
    with pytest.raises(ValueError, match=r"`lr` must be a non-negative finite number, got -0\.5"):
        cls([{"params": [w], "lr": -0.5}], **kw)  # a group's own value is checked too


@pytest.mark.parametrize("name", ["adamp", "sgdp", "lion", "lamb", "radam", "adamw_schedulefree"])
def test_complex_params_are_rejected_where_the_reference_has_no_complex_rule(name: str) -> None:
    cls = REGISTRY[name].cls
    with pytest.raises(ValueError, match=f"{cls.__name__}: complex parameters are not supported"):
        cls([torch.zeros(2, dtype=torch.complex64, requires_grad=True)], **OPTIONS[name])


COUPLED = {"prodigy": dict(decouple=False), "dadapt_adam": dict(decouple=False)}


@pytest.mark.parametrize(("name", "impl"), IMPL_CASES)
@pytest.mark.parametrize("extra", [{}, {"maximize": True, "max_grad_norm": 0.7}])
@pytest.mark.parametrize("small", [None, 0], ids=["", "no-small"])
def test_a_step_leaves_the_gradients_as_they_were(
    name: str, impl: str, extra: dict[str, Any], small: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As torch.optim's: weight decay on the gradient, maximize and clipping work on
    copies (dadaptation's DAdaptSGD adds the decay into ``p.grad``); with tiny cache
    batches, so the foreach passes reuse their buffer across batches, and with no
    tensor taken as small (Note [small tensors]), so they write into it."""
    from lrkit.optim import layout

    monkeypatch.setattr(layout, "CPU_BATCH", 7)
    if small is not None:
        monkeypatch.setattr(layout, "SMALL", small)
    params = make_params(5, torch.float64)
    opt = build(name, params, impl=impl, **{**COUPLED.get(name, {}), **extra})
    for step, row in enumerate(make_grads(5, params, 3)):
        for p, g in zip(params, row, strict=True):
            p.grad = g.clone()
        opt.step()
        for i, (p, g) in enumerate(zip(params, row, strict=True)):
            assert torch.equal(p.grad, g), f"step {step}: grad {i} was changed"


@pytest.mark.parametrize("impl", ["reference", "foreach", "auto"])  # fused: float32/64 on CPU
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_a_grad_scale_leaves_half_precision_gradients_in_their_dtype(
    name: str, impl: str, dtype: torch.dtype
) -> None:
    """Note [amp]: GradScaler's scale is a float32 tensor; a 0-d bfloat16 or float16
    gradient times it stays in its dtype (type promotion alone would make it float32,
    which the step's ops refuse), and gradients scaled by 1024 with that scale give the
    unscaled steps exactly (under ``auto`` the factor can send a step from torch's fused
    kernel to foreach, which rounds half precision otherwise: the dtype is checked). NaN
    counts as equal: Prodigy's ``d^2``-scaled moments underflow float16, as prodigyopt's
    do."""

    def trajectory(scale: float | None) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(0)
        shapes = [(), (3,), (2, 3)]
        params = [torch.randn(s, generator=gen).to(dtype).requires_grad_() for s in shapes]
        opt = build(name, params, impl=impl)
        for _ in range(3):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen).to(dtype) * (scale or 1.0)
            if scale is not None:  # as scaler.step(opt) sets them
                opt.grad_scale = torch.tensor(scale)
                opt.found_inf = torch.tensor(0.0)
            opt.step()
        return params

    want, got = trajectory(None), trajectory(1024.0)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == dtype
        if impl != "auto":
            torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
def test_cache_batches_do_not_change_results(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Note [cache batches] with a tiny batch, so that tensors are split and batched."""
    from lrkit.optim import layout

    params = make_params(8, torch.float64)
    grads = make_grads(8, params, 12, orthogonal_every=3)
    want = run(lambda ps: build(name, ps, impl="reference"), clone_params(params), grads)
    monkeypatch.setattr(layout, "CPU_BATCH", 7)
    batches = layout.cache_batches([clone_params(params)], [1.0] * len(params), split=True)
    assert len(batches) > 3 and any(
        t.numel() < 7 and t.dim() == 1 for b, _ in batches for t in b[0]
    )
    got = run(lambda ps: build(name, ps, impl="foreach"), clone_params(params), grads)
    assert_same(got, want, torch.float64)


def test_the_distance_passes_batch_small_tensors_first_and_every_element_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Note [small tensors]: rows under SMALL elements (by the first list) in batches of
    their own, flagged and first; the rest cut for the cache; the lists stay aligned."""
    from lrkit.optim import distance, layout

    monkeypatch.setattr(layout, "CPU_BATCH", 8)
    monkeypatch.setattr(layout, "SMALL", 10)
    first = [
        torch.arange(n, dtype=torch.float64) + 1000 * i for i, n in enumerate([3, 40, 5, 12, 9])
    ]
    out = distance.batches(first, [2 * t for t in first])
    flags = [small for small, _ in out]
    assert flags == sorted(flags, reverse=True) and True in flags and False in flags
    for _, (a, b) in out:
        assert all(torch.equal(2 * x, y) for x, y in zip(a, b, strict=True))

    def elements(ts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(ts).sort().values

    small_rows = [t for t in first if t.numel() < 10]
    assert torch.equal(elements([t for f, (a, _) in out if f for t in a]), elements(small_rows))
    assert torch.equal(elements([t for _, (a, _) in out for t in a]), elements(first))


SMALL_CASES = [
    ("prodigy", {"decouple": False, "weight_decay": 0.01}),
    ("prodigy", {"betas": (0.0, 0.99), "weight_decay": 0.01}),  # the step reads g
    ("dadapt_adam", {"decouple": False, "weight_decay": 0.01}),
    ("dadapt_sgd", {"weight_decay": 0.01, "momentum": 0.9}),
]


@pytest.mark.parametrize("small", [0, 10, 1 << 30], ids=["none", "some", "all"])
@pytest.mark.parametrize(("name", "kw"), SMALL_CASES)
def test_small_tensors_batched_apart_do_not_change_results(
    name: str, kw: dict[str, Any], small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [small tensors]: the distance optimizers' foreach passes with none, some or
    all tensors taken by list ops (and the rest cut into tiny cache batches) give the
    reference's steps, coupled weight decay included."""
    from lrkit.optim import layout

    monkeypatch.setattr(layout, "CPU_BATCH", 7)
    monkeypatch.setattr(layout, "SMALL", small)
    params = make_params(9, torch.float64)  # 1, 7, 15, 108 and 24 (strided) elements
    grads = make_grads(9, params, 12)
    want = run(lambda ps: build(name, ps, impl="reference", **kw), clone_params(params), grads)
    got = run(lambda ps: build(name, ps, impl="foreach", **kw), clone_params(params), grads)
    assert_same(got, want, torch.float64)


PASS_1_PATHS = [
    pytest.param("foreach", 0, id="per-tensor"),
    pytest.param("foreach", 1 << 30, id="list-ops"),
    pytest.param("fused", None, id="fused", marks=needs_compiler),
]


@pytest.mark.parametrize(("impl", "small"), PASS_1_PATHS)
@pytest.mark.parametrize("name", ["dadapt_adam", "dadapt_sgd"])
def test_an_update_in_pass_1_waits_until_the_step_is_sure(
    name: str, impl: str, small: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [update in pass 1]: a first step with no gradient (no step at all); then a
    group's first tensor without gradient (its batches wait for the next tensor's), rows
    of a matrix without (the fused kernels' rows left to the second pass) and a group
    without any (left to the second pass, the other group makes the step)."""
    from lrkit.optim import layout

    monkeypatch.setattr(layout, "CPU_BATCH", 7)
    if small is not None:
        monkeypatch.setattr(layout, "SMALL", small)
    gen = torch.Generator().manual_seed(4)
    shapes = [(20,), (9,), (4, 3), (5,), (6,)]
    start = [torch.randn(n, dtype=torch.float64, generator=gen) for n in shapes]
    grads = []
    for t in range(10):
        row = [torch.randn(p.shape, dtype=torch.float64, generator=gen) for p in start]
        row[0].zero_()  # never a gradient
        row[2][::2].zero_()  # rows 0 and 2 never either
        if t == 0:
            row = [g.zero_() for g in row]
        if t < 5:  # the second group has none for a while
            row[3].zero_(), row[4].zero_()
        grads.append(row)
    cls = REGISTRY[name].cls
    # a decoupled decay moves p in a step without gradient: a step that must not happen
    kw = {"decouple": True, "weight_decay": 0.1} if name == "dadapt_adam" else {"momentum": 0.9}

    def make(impl: str) -> Any:
        return lambda ps: cls([{"params": ps[:3]}, {"params": ps[3:]}], impl=impl, **kw)

    want = run(make("reference"), clone_params(start), grads)
    got = run(make(impl), clone_params(start), grads)
    assert torch.equal(want[0][1], start[1])  # the first step did nothing
    assert not torch.equal(want[-1][3], start[3])
    assert_same(got, want, torch.float64)


@pytest.mark.parametrize("name", NAMES)
def test_a_group_of_mixed_dtypes_matches_the_reference(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """float32 and float64 params in one group, batched together for the cache: each
    keeps its dtype's arithmetic (no temporary of the wrong dtype on the way)."""
    from lrkit.optim import layout

    monkeypatch.setattr(layout, "CPU_BATCH", 16)
    params = [
        p.to(torch.float32 if i % 2 else torch.float64).detach().requires_grad_()
        for i, p in enumerate(make_params(6, torch.float64))
    ]
    grads = [[g.to(p.dtype) for g, p in zip(row, params)] for row in make_grads(6, params, 8)]
    kw = COUPLED.get(name, {})
    want = run(lambda ps: build(name, ps, impl="reference", **kw), clone_params(params), grads)
    got = run(lambda ps: build(name, ps, impl="foreach", **kw), clone_params(params), grads)
    for a, b in zip(got[-1], want[-1], strict=True):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
