"""ScheduledLR: values per group and key, resume, compile, plateau, errors."""

from __future__ import annotations

import copy
import random
import warnings

import pytest
import torch

from lrkit import HorizonWarning, ScheduledLR
from lrkit.schedules import (
    Constant,
    Cosine,
    Linear,
    OneCycle,
    ReduceOnPlateau,
    WarmupCosine,
)


def _sgd() -> torch.optim.SGD:
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))
    return torch.optim.SGD(
        [{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.02, "lr_scale": 0.5}],
        momentum=0.9,
        weight_decay=1e-4,
    )


def _adam(**kwargs: object) -> torch.optim.Adam:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=1e-3, **kwargs)  # type: ignore[arg-type]


def test_is_a_torch_lr_scheduler() -> None:
    sched = ScheduledLR(_sgd(), Cosine(10))
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert sched.last_epoch == 0 and sched.get_last_lr() == pytest.approx([0.1, 0.01])


def test_per_group_and_per_key_values_match_the_schedules() -> None:
    opt = _sgd()
    lr = [WarmupCosine(40, 5), Cosine(30, end=0.1)]
    momentum = OneCycle(40).momentum(0.95, 0.85)
    wd = Linear(40, 1.0, 0.0)
    sched = ScheduledLR(
        opt, {"lr": lr, "momentum": momentum, "weight_decay": wd}, absolute={"momentum"}
    )
    for t in range(60):
        g0, g1 = opt.param_groups
        assert g0["lr"] == pytest.approx(0.1 * lr[0](t), rel=1e-15, abs=0)
        assert g1["lr"] == pytest.approx(0.02 * 0.5 * lr[1](t), rel=1e-15)  # lr_scale
        assert g0["momentum"] == g1["momentum"] == momentum(t)
        assert g0["weight_decay"] == pytest.approx(1e-4 * wd(t), rel=1e-15, abs=0)
        assert sched.get_last_lr() == [g0["lr"], g1["lr"]]
        opt.step()
        sched.step()


def test_betas_and_absolute_values() -> None:
    opt = _adam(betas=(0.9, 0.999))
    beta1 = OneCycle(20).momentum()
    sched = ScheduledLR(
        opt, {"lr": Constant(0.5), "betas[0]": beta1, "betas[1]": Constant(0.99)}, absolute=True
    )
    for t in range(25):
        assert opt.param_groups[0]["betas"] == (beta1(t), 0.99)
        assert opt.param_groups[0]["lr"] == 0.5
        sched.step()


def test_tensor_hyperparameters_are_written_in_place() -> None:
    lr, beta1 = torch.tensor(0.01), torch.tensor(0.9)
    opt = _adam(betas=(beta1, torch.tensor(0.999)))
    opt.param_groups[0]["lr"] = lr
    sched = ScheduledLR(opt, {"lr": Cosine(10), "betas[0]": Linear(10, 1.0, 0.9)})
    for _ in range(5):
        sched.step()
    assert opt.param_groups[0]["lr"] is lr and opt.param_groups[0]["betas"][0] is beta1
    assert lr.item() == pytest.approx(0.01 * Cosine(10)(5), rel=1e-6)
    assert beta1.item() == pytest.approx(0.9 * 0.95, rel=1e-6)
    assert isinstance(sched.get_last_lr()[0], torch.Tensor) and sched.get_last_lr()[0] is not lr


def test_steps_per_epoch_reads_the_schedule_in_epochs() -> None:
    per_batch = ScheduledLR(_sgd(), Cosine(5), steps_per_epoch=10)
    per_epoch_opt = _sgd()
    per_epoch = ScheduledLR(per_epoch_opt, Cosine(5))
    for epoch in range(7):
        for batch in range(10):
            assert per_batch.optimizer.param_groups[0]["lr"] == pytest.approx(
                0.1 * Cosine(5)(epoch + batch / 10)
            )
            per_batch.step()
        assert per_batch.optimizer.param_groups[0]["lr"] == pytest.approx(
            per_epoch_opt.param_groups[0]["lr"] * 0 + 0.1 * Cosine(5)(epoch + 1)
        )
        per_epoch.step()
        assert per_epoch_opt.param_groups[0]["lr"] == pytest.approx(0.1 * Cosine(5)(epoch + 1))


def test_plateau_scale_multiplies_the_lr() -> None:
    opt = _sgd()
    sched = ScheduledLR(opt, Constant(), plateau=ReduceOnPlateau(patience=0, factor=0.5))
    sched.step(1.0)
    sched.step(1.0)  # no improvement: halve
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05) and sched.last_epoch == 2
    sched.observe(1.0)  # feeds the controller without advancing the clock
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025) and sched.last_epoch == 2
    with pytest.raises(ValueError, match="needs a `plateau` controller"):
        ScheduledLR(_sgd(), Constant()).step(1.0)


