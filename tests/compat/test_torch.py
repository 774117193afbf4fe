"""lrkit.compat.torch against torch.optim.lr_scheduler: the same calls give the same lrs.

Each case drives the anchor and the compat class with the same sequence of
calls (``step()``, ``step(epoch)``, ``step(metric)``, manual lr edits) on
optimizers with three param groups of different lrs, past the horizon, and
compares every group's lr (and momentum or ``betas[0]`` where cycled) after
every call: relative 1e-12, with an absolute floor of 1e-15 (the lrs are
~0.1) where torch's own formulas cancel near a floor far below the peak.
"""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as anchor

from lrkit.compat import torch as compat
from lrkit.schedules import Exponential, Schedule, parse

LRS = (0.1, 0.03, 0.2)
Op = tuple[Any, ...]

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's epoch deprecation


def _optimizer(kind: str = "sgd", tensor_lr: bool = False) -> torch.optim.Optimizer:
    groups = [
        {
            "params": [torch.nn.Parameter(torch.zeros(2))],
            "lr": torch.tensor(lr, dtype=torch.float64) if tensor_lr else lr,
        }
        for lr in LRS
    ]
    if kind == "adam":
        return torch.optim.Adam(groups, betas=(0.9, 0.99))
    return torch.optim.SGD(groups, momentum=0.9)


def _row(optimizer: torch.optim.Optimizer) -> list[float]:
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    moms = [float(g["betas"][0] if "betas" in g else g["momentum"]) for g in optimizer.param_groups]
    return lrs + moms


def _drive(optimizer: torch.optim.Optimizer, scheduler: Any, ops: list[Op]) -> np.ndarray:
    rows = [_row(optimizer)]
    for op in ops:
        if op[0] == "step":
            optimizer.step()
            scheduler.step()
        elif op[0] in ("epoch", "metric"):
            scheduler.step(op[1])
        elif op[0] == "edit":  # a manual change of group 0's lr
            group = optimizer.param_groups[0]
            group["lr"] = group["lr"] * op[1]
        rows.append(_row(optimizer))
    return np.array(rows)


def _same(
    name: str,
    args: dict[str, Any],
    ops: list[Op],
    kind: str = "sgd",
    make: Callable[[Any, torch.optim.Optimizer], Any] | None = None,
) -> tuple[Any, Any]:
    """Run both sides; return (anchor scheduler, compat scheduler)."""
    build = make or (lambda module, o: getattr(module, name)(o, **args))
    opt_a, opt_c = _optimizer(kind), _optimizer(kind)
    sched_a, sched_c = build(anchor, opt_a), build(compat, opt_c)
    np.testing.assert_allclose(
        _drive(opt_c, sched_c, ops),
        _drive(opt_a, sched_a, ops),
        rtol=1e-12,
        atol=1e-15,
        err_msg=f"{name} {args}",
    )
    assert sched_c.get_last_lr() == pytest.approx(sched_a.get_last_lr(), rel=1e-12, abs=1e-15)
    return sched_a, sched_c


def _steps(n: int) -> list[Op]:
    return [("step",)] * n


def _with_edits(r: np.random.Generator, n: int) -> list[Op]:
    ops = _steps(n)
    for at in sorted(r.choice(n, size=3, replace=False), reverse=True):
        ops.insert(int(at), ("edit", float(r.uniform(0.3, 2.0))))
    return ops


def _chainable_cases(r: np.random.Generator) -> list[tuple[str, dict[str, Any], int]]:
    """(class, arguments, horizon) with random valid arguments."""
    n = int(r.integers(1, 40))
    return [
        ("StepLR", dict(step_size=n, gamma=float(r.uniform(0.05, 0.99))), 4 * n),
        (
            "MultiStepLR",
            dict(milestones=[int(m) for m in r.integers(0, 60, size=4)], gamma=r.uniform(0.1, 0.9)),
            60,
        ),
        ("ConstantLR", dict(factor=float(r.uniform(0.05, 1.0)), total_iters=n), n),
        (
            "LinearLR",
            dict(start_factor=r.uniform(0.05, 1.0), end_factor=r.uniform(0.0, 1.0), total_iters=n),
            n,
        ),
        ("ExponentialLR", dict(gamma=float(r.uniform(0.8, 1.05))), 60),
        ("PolynomialLR", dict(total_iters=n, power=float(r.uniform(0.3, 3.0))), n),
        ("CosineAnnealingLR", dict(T_max=n, eta_min=float(r.choice([0.0, r.uniform(0, 0.02)]))), n),
    ]


