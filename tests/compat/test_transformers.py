"""lrkit.compat.transformers against transformers itself: the same lrs, per group,
from step 0 to well past the horizon, on seeded random configurations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from lrkit import ScheduledLR  # noqa: E402
from lrkit.compat import transformers as compat  # noqa: E402

LRS = (0.1, 0.03)


def _optimizer() -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in LRS]
    return torch.optim.AdamW(groups, lr=0.1)


def _trace(scheduler: Any, steps: int) -> np.ndarray:
    rows = []
    for _ in range(steps):
        rows.append([g["lr"] for g in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return np.array(rows)


def _same(name: str, steps: int, **kwargs: Any) -> None:
    anchor = getattr(transformers, name)(_optimizer(), **kwargs)
    ours = getattr(compat, name)(_optimizer(), **kwargs)
    assert isinstance(ours, ScheduledLR)
    np.testing.assert_allclose(
        _trace(ours, steps),
        _trace(anchor, steps),
        rtol=1e-12,
        atol=1e-15,
        err_msg=f"{name} {kwargs}",
    )


def _configs(seed: int) -> tuple[int, int]:
    r = np.random.default_rng(seed)
    warmup = int(r.choice([0, 1, int(r.integers(2, 50))]))
    return warmup, warmup + int(r.integers(1, 200))


@pytest.mark.parametrize("seed", range(8))
def test_warmup_decays(seed: int) -> None:
    warmup, training = _configs(seed)
    r = np.random.default_rng(100 + seed)
    steps = training + 150
    _same("get_constant_schedule", 50)
    _same("get_constant_schedule_with_warmup", steps, num_warmup_steps=warmup)
    _same(
        "get_linear_schedule_with_warmup",
        steps,
        num_warmup_steps=warmup,
        num_training_steps=training,
    )
    for cycles in (0.5, float(r.uniform(0.2, 3.0))):
        _same(
            "get_cosine_schedule_with_warmup",
            steps,
            num_warmup_steps=warmup,
            num_training_steps=training,
            num_cycles=cycles,
        )
        _same(
            "get_cosine_with_min_lr_schedule_with_warmup",
            steps,
            num_warmup_steps=warmup,
            num_training_steps=training,
            num_cycles=cycles,
            min_lr_rate=float(r.uniform(0, 0.5)),
        )
        _same(
            "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
            steps,
            num_warmup_steps=warmup,
            num_training_steps=training,
            num_cycles=cycles,
            min_lr_rate=float(r.uniform(0, 0.5)),
            warmup_lr_rate=None if seed % 2 else float(r.uniform(0, 0.5)),
        )
    _same(
        "get_cosine_with_hard_restarts_schedule_with_warmup",
        steps,
        num_warmup_steps=warmup,
        num_training_steps=training,
        num_cycles=int(r.integers(1, 5)),
    )
    _same(
        "get_polynomial_decay_schedule_with_warmup",
        steps,
        num_warmup_steps=warmup,
        num_training_steps=training,
        lr_end=float(r.uniform(0, 0.05)),
        power=float(r.uniform(0.5, 3)),
    )
    _same(
        "get_inverse_sqrt_schedule",
        steps,
        num_warmup_steps=warmup,
        timescale=None if seed % 2 else int(r.integers(1, 500)),
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decay", ["linear", "cosine", "1-sqrt"])
def test_wsd(seed: int, decay: str) -> None:
    r = np.random.default_rng(seed)
    warmup, stable, dec = int(r.integers(0, 30)), int(r.integers(0, 60)), int(r.integers(1, 60))
    warmup_type = ["linear", "cosine", "1-sqrt"][seed % 3]
    common = dict(
        num_warmup_steps=warmup,
        num_decay_steps=dec,
        warmup_type=warmup_type,
        decay_type=decay,
        min_lr_ratio=float(r.uniform(0, 0.3)),
    )
    _same(
        "get_wsd_schedule",
        warmup + stable + dec + 40,
        num_training_steps=warmup + stable + dec,
        **common,
    )
    _same(
        "get_wsd_schedule",
        warmup + stable + dec + 40,
        num_stable_steps=stable,
        num_cycles=float(r.uniform(0.3, 1.5)),
        **common,
    )


def _metric_trace(scheduler: Any, metrics: np.ndarray) -> np.ndarray:
    rows = []
    for m in metrics:
        scheduler.step(float(m))
        rows.append([g["lr"] for g in scheduler.optimizer.param_groups])
    return np.array(rows)


@pytest.mark.parametrize("seed", range(6))
def test_greedy(seed: int) -> None:
    r = np.random.default_rng(seed)
    # a loss that falls, stalls and rises in turns, so the lr goes both ways
    drift = np.repeat(r.choice([-0.05, 0.0, 0.05], size=12), 25)
    metrics = np.cumsum(drift + r.normal(0, 0.02, size=drift.size))
    kwargs: dict[str, Any] = dict(
        mode=["min", "max"][seed % 2],
        factor=float(r.uniform(0.5, 0.95)),
        patience=int(r.integers(0, 6)),
        threshold=float(r.uniform(0, 0.01)),
        threshold_mode=["abs", "rel"][seed // 3],
        cooldown=int(r.integers(0, 4)),
        warmup=int(r.integers(0, 4)),
        min_lr=[0.01, 0.001] if seed % 2 else 0.005,
        max_lr=0.5,
        smooth=bool(seed % 3),
        window_size=int(r.integers(1, 10)),
        reset_start=int(r.integers(1, 20)),
    )
    anchor = transformers.get_scheduler("greedy", _optimizer(), scheduler_specific_kwargs=kwargs)
    ours = compat.get_scheduler("greedy", _optimizer(), scheduler_specific_kwargs=kwargs)
    expected = _metric_trace(anchor, metrics)
    assert len({tuple(row) for row in expected}) > 3  # the lr moved
    np.testing.assert_allclose(_metric_trace(ours, metrics), expected, rtol=1e-12, atol=0)
    assert ours.state_dict().keys() == anchor.state_dict().keys()
    # Hugging Face's checkpoint resumes in lrkit's class, and lrkit's in theirs
    resumed, back = (
        compat.GreedyLR(_optimizer(), **kwargs),
        transformers.optimization.GreedyLR(_optimizer(), **kwargs),
    )
    resumed.load_state_dict(anchor.state_dict())
    back.load_state_dict(ours.state_dict())
    more = metrics[::-1]
    expected = _metric_trace(anchor, more)
    np.testing.assert_allclose(_metric_trace(resumed, more), expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(_metric_trace(back, more), expected, rtol=1e-12, atol=0)


def test_greedy_bad_input() -> None:
    with pytest.raises(ValueError, match="GreedyLR: `factor`"):
        compat.GreedyLR(_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="GreedyLR: `factor`"):
        compat.GreedyLR(_optimizer(), factor=0.0)  # Hugging Face divides by it
    with pytest.raises(ValueError, match="`min_lr` has 3 values"):
        compat.GreedyLR(_optimizer(), min_lr=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="`mode`"):
        compat.GreedyLR(_optimizer(), mode="lowest")
    with pytest.raises(ValueError, match="`window_size`"):
        compat.GreedyLR(_optimizer(), window_size=0)


@pytest.mark.parametrize("name", list(compat.SCHEDULER_TYPES))
def test_get_scheduler_every_type(name: str) -> None:
    kwargs: dict[str, Any] = {}
    if name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        kwargs = {"min_lr_rate": 0.1}
    if name == "reduce_lr_on_plateau":
        kwargs = {"patience": 1}
    if name == "warmup_stable_decay":
        kwargs = {"num_decay_steps": 30}
    args = dict(num_warmup_steps=10, num_training_steps=100, scheduler_specific_kwargs=kwargs)
    anchor = transformers.get_scheduler(name, _optimizer(), **args)
    ours = compat.get_scheduler(transformers.SchedulerType(name), _optimizer(), **args)
    if name in ("reduce_lr_on_plateau", "greedy"):  # metric-driven
        metrics = np.abs(np.sin(np.arange(160) / 7.0)) + np.arange(160) * 1e-3
        np.testing.assert_allclose(
            _metric_trace(ours, metrics), _metric_trace(anchor, metrics), rtol=1e-12, atol=0
        )
        return
    np.testing.assert_allclose(_trace(ours, 160), _trace(anchor, 160), rtol=1e-12, atol=1e-15)


def test_resume_with_last_epoch() -> None:
    opt = _optimizer()
    first = compat.get_cosine_schedule_with_warmup(opt, 10, 100)
    for _ in range(30):
        first.step()
    anchor_opt = _optimizer()
    for g in anchor_opt.param_groups:
        g["initial_lr"] = g["lr"]
    anchor = transformers.get_cosine_schedule_with_warmup(anchor_opt, 10, 100, last_epoch=29)
    again = compat.get_cosine_schedule_with_warmup(_optimizer(), 10, 100, last_epoch=29)
    assert again.get_last_lr() == pytest.approx(anchor.get_last_lr(), rel=1e-12)
    assert again.get_last_lr() == pytest.approx(first.get_last_lr(), rel=1e-12)


def test_errors_match_the_anchor() -> None:
    with pytest.raises(ValueError, match="lr_end"):
        compat.get_polynomial_decay_schedule_with_warmup(_optimizer(), 10, 100, lr_end=1.0)
    with pytest.raises(ValueError, match="Only one of min_lr or min_lr_rate"):
        compat.get_cosine_with_min_lr_schedule_with_warmup(
            _optimizer(), 1, 10, min_lr=0.1, min_lr_rate=0.1
        )
    with pytest.raises(ValueError, match="Either num_training_steps or num_stable_steps"):
        compat.get_wsd_schedule(_optimizer(), 1, 10)
    with pytest.raises(ValueError, match="requires `num_training_steps`"):
        compat.get_scheduler("linear", _optimizer(), num_warmup_steps=10)
    with pytest.raises(ValueError, match=r"unknown scheduler 'cosin' \(did you mean 'cosine'\?\)"):
        compat.get_scheduler("cosin", _optimizer())
    with pytest.raises(
        ValueError, match="`num_warmup_steps` must be a non-negative integer, got -1"
    ):
        compat.get_linear_schedule_with_warmup(_optimizer(), -1, 10)


def test_adafactor_schedule_reports_the_optimizers_own_lr() -> None:
    from transformers.optimization import Adafactor
    from transformers.optimization import get_adafactor_schedule as theirs

    from lrkit.compat.transformers import AdafactorSchedule, get_adafactor_schedule

    def run(factory: Any) -> list[list[float]]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
        opt = Adafactor(model.parameters(), lr=None, relative_step=True, warmup_init=True)
        sched = factory(opt, initial_lr=1e-3)
        rows = [list(sched.get_last_lr())]
        for _ in range(5):
            model(torch.randn(8, 4)).pow(2).sum().backward()
            opt.step()
            sched.step()
            rows.append(list(sched.get_last_lr()))
            opt.zero_grad(set_to_none=False)
        return rows

    assert run(get_adafactor_schedule) == run(theirs)
    assert isinstance(
        get_adafactor_schedule(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)),
        AdafactorSchedule,
    )
    with pytest.raises(ValueError, match=r"AdafactorSchedule: `initial_lr` must be a non-negative"):
        get_adafactor_schedule(
            torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), initial_lr=-1.0
        )