def _train(steps: int, cut: int | None, schedule: object) -> tuple[list[float], torch.Tensor]:
    """A small model trained `steps` steps, checkpointed and rebuilt at `cut`."""
    torch.manual_seed(0)
    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(steps)]

    def build() -> tuple[torch.nn.Module, torch.optim.Optimizer, ScheduledLR]:
        torch.manual_seed(1)
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return model, opt, ScheduledLR(opt, schedule)  # type: ignore[arg-type]

    model, opt, sched = build()
    lrs = []
    for t, (x, y) in enumerate(data):
        if t == cut:
            saved = copy.deepcopy((model.state_dict(), opt.state_dict(), sched.state_dict()))
            model, opt, sched = build()
            model.load_state_dict(saved[0])
            opt.load_state_dict(saved[1])
            sched.load_state_dict(saved[2])
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    return lrs, model.weight.detach().clone()


def test_resume_at_random_steps_is_bit_exact() -> None:
    schedule = WarmupCosine(60, 10, end=0.1)
    lrs, weight = _train(60, None, schedule)
    for cut in random.Random(0).sample(range(1, 60), 5):
        again, w = _train(60, cut, schedule)
        assert again == lrs, cut
        assert torch.equal(w, weight), cut


def test_state_dict_keys_and_schedule_mismatch() -> None:
    opt = _sgd()
    sched = ScheduledLR(opt, WarmupCosine(100, 10))
    for _ in range(30):
        sched.step()
    state = sched.state_dict()
    assert set(state) == {
        "step",
        "schedules",
        "base_values",
        "absolute",
        "steps_per_epoch",
        "plateau",
    }
    longer = ScheduledLR(_sgd(), WarmupCosine(200, 10))
    with pytest.raises(ValueError, match=r"(?s)saved schedules differ.*on_mismatch='current'"):
        longer.load_state_dict(state)
    longer.load_state_dict(state, on_mismatch="current")  # extend the run: new horizon wins
    assert longer.last_epoch == 30
    assert longer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * WarmupCosine(200, 10)(30))
    resumed = ScheduledLR(_sgd(), WarmupCosine(200, 10), on_mismatch="saved")
    resumed.load_state_dict(state)
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * WarmupCosine(100, 10)(30))
    del state["step"]
    with pytest.raises(ValueError, match=r"missing keys \['step'\]"):
        ScheduledLR(_sgd(), WarmupCosine(100, 10)).load_state_dict(state)


def test_base_values_come_from_the_state_not_the_optimizer() -> None:
    opt = _sgd()
    sched = ScheduledLR(opt, Cosine(50))
    for _ in range(10):
        sched.step()
    state = sched.state_dict()
    fresh = _sgd()
    fresh.param_groups[0]["lr"] = 123.0  # whatever the optimizer holds now
    again = ScheduledLR(fresh, Cosine(50))
    again.load_state_dict(state)
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_compiled_optimizer_step_does_not_recompile() -> None:
    """A torch.compile'd Adam step driven for 200 steps by a one-cycle lr and beta1
    compiles once; torch's OneCycleLR, which writes Python floats, recompiles."""
    from torch._dynamo.utils import counters

    torch.manual_seed(0)
    grads = [torch.randn(16) for _ in range(200)]
    one_cycle = OneCycle(200)

    def run(compiled: bool) -> tuple[torch.Tensor, int]:
        p = torch.nn.Parameter(torch.ones(16))
        opt = torch.optim.Adam(
            [p], lr=torch.tensor(0.01), betas=(torch.tensor(0.9), torch.tensor(0.999))
        )
        sched = ScheduledLR(
            opt, {"lr": one_cycle, "betas[0]": one_cycle.momentum()}, absolute={"betas[0]"}
        )
        step = torch.compile(opt.step) if compiled else opt.step
        torch._dynamo.reset()
        counters.clear()
        for g in grads:
            p.grad = g.clone()
            step()
            sched.step()
        return p.detach(), counters["stats"]["unique_graphs"]

    eager, _ = run(compiled=False)
    compiled, graphs = run(compiled=True)
    assert graphs == 1
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)  # the new values were used

    p = torch.nn.Parameter(torch.ones(16))
    opt = torch.optim.Adam([p], lr=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=200)
    step = torch.compile(opt.step, backend="eager")
    torch._dynamo.reset()
    counters.clear()
    for g in grads[:20]:
        p.grad = g.clone()
        step()
        sched.step()
    assert counters["stats"]["unique_graphs"] > 1