@pytest.mark.parametrize("seed", range(5))
def test_chainable_schedulers_match_torch_with_steps_edits_and_epochs(seed: int) -> None:
    r = np.random.default_rng(seed)
    for name, args, horizon in _chainable_cases(r):
        past = horizon + int(r.integers(1, 2 * horizon + 2))
        _same(name, args, _steps(past))
        _same(name, args, _with_edits(r, past))  # manual edits: torch's recursion from there
        epochs: list[Op] = [("epoch", int(e)) for e in r.integers(0, past, size=5)]
        _same(name, args, _steps(3) + epochs + _steps(4))  # step(epoch): the closed form
        _same(name, args, _with_edits(r, 8) + epochs + _steps(4))  # ... which drops the edits


@pytest.mark.parametrize("seed", range(4))
def test_stacked_schedulers_match_torch(seed: int) -> None:
    r = np.random.default_rng(seed)
    n = int(r.integers(5, 30))
    eta = float(r.uniform(0.001, 0.02))  # eta_min != 0: torch's affine recursion

    def chained(m: Any, o: torch.optim.Optimizer) -> Any:
        return m.ChainedScheduler(
            [
                m.ConstantLR(o, factor=0.5, total_iters=n // 2 + 1),
                m.ExponentialLR(o, gamma=0.97),
                m.CosineAnnealingLR(o, T_max=n, eta_min=eta),
                m.StepLR(o, step_size=7, gamma=0.8),
            ]
        )

    _same("ChainedScheduler", {}, _with_edits(r, 3 * n), make=chained)

    def by_hand(m: Any, o: torch.optim.Optimizer) -> Any:  # two schedulers stepped in turn
        first, second = m.LinearLR(o, 0.2, 1.0, n), m.MultiStepLR(o, [n, 2 * n], 0.5)

        class Both:
            def step(self) -> None:
                first.step()
                second.step()

            def get_last_lr(self) -> list[float]:
                return list(second.get_last_lr())

        return Both()

    _same("by hand", {}, _steps(3 * n), make=by_hand)

    def sequential(m: Any, o: torch.optim.Optimizer) -> Any:
        parts = [
            m.LinearLR(o, start_factor=0.1, total_iters=n),
            m.CosineAnnealingLR(o, T_max=2 * n, eta_min=eta),
            m.ExponentialLR(o, gamma=0.95),
        ]
        return m.SequentialLR(o, parts, milestones=[n, 3 * n])

    _same("SequentialLR", {}, _steps(5 * n), make=sequential)


def _random_composition(r: np.random.Generator, depth: int = 0) -> tuple[Any, ...]:
    """A tree of SequentialLR / ChainedScheduler over random chainable schedulers."""
    pick = r.random()
    if depth < 2 and pick < 0.35:
        return ("chain", [_random_composition(r, depth + 1) for _ in range(int(r.integers(2, 4)))])
    if depth < 2 and pick < 0.7:
        n = int(r.integers(2, 4))
        milestones = sorted(int(m) for m in r.choice(np.arange(1, 8), size=n - 1, replace=False))
        return ("seq", [_random_composition(r, depth + 1) for _ in range(n)], milestones)
    name, args, _ = _chainable_cases(r)[int(r.integers(0, 7))]
    return ("leaf", name, args)


def _build(m: Any, o: torch.optim.Optimizer, tree: tuple[Any, ...]) -> Any:
    if tree[0] == "chain":
        return m.ChainedScheduler([_build(m, o, t) for t in tree[1]])
    if tree[0] == "seq":
        return m.SequentialLR(o, [_build(m, o, t) for t in tree[1]], milestones=tree[2])
    return getattr(m, tree[1])(o, **tree[2])


@pytest.mark.parametrize("seed", range(200))
def test_nested_sequential_and_chained_schedulers_match_torch(seed: int) -> None:
    """A ChainedScheduler first in a SequentialLR is stepped once more after SequentialLR
    undid the construction steps: torch's one-step rule then applies at t = 0 too."""
    r = np.random.default_rng(1000 + seed)
    tree = _random_composition(r)
    while tree[0] == "leaf":
        tree = _random_composition(r)
    ops = _steps(int(r.integers(4, 16)))
    try:
        _same("composition", {}, ops, make=lambda m, o: _build(m, o, tree))
    except NotImplementedError:  # torch's too: a ChainedScheduler reached by a milestone
        with pytest.raises(NotImplementedError):
            opt = _optimizer()
            _drive(opt, _build(anchor, opt, tree), ops)


def test_a_chain_first_in_a_sequence_matches_torch() -> None:
    """The reported case: LinearLR + ConstantLR chained, then cosine."""

    def make(m: Any, o: torch.optim.Optimizer) -> Any:
        chain = m.ChainedScheduler(
            [m.LinearLR(o, start_factor=0.1, total_iters=3), m.ExponentialLR(o, gamma=0.9)]
        )
        return m.SequentialLR(o, [chain, m.CosineAnnealingLR(o, T_max=5)], milestones=[4])

    _same("chain first", {}, _steps(10), make=make)


def test_sequential_schedules_equal_the_run() -> None:
    opt = _optimizer()
    parts = [compat.LinearLR(opt, start_factor=0.1, total_iters=10)]
    parts.append(compat.CosineAnnealingLR(opt, T_max=40, eta_min=0.001))
    sched = compat.SequentialLR(opt, parts, milestones=[10])
    native = sched.schedules["lr"]
    for t in range(60):
        got = [g["lr"] for g in opt.param_groups]
        assert got == pytest.approx([s(t) for s in native], rel=1e-12), t
        opt.step()
        sched.step()
    assert "join(" in str(native[0])


@pytest.mark.parametrize("seed", range(3))
def test_lambda_and_multiplicative(seed: int) -> None:
    r = np.random.default_rng(seed)
    g = float(r.uniform(0.9, 0.99))
    for fn in (lambda t: g**t, Exponential(g)):
        _same("LambdaLR", dict(lr_lambda=fn), _with_edits(r, 50))  # edits are overwritten
    per_group = [lambda t: 1.0, lambda t: 0.98, lambda t: 1.0 if t % 5 else 0.5]
    _same("MultiplicativeLR", dict(lr_lambda=per_group), _with_edits(r, 60))
    _same("MultiplicativeLR", dict(lr_lambda=lambda t: 0.97), [*_steps(5), ("epoch", 20)])


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_and_momentum(kind: str, mode: str) -> None:
    r = np.random.default_rng(len(mode))
    args = dict(
        base_lr=[0.001, 0.002, 0.0],
        max_lr=float(r.uniform(0.05, 0.2)),
        step_size_up=int(r.integers(1, 20)),
        step_size_down=int(r.integers(1, 20)),
        mode=mode,
        gamma=float(r.uniform(0.95, 1.0)),
        base_momentum=0.8,
        max_momentum=[0.9, 0.95, 0.85],
    )
    _same("CyclicLR", args, _steps(150), kind=kind)
    _same("CyclicLR", {**args, "cycle_momentum": False}, _with_edits(r, 60), kind=kind)


@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_cyclic_custom_scale_fn(scale_mode: str) -> None:
    args = dict(
        base_lr=0.01, max_lr=0.1, step_size_up=5, scale_fn=lambda x: 1 / (1.0 + 0.1 * x),
        scale_mode=scale_mode,
    )  # fmt: skip
    _, ours = _same("CyclicLR", args, _steps(80))
    with pytest.raises(TypeError, match="scale_fn"):
        ours.schedules  # noqa: B018


@pytest.mark.parametrize("seed", range(6))
def test_one_cycle(seed: int) -> None:
    r = np.random.default_rng(seed)
    three = bool(seed % 2)
    total = int(r.integers(20, 200))
    args: dict[str, Any] = dict(
        max_lr=[float(x) for x in r.uniform(0.05, 0.5, size=3)],
        pct_start=float(r.uniform(0.1, 0.45)),
        anneal_strategy=["cos", "linear"][seed // 2 % 2],
        div_factor=float(r.uniform(5, 50)),
        final_div_factor=float(r.uniform(10, 1e4)),
        three_phase=three,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    if seed < 3:
        args["total_steps"] = total
    else:
        args.update(epochs=int(total // 10), steps_per_epoch=10)
        total = int(total // 10) * 10
    _, ours = _same("OneCycleLR", args, _steps(total), kind=["sgd", "adam"][seed % 2])
    with pytest.raises(ValueError, match="total steps"):
        ours.step()  # past total_steps, as torch
    # the native piecewise schedule is the run up to total_steps - 1
    opt = _optimizer()
    sched = compat.OneCycleLR(opt, **args)
    native = sched.schedules["lr"]
    for t in range(total):
        got = [g["lr"] for g in opt.param_groups]
        assert got == pytest.approx([s(t) for s in native], rel=1e-12, abs=1e-15)
        opt.step()
        sched.step()


@pytest.mark.parametrize(("t0", "mult"), [(7, 1), (5, 2), (3, 3)])
def test_cosine_warm_restarts_with_steps_and_fractional_epochs(t0: int, mult: int) -> None:
    r = np.random.default_rng(t0)
    args = dict(T_0=t0, T_mult=mult, eta_min=float(r.uniform(0, 0.01)))
    _same("CosineAnnealingWarmRestarts", args, _steps(100))
    epochs: list[Op] = [("epoch", float(e)) for e in np.arange(0.0, 60.0, 0.25)]
    mixed = epochs[:7] + _steps(5) + [("epoch", 31.7)] + _steps(9) + epochs[100:]
    _same("CosineAnnealingWarmRestarts", args, mixed)
    opt = _optimizer()
    sched = compat.CosineAnnealingWarmRestarts(opt, **args)
    native = sched.schedules["lr"]
    for e in np.arange(0.0, 60.0, 0.5):
        sched.step(float(e))
        got = [g["lr"] for g in opt.param_groups]
        assert got == pytest.approx([s(float(e)) for s in native], rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_reduce_lr_on_plateau(seed: int) -> None:
    r = np.random.default_rng(seed)
    mode = ["min", "max"][seed % 2]
    metrics = np.cumsum(r.normal(-0.02 if mode == "min" else 0.02, 0.1, size=200))
    args = dict(
        mode=mode,
        factor=float(r.uniform(0.1, 0.9)),
        patience=int(r.integers(0, 5)),
        threshold=float(r.uniform(0, 0.05)),
        threshold_mode=["rel", "abs"][seed // 2],
        cooldown=int(r.integers(0, 4)),
        min_lr=[0.001, 0.01, 0.0] if seed % 2 else 0.005,
        eps=1e-8,
    )
    ops: list[Op] = [("metric", float(m)) for m in metrics]
    ops[50:50] = [("edit", 3.0), ("metric", math.nan), ("metric", torch.tensor(0.5))]
    a, ours = _same("ReduceLROnPlateau", args, ops)
    assert ours.state_dict().keys() == a.state_dict().keys()
    assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (
        a.best,
        a.num_bad_epochs,
        a.cooldown_counter,
    )


# -- resuming ---------------------------------------------------------------

_RESUMABLE = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 9, 9], gamma=0.5)),
    ("ConstantLR", dict(factor=0.5, total_iters=6)),
    ("LinearLR", dict(start_factor=0.2, total_iters=8)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("PolynomialLR", dict(total_iters=12, power=2.0)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=Exponential(0.9))),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=30)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2, eta_min=0.001)),
]


@pytest.mark.parametrize(("name", "args"), _RESUMABLE, ids=[n for n, _ in _RESUMABLE])
def test_state_dicts_interoperate_with_torch(name: str, args: dict[str, Any]) -> None:
    """torch's state dict loads into the compat class mid-run (and the compat's
    into torch's); both continue with the same lrs; the keys are torch's."""
    opt_a, opt_c = _optimizer(), _optimizer()
    a, c = getattr(anchor, name)(opt_a, **args), getattr(compat, name)(opt_c, **args)
    for _ in range(7):
        opt_a.step(), a.step(), opt_c.step(), c.step()
    assert set(c.state_dict()) >= set(a.state_dict()) - {"_scale_fn_ref"}
    # resume a fresh compat scheduler from torch's checkpoint, and vice versa
    opt_c2, opt_a2 = _optimizer(), _optimizer()
    c2, a2 = getattr(compat, name)(opt_c2, **args), getattr(anchor, name)(opt_a2, **args)
    opt_c2.load_state_dict(opt_a.state_dict())
    c2.load_state_dict(a.state_dict())
    opt_a2.load_state_dict(opt_c.state_dict())
    a2.load_state_dict(_torch_view(c.state_dict()))
    rest = _steps(15 if name != "OneCycleLR" else 20)
    expected = _drive(opt_a, a, rest)
    np.testing.assert_allclose(_drive(opt_c2, c2, rest), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(_drive(opt_a2, a2, rest), expected, rtol=1e-12, atol=1e-15)


def _torch_view(state: dict[str, Any]) -> dict[str, Any]:
    """A compat state dict as torch reads it: torch's keys only (the extra are ignored)."""
    state = dict(state)
    state.pop("_chained", None)
    if isinstance(state.get("lr_lambdas"), list):
        state["lr_lambdas"] = [None] * len(state["lr_lambdas"])
    return state


@pytest.mark.parametrize(("name", "args"), _RESUMABLE, ids=[n for n, _ in _RESUMABLE])
def test_resume_is_bit_exact_and_pickles(name: str, args: dict[str, Any]) -> None:
    opt, ref_opt = _optimizer("adam"), _optimizer("adam")
    sched, ref = getattr(compat, name)(opt, **args), getattr(compat, name)(ref_opt, **args)
    expected = _drive(ref_opt, ref, _steps(25))
    _drive(opt, sched, _steps(10))
    state, opt_state = pickle.loads(pickle.dumps((sched.state_dict(), opt.state_dict())))
    opt2 = _optimizer("adam")
    sched2 = getattr(compat, name)(opt2, **args)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(state)
    np.testing.assert_array_equal(_drive(opt2, sched2, _steps(15))[1:], expected[11:])


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("StepLR", dict(step_size=3)),
        ("ExponentialLR", dict(gamma=0.9)),
        ("CosineAnnealingLR", dict(T_max=9)),
        ("LinearLR", dict(start_factor=0.5, total_iters=6)),
        ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3)),
        ("CosineAnnealingWarmRestarts", dict(T_0=4)),
    ],
)
def test_resume_through_last_epoch_keeps_torchs_quirks(name: str, args: dict[str, Any]) -> None:
    """``last_epoch=k`` on an optimizer that holds ``initial_lr``: torch keeps
    the lr it finds for some classes and steps others; the compat class does
    the same."""
    runs = []
    for module in (anchor, compat):
        opt = _optimizer()
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
            g["lr"] = g["lr"] * 0.7  # as a restored optimizer holds it
        runs.append(_drive(opt, getattr(module, name)(opt, last_epoch=5, **args), _steps(20)))
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-12, atol=1e-15)


