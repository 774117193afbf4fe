"""lrkit.compat.timm against timm itself: same lrs per group, warmup, noise, both clocks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

timm_scheduler = pytest.importorskip("timm.scheduler")

from lrkit.compat import timm as compat  # noqa: E402

LRS = (0.1, 0.03)


def _optimizer() -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in LRS]
    groups[1]["lr_scale"] = 0.5
    return torch.optim.SGD(groups, lr=0.1)


def _trace(scheduler: Any, steps: int, per_update: bool) -> np.ndarray:
    rows = [[g["lr"] for g in scheduler.optimizer.param_groups]]
    for t in range(1, steps):
        if per_update:
            scheduler.step_update(t)
            scheduler.step(t // 10)  # ignored when t_in_epochs=False
        else:
            scheduler.step(t)
            scheduler.step_update(t * 10)  # ignored when t_in_epochs=True
        rows.append([g["lr"] for g in scheduler.optimizer.param_groups])
    return np.array(rows)


def _same(name: str, steps: int, per_update: bool = False, **kwargs: Any) -> None:
    kwargs["t_in_epochs"] = not per_update
    anchor = getattr(timm_scheduler, name)(_optimizer(), **kwargs)
    ours = getattr(compat, name)(_optimizer(), **kwargs)
    np.testing.assert_allclose(
        _trace(ours, steps, per_update),
        _trace(anchor, steps, per_update),
        rtol=1e-12,
        atol=1e-15,
        err_msg=f"{name} {kwargs}",
    )
    assert set(ours.state_dict()) >= set(anchor.state_dict()) - {"warmup_steps"}


def _warmup(r: np.random.Generator) -> dict[str, Any]:
    return dict(
        warmup_t=int(r.choice([0, int(r.integers(1, 15))])),
        warmup_lr_init=float(r.uniform(0, 0.01)),
        warmup_prefix=bool(r.integers(2)),
    )


def _noise(r: np.random.Generator) -> dict[str, Any]:
    if r.integers(2):
        return {}
    return dict(
        noise_range_t=[int(r.integers(0, 20)), int(r.integers(30, 200))],
        noise_pct=0.3,
        noise_std=0.5,
        noise_seed=int(r.integers(100)),
    )


@pytest.mark.parametrize("seed", range(8))
def test_cosine(seed: int) -> None:
    r = np.random.default_rng(seed)
    _same(
        "CosineLRScheduler",
        250,
        per_update=bool(seed % 2),
        t_initial=int(r.integers(5, 60)),
        lr_min=float(r.uniform(0, 1e-3)),
        cycle_mul=float(r.choice([1.0, 2.0, 1.5])),
        cycle_decay=float(r.uniform(0.5, 1.0)),
        cycle_limit=int(r.integers(1, 4)),
        k_decay=float(r.choice([1.0, 0.7, 1.5])),
        **_warmup(r),
        **_noise(r),
    )


@pytest.mark.parametrize("seed", range(6))
def test_tanh_poly_step_multistep(seed: int) -> None:
    r = np.random.default_rng(seed)
    n = int(r.integers(10, 80))
    cycles = dict(
        cycle_mul=float(r.choice([1.0, 2.0, 1.5])),
        cycle_decay=float(r.uniform(0.5, 1.0)),
        cycle_limit=int(r.integers(1, 4)),
    )
    _same(
        "TanhLRScheduler",
        250,
        per_update=bool(seed % 2),
        t_initial=n,
        lb=-6.0,
        ub=4.0,
        lr_min=1e-4,
        **cycles,
        **_warmup(r),
        **_noise(r),
    )
    _same(
        "PolyLRScheduler",
        250,
        t_initial=n,
        power=float(r.uniform(0.3, 2)),
        lr_min=1e-4,
        k_decay=float(r.choice([1.0, 0.7, 1.5])),
        **cycles,
        **_warmup(r),
        **_noise(r),
    )
    _same(
        "StepLRScheduler",
        150,
        per_update=True,
        decay_t=int(r.integers(1, 30)),
        decay_rate=float(r.uniform(0.1, 0.9)),
        **_warmup(r),
        **_noise(r),
    )
    milestones = sorted(int(m) for m in r.integers(0, 120, size=3))
    _same(
        "MultiStepLRScheduler",
        150,
        decay_t=milestones,
        decay_rate=float(r.uniform(0.1, 0.9)),
        **_warmup(r),
        **_noise(r),
    )


def _plateau_trace(scheduler: Any, epochs: range, metrics: np.ndarray) -> np.ndarray:
    rows = []
    for epoch, metric in zip(epochs, metrics):
        scheduler.step(epoch, float(metric))
        rows.append([g["lr"] for g in scheduler.optimizer.param_groups])
    return np.array(rows)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # timm deprecates its plateau scheduler
@pytest.mark.parametrize("seed", range(6))
def test_plateau(seed: int) -> None:
    r = np.random.default_rng(seed)
    mode = ["min", "max"][seed % 2]
    metrics = np.cumsum(r.normal(-0.01 if mode == "min" else 0.01, 0.1, size=150))
    kwargs: dict[str, Any] = dict(
        decay_rate=float(r.uniform(0.1, 0.9)),
        patience_t=int(r.integers(0, 5)),
        threshold=float(r.uniform(0, 0.05)),
        cooldown_t=int(r.integers(0, 3)),
        lr_min=float(r.uniform(0, 1e-3)),
        mode=mode,
        warmup_t=int(r.choice([0, int(r.integers(1, 10))])),
        warmup_lr_init=float(r.uniform(0, 0.01)),
        **_noise(r),
    )
    anchor = timm_scheduler.PlateauLRScheduler(_optimizer(), **kwargs)
    ours = compat.PlateauLRScheduler(_optimizer(), **kwargs)
    epochs = range(seed % 2, 150)  # from epoch 0 or 1
    expected = _plateau_trace(anchor, epochs, metrics)
    assert len(np.unique(expected[:, 0])) > 3
    np.testing.assert_allclose(_plateau_trace(ours, epochs, metrics), expected, rtol=1e-12)
    # timm's two-key checkpoint loads; lrkit's own resumes exactly
    again = compat.PlateauLRScheduler(_optimizer(), **kwargs)
    again.load_state_dict(anchor.state_dict())
    assert again.lr_scheduler.best == anchor.lr_scheduler.best
    opt = _optimizer()
    first = compat.PlateauLRScheduler(opt, **kwargs)
    _plateau_trace(first, range(1, 60), metrics[:59])
    resumed = compat.PlateauLRScheduler(_optimizer(), **kwargs)
    resumed.optimizer.load_state_dict(opt.state_dict())
    resumed.load_state_dict(first.state_dict())
    np.testing.assert_array_equal(
        _plateau_trace(resumed, range(60, 100), metrics[59:99]),
        _plateau_trace(first, range(60, 100), metrics[59:99]),
    )
    with pytest.raises(ValueError, match="`epoch` must be an integer >= 0"):
        ours.step(-1)
    with pytest.raises(ValueError, match="PlateauLRScheduler: `decay_rate` must be"):
        compat.PlateauLRScheduler(_optimizer(), decay_rate=1.5)
    with pytest.raises(ValueError, match="PlateauLRScheduler: `patience_t` must be"):
        compat.PlateauLRScheduler(_optimizer(), patience_t=-1)


def test_anchor_checkpoint_loads() -> None:
    anchor = timm_scheduler.CosineLRScheduler(_optimizer(), t_initial=30, lr_min=1e-4, warmup_t=5)
    ours = compat.CosineLRScheduler(_optimizer(), t_initial=10)
    ours.load_state_dict(anchor.state_dict())
    np.testing.assert_allclose(
        [ours._get_lr(t) for t in range(40)], [anchor._get_lr(t) for t in range(40)], rtol=1e-12
    )


def test_bad_input_and_limits() -> None:
    with pytest.raises(
        ValueError, match="CosineLRScheduler: `t_initial` must be a positive integer, got 0"
    ):
        compat.CosineLRScheduler(_optimizer(), t_initial=0)
    with pytest.raises(ValueError, match="MultiStepLRScheduler: `decay_t` must be a list"):
        compat.MultiStepLRScheduler(_optimizer(), decay_t=[30, 10])
    with pytest.raises(
        TypeError, match=r"StepLRScheduler: `decay_t` must be a positive integer, got 2\.5"
    ):
        compat.StepLRScheduler(_optimizer(), decay_t=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"PolyLRScheduler: `cycle_mul` must be"):
        compat.PolyLRScheduler(_optimizer(), t_initial=10, cycle_mul=0.5)
    with pytest.raises(ValueError, match=r"TanhLRScheduler: `lb` must be < `ub`"):
        compat.TanhLRScheduler(_optimizer(), t_initial=10, lb=3.0, ub=-7.0)


PUBLIC_CASES = [
    (
        "CosineLRScheduler",
        dict(t_initial=10, warmup_t=3, warmup_lr_init=0.01, cycle_mul=1.5, cycle_limit=3),
    ),
    ("CosineLRScheduler", dict(t_initial=7, warmup_t=2, warmup_prefix=True, cycle_limit=2)),
    ("TanhLRScheduler", dict(t_initial=10, warmup_t=3, warmup_lr_init=0.01)),
    (
        "TanhLRScheduler",
        dict(t_initial=10, warmup_t=3, warmup_prefix=True, cycle_mul=2.0, cycle_limit=2),
    ),
    ("PolyLRScheduler", dict(t_initial=10, cycle_limit=2, warmup_t=4)),
    ("StepLRScheduler", dict(decay_t=3, warmup_t=2, warmup_lr_init=0.001)),
    ("MultiStepLRScheduler", dict(decay_t=[3, 6, 6], warmup_t=2)),
    ("MultiStepLRScheduler", dict(decay_t=[1, 4])),
]


@pytest.mark.filterwarnings("ignore::FutureWarning")  # timm deprecates its plateau scheduler
@pytest.mark.parametrize(
    "name, kwargs", [*PUBLIC_CASES, ("PlateauLRScheduler", dict(warmup_t=2, warmup_lr_init=0.01))]
)
def test_public_attributes_and_helpers_match_timm(name: str, kwargs: dict[str, Any]) -> None:
    """What timm's factory and training scripts read: warmup_steps, get_cycle_length,
    get_curr_decay_steps."""
    anchor = getattr(timm_scheduler, name)(_optimizer(), **kwargs)
    ours = getattr(compat, name)(_optimizer(), **kwargs)
    assert ours.warmup_steps == pytest.approx(anchor.warmup_steps, rel=1e-12)
    if hasattr(anchor, "get_cycle_length"):
        assert [ours.get_cycle_length(c) for c in range(5)] == [
            anchor.get_cycle_length(c) for c in range(5)
        ]
    if hasattr(anchor, "get_curr_decay_steps"):
        assert [ours.get_curr_decay_steps(t) for t in range(-1, 9)] == [
            anchor.get_curr_decay_steps(t) for t in range(-1, 9)
        ]
    fresh = getattr(compat, name)(_optimizer(), **kwargs)
    fresh.load_state_dict(ours.state_dict())
    assert fresh.warmup_steps == ours.warmup_steps
