"""The LR range test: a default suggestion that trains well, state restored, stops,
and what torch-lr-finder and Lightning users expect (devices, dict batches,
validation losses, AMP, notebooks)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lrkit import ScheduledLR
from lrkit.schedules import WarmupCosine
from lrkit.tasks import make_task
from lrkit.tools.range_test import range_test, smooth, sweep_lrs, sweep_schedule

OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "adamw": lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=0.01),
}


def _train(optimizer: str, lr: float, steps: int = 150) -> float:
    """Warmup + cosine on digits, as Note [default suggestion] measured it."""
    task = make_task("digits", seed=0)
    opt = OPTIMIZERS[optimizer](task.model.parameters(), lr)
    sched = ScheduledLR(opt, WarmupCosine(steps=steps, warmup=steps // 10))
    batches = task.train.forever()
    for _ in range(steps):
        loss = task.loss(next(batches))
        if not math.isfinite(float(loss.detach())):
            return 0.0
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return task.evaluate()["accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_the_default_suggestion_trains_within_5_percent_of_the_best(optimizer: str) -> None:
    """The good range is measured here, not assumed: digits at 2 lrs per decade from 1e-4
    to 3; good is within 5% of the best accuracy (benchmarks/range_test_rules.py does
    this on eight model/optimizer pairs)."""
    grid = 10 ** np.arange(-4.0, 0.6, 0.5)
    accuracy = np.array([_train(optimizer, float(lr)) for lr in grid])
    good = grid[accuracy >= 0.95 * accuracy.max()]
    assert 1 <= len(good) < len(grid) - 3  # a range, not everything
    for start in (1e-7, 1e-5):
        task = make_task("digits", seed=0)
        opt = OPTIMIZERS[optimizer](task.model.parameters(), 1.0)
        result = range_test(task.model, opt, task.loss_fn, task.train, start_lr=start)
        half_step = 10**0.25
        assert good.min() / half_step <= result.suggested_lr <= good.max() * half_step, (
            good, result.suggested_lr,
        )  # fmt: skip
        assert result.method == "minimum" and result.suggested_lr == result.minimum_lr


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
    assert result.suggested_lr is not None and result.suggested_lr < result.lrs[-1]

    def nan_above(out, y):
        return out.mean() * (math.nan if opt.param_groups[0]["lr"] > 1e-2 else 1.0)

    result = range_test(
        task.model, opt, nan_above, task.train, start_lr=1e-4, end_lr=1.0, smoothing=0.9
    )
    assert result.stop_reason == "non-finite loss"
    assert all(math.isfinite(v) for v in result.losses) and max(result.lrs) <= 1e-2


def test_sweeps_and_smoothing() -> None:
    np.testing.assert_allclose(sweep_lrs(1e-4, 1.0, 5, "exp"), [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert str(sweep_schedule(1e-4, 1.0, 5, "exp")).startswith("scale(schedule=exponential(")
    np.testing.assert_allclose(sweep_lrs(0.0001, 1.0, 3, "linear"), [1e-4, 0.50005, 1.0])
    np.testing.assert_allclose(smooth([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])  # bias-corrected
    np.testing.assert_allclose(smooth([1.0, 3.0], 0.5), [1.0, (0.25 + 1.5) / 0.75])


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
        ({"method": "fast"}, "`method` must be one of 'minimum', 'valley'"),
        ({"amp": "fp8"}, "`amp` must be one of 'bf16', 'fp16'"),
        ({"device": "gpu0"}, "`device` must name a torch device"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=f"range_test: {message}"):
            range_test(*args, **kwargs)
    with pytest.raises(TypeError, match=r"`optimizer` must be a torch\.optim\.Optimizer"):
        range_test(task.model, "sgd", task.loss_fn, task.train)
    with pytest.raises(ValueError, match="`data` yielded no batches"):
        range_test(task.model, opt, task.loss_fn, [])


def test_a_hugging_face_model_with_dict_batches() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, num_labels=3,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    gen = torch.Generator().manual_seed(0)
    data = [
        {
            "input_ids": torch.randint(0, 50, (8, 12), generator=gen),
            "labels": torch.randint(0, 3, (8,), generator=gen),
        }
        for _ in range(4)
    ]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    result = range_test(model, opt, None, data, num_steps=20, end_lr=1.0)
    assert len(result.lrs) >= 10 and all(math.isfinite(v) for v in result.losses)


def test_custom_batches_with_batch_fn_and_validation_losses() -> None:
    task = make_task("digits", seed=0)
    opt = torch.optim.SGD(task.model.parameters(), lr=0.1)
    batches = [SimpleNamespace(images=x, labels=y) for x, y in task.train]

    def batch_fn(model, batch):
        return torch.nn.functional.cross_entropy(model(batch.images), batch.labels)

    seen = []
    val = [SimpleNamespace(images=x, labels=y) for x, y in task.test]

    def counted(model, batch):
        seen.append(batch)
        return batch_fn(model, batch)

    result = range_test(task.model, opt, None, batches, batch_fn=counted, num_steps=12,
                        end_lr=1.0, val_data=val, val_batches=1)  # fmt: skip
    train_seen = [b for b in seen if any(b is t for t in batches)]
    assert len(train_seen) == 12 and len(seen) == 24  # each update, then one val batch
    with torch.no_grad():  # the model is restored: these are the losses before any update
        val_loss, train_loss = (
            float(batch_fn(task.model, val[0])),
            float(batch_fn(task.model, batches[0])),
        )
    assert result.losses[0] == pytest.approx(val_loss, rel=1e-4)  # the first update's lr is 1e-7
    assert result.losses[0] != pytest.approx(train_loss, rel=1e-4)
    with pytest.raises(TypeError, match=r"a batch must be \(inputs, targets\) with a `loss_fn`"):
        range_test(task.model, opt, None, batches, num_steps=3)


def test_autocast_and_a_device_argument() -> None:
    task = make_task("digits", seed=0)
    opt = torch.optim.SGD(task.model.parameters(), lr=0.1, momentum=0.9)
    result = range_test(task.model, opt, task.loss_fn, task.train, num_steps=20, end_lr=1.0,
                        amp="bf16", device="cpu")  # fmt: skip
    assert len(result.lrs) == 20 and all(math.isfinite(v) for v in result.losses)
    assert next(task.model.parameters()).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_moves_the_model_there_and_back() -> None:
    task = make_task("digits", seed=0)
    opt = torch.optim.Adam(task.model.parameters(), lr=1e-3)
    result = range_test(task.model, opt, task.loss_fn, task.train, num_steps=10, device="cuda")
    assert len(result.lrs) == 10 and next(task.model.parameters()).device.type == "cpu"


def test_apply_and_a_notebook_axes() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    task = make_task("quadratic")
    opt = torch.optim.SGD([{"params": [task.model.xy], "lr": 0.01}], lr=0.01)
    opt.param_groups[0]["initial_lr"] = 0.01
    result = range_test(task.model, opt, task.loss_fn, task.train, num_steps=30, end_lr=0.1)
    assert result.apply(opt) == result.suggested_lr
    assert opt.param_groups[0]["lr"] == opt.param_groups[0]["initial_lr"] == result.suggested_lr
    assert result.apply(opt, lr=0.02) == 0.02 and opt.param_groups[0]["lr"] == 0.02
    fig, ax = plt.subplots()
    assert result.plot(ax=ax) is ax and ax.get_xscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="pass `output` \\(a file\\) or `ax`"):
        result.plot()