def test_tensor_lrs_are_filled_in_place() -> None:
    opt = _optimizer(tensor_lr=True)
    lr = opt.param_groups[0]["lr"]
    sched = compat.CosineAnnealingLR(opt, T_max=10)
    for _ in range(5):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] is lr
    assert float(lr) == pytest.approx(0.1 * (1 + math.cos(math.pi / 2)) / 2, rel=1e-12)


def test_native_schedules_describe_the_closed_form() -> None:
    opt = _optimizer()
    cases: list[Any] = [
        compat.StepLR(opt, 5, 0.5),
        compat.CosineAnnealingLR(opt, 10, eta_min=0.001),
        compat.CyclicLR(opt, 0.01, 0.1, 4, cycle_momentum=False),
        compat.LambdaLR(opt, Exponential(0.9)),
    ]
    for sched in cases:
        opt2 = _optimizer()
        fresh = type(sched)(opt2, **_init_args(sched))
        for t in range(40):
            expected = [float(s(t)) for s in fresh.schedules["lr"]]
            assert [g["lr"] for g in opt2.param_groups] == pytest.approx(expected, rel=1e-12)
            opt2.step()
            fresh.step()
        s0: Schedule = fresh.schedules["lr"][0]
        assert parse(str(s0)) == s0


def _init_args(sched: Any) -> dict[str, Any]:
    if isinstance(sched, compat.StepLR):
        return dict(step_size=5, gamma=0.5)
    if isinstance(sched, compat.CosineAnnealingLR):
        return dict(T_max=10, eta_min=0.001)
    if isinstance(sched, compat.CyclicLR):
        return dict(base_lr=0.01, max_lr=0.1, step_size_up=4, cycle_momentum=False)
    return dict(lr_lambda=Exponential(0.9))


