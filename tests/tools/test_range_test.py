"""The LR range test: suggestions that land in a measured good range, state restored, stops."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lrkit.tasks import make_task
from lrkit.tools.range_test import range_test, smooth, suggest, sweep_lrs


def _train(lr: float, steps: int = 200) -> float:
    task = make_task("digits", seed=0)
    opt = torch.optim.SGD(task.model.parameters(), lr=lr)
    batches = task.train.forever()
    for _ in range(steps):
        opt.zero_grad()
        task.loss(next(batches)).backward()
        opt.step()
    return task.evaluate()["accuracy"]


@pytest.mark.slow
def test_suggestion_falls_in_the_measured_good_range() -> None:
    """Good lrs are measured here: 200 SGD steps on digits reach 80% test accuracy (chance: 10%)."""
    grid = np.geomspace(3e-3, 3.0, 7)
    accuracy = np.array([_train(float(lr)) for lr in grid])
    good = grid[accuracy >= 0.8]
    assert 2 <= len(good) < len(grid) - 2  # a range, not everything
    task = make_task("digits", seed=0)
    opt = torch.optim.SGD(task.model.parameters(), lr=1.0)
    result = range_test(task.model, opt, task.loss_fn, task.train, start_lr=1e-6, end_lr=10)
    assert good.min() <= result.suggested_lr <= good.max(), (good, result.suggested_lr)
    assert result.suggested_lr == result.valley_lr


def test_model_and_optimizer_are_restored() -> None:
    task = make_task("digits", seed=1)
    model = task.model
    opt = torch.optim.Adam(
        [
            {"params": model[0].parameters(), "lr": 1e-3},
            {"params": model[2:].parameters(), "lr": 2e-3},
        ]
    )
    opt.zero_grad()
    task.loss(next(iter(task.train))).backward()
    opt.step()
    model.eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in opt.state.items()}
    seen = []

    def loss_fn(out, y):
        seen.append([g["lr"] for g in opt.param_groups])
        return torch.nn.functional.cross_entropy(out, y)

    range_test(model, opt, loss_fn, task.train, num_steps=20, end_lr=1.0)
    assert all(b == pytest.approx(2 * a) for a, b in seen)  # group ratios kept
    assert not model.training
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 2e-3]
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k])
    for p, s in opt.state.items():
        for k, v in s.items():
            assert torch.equal(v, state[id(p)][k])


def test_restored_even_when_the_loss_raises() -> None:
    task = make_task("quadratic")
    opt = torch.optim.SGD(task.model.parameters(), lr=0.01)
    start = task.model.xy.detach().clone()
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        if len(calls) > 5:
            raise RuntimeError("boom")
        return out.mean()

    with pytest.raises(RuntimeError, match="boom"):
        range_test(task.model, opt, loss_fn, task.train, num_steps=10)
    assert torch.equal(task.model.xy.detach(), start) and opt.param_groups[0]["lr"] == 0.01


def test_divergence_and_non_finite_losses_stop_without_crashing() -> None:
    task = make_task("quadratic")  # plain SGD diverges above lr = 2 / 100
    opt = torch.optim.SGD(task.model.parameters(), lr=0.01)
    result = range_test(
        task.model, opt, task.loss_fn, task.train, start_lr=1e-4, end_lr=1.0, smoothing=0.5
    )
    assert result.stop_reason == "diverged" and len(result.lrs) < 100
    assert 2 / 100 < result.lrs[-1] < 1.0
    assert result.suggested_lr is not None and result.suggested_lr < 2 / 100

    def nan_above(out, y):
        return out.mean() * (math.nan if opt.param_groups[0]["lr"] > 1e-2 else 1.0)

    result = range_test(
        task.model, opt, nan_above, task.train, start_lr=1e-4, end_lr=1.0, smoothing=0.9
    )
    assert result.stop_reason == "non-finite loss"
    assert all(math.isfinite(v) for v in result.losses) and max(result.lrs) <= 1e-2


def test_sweeps_and_smoothing() -> None:
    np.testing.assert_allclose(sweep_lrs(1e-4, 1.0, 5, "exp"), [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    np.testing.assert_allclose(sweep_lrs(0.0001, 1.0, 3, "linear"), [1e-4, 0.50005, 1.0])
    np.testing.assert_allclose(smooth([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])  # bias-corrected
    np.testing.assert_allclose(smooth([1.0, 3.0], 0.5), [1.0, (0.25 + 1.5) / 0.75])


def test_suggestions_on_a_known_curve() -> None:
    lrs = np.geomspace(1e-5, 1.0, 101)
    x = np.log10(lrs)
    loss = 2 - np.tanh(2 * (x + 2.5)) + np.where(x > -1, 5 * (x + 1) ** 2, 0)  # steepest at 10^-2.5
    picks = suggest(lrs, loss)
    assert picks["steepest"] == pytest.approx(10**-2.5, rel=0.13)
    assert 10**-3 < picks["valley"] < 10**-1
    assert picks["minimum"] == pytest.approx(lrs[np.argmin(loss[10:96]) + 10] / 10)
    assert suggest(lrs[:2], loss[:2]) == {"valley": None, "steepest": None, "minimum": None}


def test_result_json_and_plot(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib import image

    task = make_task("quadratic")
    opt = torch.optim.SGD(task.model.parameters(), lr=0.01)
    result = range_test(task.model, opt, task.loss_fn, task.train, num_steps=30, end_lr=0.1)
    data = json.loads(result.to_json())
    assert data["suggested_lr"] == result.suggested_lr and len(data["lrs"]) == len(result.lrs)
    pixels = image.imread(result.plot(tmp_path / "rt.png"))
    assert pixels.shape[1] >= 1000 and pixels.std() > 0.01
    assert matplotlib.get_backend().lower() == "agg"


def test_bad_arguments() -> None:
    task = make_task("quadratic")
    opt = torch.optim.SGD(task.model.parameters(), lr=0.01)
    args = (task.model, opt, task.loss_fn, task.train)
    cases = [
        ({"start_lr": 1.0, "end_lr": 0.1}, "`end_lr` must be greater than `start_lr`"),
        ({"start_lr": 0.0}, "`start_lr` must be a positive"),
        ({"num_steps": 1}, "`num_steps` must be an integer >= 2"),
        ({"mode": "log"}, "`mode` must be one of 'exp', 'linear'"),
        ({"smoothing": 1.0}, r"`smoothing` must be a number in \[0, 1\)"),
        ({"diverge_factor": 1.0}, "`diverge_factor` must be a finite number > 1"),
        ({"method": "fast"}, "`method` must be one of 'valley'"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=f"range_test: {message}"):
            range_test(*args, **kwargs)
    with pytest.raises(TypeError, match=r"`optimizer` must be a torch\.optim\.Optimizer"):
        range_test(task.model, "sgd", task.loss_fn, task.train)
    with pytest.raises(ValueError, match="`data` yielded no batches"):
        range_test(task.model, opt, task.loss_fn, [])