def test_horizon_warning() -> None:
    with pytest.warns(HorizonWarning, match="cut short"):
        ScheduledLR(_sgd(), WarmupCosine(1000, 100), total_steps=500)
    with pytest.warns(HorizonWarning, match="holds"):
        ScheduledLR(_sgd(), Cosine(10), steps_per_epoch=100, total_steps=3000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ScheduledLR(_sgd(), Cosine(10), steps_per_epoch=100, total_steps=1000)


@pytest.mark.parametrize(
    ("make", "exc", "message"),
    [
        (
            lambda: ScheduledLR(_sgd(), {"learning_rate": Cosine(10)}),
            ValueError,
            "unknown hyperparameter key 'learning_rate'; use one of lr, momentum, weight_decay",
        ),
        (
            lambda: ScheduledLR(_sgd(), [Cosine(10)]),
            ValueError,
            "`schedule['lr']` has 1 entries but the optimizer has 2 param groups",
        ),
        (
            lambda: ScheduledLR(_sgd(), "cosine(steps=10)"),
            TypeError,
            "schedules must be lrkit Schedules, got str for 'lr'",
        ),
        (
            lambda: ScheduledLR(_sgd(), {"betas[0]": Cosine(10)}),
            ValueError,
            "SGD param group 0 has no 'betas[0]'",
        ),
        (
            lambda: ScheduledLR(_adam(), {"momentum": Cosine(10)}),
            ValueError,
            "Adam param group 0 has no 'momentum'",
        ),
        (
            lambda: ScheduledLR(
                torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1),
                {"momentum": Cosine(10)},
            ),
            ValueError,
            "param group 0 has momentum = 0, so a relative schedule would keep it 0",
        ),
        (
            lambda: ScheduledLR("adam", Cosine(10)),
            TypeError,  # type: ignore[arg-type]
            "`optimizer` must be a torch.optim.Optimizer, got str",
        ),
        (
            lambda: ScheduledLR(_sgd(), Cosine(10), plateau=0.5),
            TypeError,  # type: ignore[arg-type]
            "`plateau` must be a ReduceOnPlateau",
        ),
        (
            lambda: ScheduledLR(_sgd(), Cosine(10), absolute={"momentum"}),
            ValueError,
            "`absolute` names keys with no schedule: ['momentum']",
        ),
        (
            lambda: ScheduledLR(_sgd(), Cosine(10), steps_per_epoch=0),
            ValueError,
            "ScheduledLR: `steps_per_epoch` must be a positive integer, got 0",
        ),
        (
            lambda: ScheduledLR(_sgd(), Cosine(10), on_mismatch="ignore"),
            ValueError,
            "ScheduledLR: `on_mismatch` must be one of 'error', 'saved', 'current'",
        ),
    ],
)
def test_bad_input(make: object, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc) as info:
        make()  # type: ignore[operator]
    assert message in str(info.value)


def _two_group_scheduler() -> tuple[torch.optim.Optimizer, ScheduledLR]:
    p, q = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.2}], lr=0.1)
    sched = ScheduledLR(opt, WarmupCosine(steps=10, warmup=2))
    sched.step()
    return opt, sched


@pytest.mark.parametrize(
    "edit, exc, message",
    [
        (
            lambda d: d["base_values"].update(lr=[0.1]),
            ValueError,
            r"'base_values'\['lr'\] must hold one number per param group \(2\), got 1",
        ),
        (
            lambda d: d["base_values"].update(lr=[float("nan"), 0.1]),
            ValueError,
            r"`base_values\['lr'\]` must be a finite number, got nan",
        ),
        (
            lambda d: d["base_values"].update(lr=[True, 0.1]),
            TypeError,
            r"`base_values\['lr'\]` must be a finite number, got True",
        ),
        (
            lambda d: d["schedules"].update(lr=d["schedules"]["lr"][:1]),
            ValueError,
            r"'schedules'\['lr'\] must list one schedule per param group \(2\), got 1",
        ),
        (lambda d: d.update(step=-1), ValueError, r"`step` must be a non-negative integer, got -1"),
        (
            lambda d: d.update(step=1.5),
            TypeError,
            r"`step` must be a non-negative integer, got 1\.5",
        ),
        (
            lambda d: d.update(step=True),
            TypeError,
            r"`step` must be a non-negative integer, got True",
        ),
        (
            lambda d: d.update(steps_per_epoch=0),
            ValueError,
            r"`steps_per_epoch` must be a positive integer, got 0",
        ),
        (
            lambda d: d.update(absolute="lr"),
            TypeError,
            r"'absolute' must be a list of keys, got 'lr'",
        ),
        (
            lambda d: d.update(absolute=["momentum"]),
            ValueError,
            r"'absolute' names keys with no schedule: \['momentum'\]",
        ),
        (lambda d: d.update(schedules=[]), TypeError, r"'schedules' must be a dict, got list"),
        (lambda d: d.pop("step"), ValueError, r"missing keys \['step'\]"),
    ],
)
def test_load_state_dict_checks_everything_before_it_changes_anything(edit, exc, message) -> None:
    opt, sched = _two_group_scheduler()
    good = sched.state_dict()
    bad = copy.deepcopy(good)
    edit(bad)
    with pytest.raises(exc, match=message):
        sched.load_state_dict(bad)
    assert sched.state_dict() == good  # unchanged, and still steps
    sched.step()
    assert sched.last_epoch == 2 and [g["lr"] for g in opt.param_groups] == sched.get_last_lr()


def test_a_bad_plateau_state_leaves_the_scheduler_as_it_was() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = ScheduledLR(opt, Constant(), plateau=ReduceOnPlateau(patience=0))
    sched.step(1.0)
    good = sched.state_dict()
    bad = copy.deepcopy(good)
    bad["step"], bad["plateau"]["num_bad"] = 7, -2
    with pytest.raises(
        ValueError,
        match=r"ReduceOnPlateau.load_state_dict: `num_bad` must be a non-negative integer, got -2",
    ):
        sched.load_state_dict(bad)
    assert sched.state_dict() == good