def test_chained_rule_that_cannot_continue_raises() -> None:
    """An edited lr under a factor that went through 0 and rises again:
    torch's rule divides by zero; the compat class says so."""
    opt = _optimizer()
    sched = compat.CosineAnnealingLR(opt, T_max=2)
    for _ in range(2):
        opt.step()
        sched.step()  # at the floor, 0
    opt.param_groups[0]["lr"] = 0.01
    opt.step()
    sched.step()  # torch's additive branch, fine
    assert opt.param_groups[0]["lr"] > 0.01

    class Halving(compat.StepLR):
        def _factor(self) -> Schedule:
            return parse("piecewise([0, 1, 2], [1, 0, 1], constant)")

    opt = _optimizer()
    sched = Halving(opt, step_size=1)
    opt.step()
    sched.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    with pytest.raises(RuntimeError, match="zero factor"):
        sched.step()


# -- bad input ---------------------------------------------------------------

BAD: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("StepLR", dict(step_size=0), ValueError, r"StepLR: `step_size` must be"),
    ("StepLR", dict(step_size=2.5), TypeError, r"`step_size` must be"),
    ("StepLR", dict(step_size=3, gamma=-0.1), ValueError, r"`gamma` must be"),
    ("MultiStepLR", dict(milestones=5), TypeError, r"`milestones` must be a list"),
    ("MultiStepLR", dict(milestones=[3, -1]), ValueError, r"`milestones`"),
    (
        "ConstantLR",
        dict(factor=0.0),
        ValueError,
        r"ConstantLR: `factor` must be a number in \(0, 1\]",
    ),
    ("ConstantLR", dict(factor=1.5), ValueError, r"`factor`"),
    ("ConstantLR", dict(total_iters=0), ValueError, r"`total_iters`"),
    (
        "LinearLR",
        dict(start_factor=0.0),
        ValueError,
        r"`start_factor` must be a number in \(0, 1\]",
    ),
    ("LinearLR", dict(end_factor=1.5), ValueError, r"`end_factor`"),
    ("ExponentialLR", dict(gamma=0.0), ValueError, r"`gamma`"),
    ("PolynomialLR", dict(total_iters=0), ValueError, r"`total_iters`"),
    ("CosineAnnealingLR", dict(T_max=0), ValueError, r"`T_max`"),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=-1.0), ValueError, r"`eta_min`"),
    ("CosineAnnealingLR", dict(T_max=5, last_epoch=-2), ValueError, r"`last_epoch`"),
    ("LambdaLR", dict(lr_lambda=[lambda t: 1.0]), ValueError, r"Expected 3 lr_lambdas, but got 1"),
    ("LambdaLR", dict(lr_lambda=0.5), TypeError, r"lr_lambda should be a function, but got float"),
    ("MultiplicativeLR", dict(lr_lambda="x"), TypeError, r"should be a function, but got str"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=[0.1]), ValueError, r"`max_lr` has 1 values"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1, mode="tri"), ValueError, r"`mode`"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1, mode="exp_range", gamma=1.5), ValueError, "gamma"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1, gamma=-1.0), ValueError, r"`gamma`"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1, step_size_up=0), ValueError, r"`step_size_up`"),
    ("CyclicLR", dict(base_lr=0.1, max_lr=1, scale_fn=3), TypeError, r"`scale_fn`"),
    ("OneCycleLR", dict(max_lr=0.1), ValueError, r"either total_steps OR"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=0), ValueError, r"`total_steps`"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=0.1), ValueError, r"phases end"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=1.0), ValueError, r"phases end"),
    (
        "OneCycleLR",
        dict(max_lr=0.1, total_steps=20, pct_start=0.6, three_phase=True),
        ValueError,
        r"phases end",
    ),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=9, anneal_strategy="cosine"), ValueError, "anneal"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=9, div_factor=0), ValueError, r"`div_factor`"),
    ("CosineAnnealingWarmRestarts", dict(T_0=0), ValueError, r"`T_0`"),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=1.5), TypeError, r"`T_mult`"),
    ("ReduceLROnPlateau", dict(factor=1.0), ValueError, r"ReduceLROnPlateau: `factor`"),
    ("ReduceLROnPlateau", dict(mode="mean"), ValueError, r"`mode`"),
    ("ReduceLROnPlateau", dict(min_lr=[0.1]), ValueError, r"expected 3 min_lrs, got 1"),
    ("CyclicLR", dict(base_lr=torch.ones(2), max_lr=1), ValueError, r"one-element tensor"),
]


@pytest.mark.parametrize(
    "name, args",
    [
        ("ReduceLROnPlateau", dict(min_lr=[0.1])),
        ("MultiplicativeLR", dict(lr_lambda=3)),
        ("MultiplicativeLR", dict(lr_lambda=[3, 3, 3])),
        ("LambdaLR", dict(lr_lambda=[len])),
    ],
)
def test_errors_carry_torchs_wording(name: str, args: dict[str, Any]) -> None:
    """Users match on torch's messages: lrkit's contain them (after the class name)."""
    with pytest.raises((TypeError, ValueError)) as theirs:
        getattr(anchor, name)(_optimizer(), **args)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(compat, name)(_optimizer(), **args)
    assert str(theirs.value) in str(ours.value)


@pytest.mark.parametrize("tensor_lr", [False, True])
def test_tensor_arguments_are_accepted_as_torch_does(tensor_lr: bool) -> None:
    def cyclic(m: Any, o: torch.optim.Optimizer) -> Any:
        return m.CyclicLR(o, base_lr=torch.tensor(0.01), max_lr=torch.tensor(0.1), step_size_up=3)

    def one_cycle(m: Any, o: torch.optim.Optimizer) -> Any:
        return m.OneCycleLR(
            o, max_lr=torch.tensor(0.1), total_steps=12, max_momentum=torch.tensor(0.95)
        )

    for make in (cyclic, one_cycle):
        opts = [_optimizer(tensor_lr=True) if tensor_lr else _optimizer() for _ in range(2)]
        theirs, ours = make(anchor, opts[0]), make(compat, opts[1])
        if not tensor_lr and make is cyclic:
            continue  # torch aliases the group's lr to its base_lr tensor and drifts
        got, want = _drive(opts[1], ours, _steps(11)), _drive(opts[0], theirs, _steps(11))
        np.testing.assert_allclose(got, want, rtol=1e-6)  # torch computes in float32 here


@pytest.mark.parametrize(("name", "args", "exc", "message"), BAD)
def test_bad_input(name: str, args: dict[str, Any], exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        getattr(compat, name)(_optimizer(), **args)


def test_bad_optimizer_and_momentum_support() -> None:
    with pytest.raises(TypeError, match=r"`optimizer` must be a torch\.optim\.Optimizer"):
        compat.StepLR("sgd", 3)  # type: ignore[arg-type]
    plain = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="momentum or beta1"):
        compat.CyclicLR(plain, 0.01, 0.1)
    with pytest.raises(ValueError, match="momentum or beta1"):
        compat.OneCycleLR(plain, 0.1, total_steps=10)
    sched = compat.CosineAnnealingWarmRestarts(_optimizer(), T_0=3)
    with pytest.raises(ValueError, match="non-negative epoch"):
        sched.step(-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = _optimizer()
        s = compat.StepLR(opt, 3)
        opt.step()
        s.step()  # no warning in the documented order


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 7])
@pytest.mark.parametrize("start_after", [0, 5])
def test_swalr_matches_torch_after_another_scheduler(
    strategy: str, anneal_epochs: int, start_after: int
) -> None:
    from torch.optim import swa_utils

    def run(module: Any, swa: Any) -> tuple[np.ndarray, Any]:
        opt = _optimizer()
        before = module.MultiplicativeLR(opt, lr_lambda=lambda e: 0.9)
        sched = swa.SWALR(
            opt, swa_lr=[0.05, 0.01, 0.02], anneal_epochs=anneal_epochs, anneal_strategy=strategy
        )
        rows = [_row(opt)]
        for k in range(start_after + anneal_epochs + 4):
            opt.step()
            (sched if k >= start_after else before).step()
            rows.append(_row(opt))
        return np.array(rows), sched

    want, theirs = run(anchor, swa_utils)
    got, ours = run(compat, compat)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    state = theirs.state_dict()
    state.pop("anneal_func", None)
    assert set(ours.state_dict()) == set(state)
    held = [float(g["swa_lr"]) for g in ours.optimizer.param_groups]
    assert [float(s(anneal_epochs + 3)) for s in ours.schedules["lr"]] == pytest.approx(held)


def test_swalr_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"SWALR: `anneal_strategy` must be one of 'cos', 'linear'"
    ):
        compat.SWALR(_optimizer(), swa_lr=0.05, anneal_strategy="cosine")
    with pytest.raises(ValueError, match=r"SWALR: `anneal_epochs` must be a non-negative integer"):
        compat.SWALR(_optimizer(), swa_lr=0.05, anneal_epochs=-1)
    with pytest.raises(ValueError, match=r"SWALR: `swa_lr` has 2 values"):
        compat.SWALR(_optimizer(), swa_lr=[0.1, 0.2])
