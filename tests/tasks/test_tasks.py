"""lrkit.tasks: determinism from the seed, untouched global RNGs, tasks that train."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrkit.tasks import SURFACES, Batches, list_tasks, make_task
from lrkit.tasks.functions import CONDITION, quadratic

NETWORKS = ["digits", "mnist1d", "mnist1d_cnn", "char_lm"]


def _first_batches(task, n=3):
    it = task.train.forever()
    return [next(it) for _ in range(n)]


@pytest.mark.parametrize("name", [t.name for t in list_tasks()])
def test_same_seed_same_task(name: str) -> None:
    a, b = make_task(name, seed=3), make_task(name, seed=3)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    for (x1, y1), (x2, y2) in zip(_first_batches(a), _first_batches(b)):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    loss = a.loss(_first_batches(a, 1)[0])
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert "loss" in a.evaluate()


@pytest.mark.parametrize("name", NETWORKS)
def test_seed_changes_weights_and_order_but_not_data(name: str) -> None:
    a, b = make_task(name, seed=0), make_task(name, seed=1)
    assert not torch.equal(next(a.model.parameters()), next(b.model.parameters()))
    xa, _ = _first_batches(a, 1)[0]
    xb, _ = _first_batches(b, 1)[0]
    assert not torch.equal(xa, xb)
    assert torch.equal(a.test.inputs, b.test.inputs)  # the held-out data do not move


def test_tasks_leave_global_rngs_alone() -> None:
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    for name in NETWORKS:
        make_task(name, seed=5)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert np.array_equal(after[1], np_state[1]) and after[2] == np_state[2]


def test_digits_trains_and_evaluate_restores_mode() -> None:
    task = make_task("digits", seed=0)
    before = task.evaluate()
    assert set(before) == {"loss", "accuracy"} and before["accuracy"] < 0.3
    opt = torch.optim.SGD(task.model.parameters(), lr=0.3)
    batches = task.train.forever()
    for _ in range(150):
        opt.zero_grad()
        task.loss(next(batches)).backward()
        opt.step()
    task.model.train()
    after = task.evaluate()
    assert task.model.training
    assert after["accuracy"] > 0.85 and after["loss"] < before["loss"] / 3


def test_mnist1d_is_the_benchmark_shape() -> None:
    task = make_task("mnist1d", batch_size=50)
    assert task.train.inputs.shape == (4000, 40) and task.test.inputs.shape == (1000, 40)
    assert len(task.train) == 80 and set(task.train.targets.tolist()) == set(range(10))
    cnn = make_task("mnist1d_cnn")
    assert cnn.model(cnn.train.inputs[:2]).shape == (2, 10)


def test_batches_cover_each_sample_once_per_epoch() -> None:
    data = Batches(torch.arange(10.0), torch.arange(10), 3, seed=1)
    epochs = [torch.cat([x for x, _ in data]) for _ in range(2)]
    assert len(data) == 4
    assert sorted(epochs[0].tolist()) == list(range(10)) and not torch.equal(*epochs)
    assert len(Batches(torch.arange(10.0), torch.arange(10), 3, drop_last=True)) == 3
    with pytest.raises(ValueError, match="`inputs` and `targets` must have the same length"):
        Batches(torch.zeros(3), torch.zeros(2), 1)
    with pytest.raises(ValueError, match="Batches: `batch_size` must be a positive integer"):
        Batches(torch.zeros(3), torch.zeros(3), 0)


@pytest.mark.parametrize("name", list(SURFACES))
def test_surfaces_vanish_at_their_minimum(name: str) -> None:
    s = SURFACES[name]
    xy = torch.tensor(s.minimum, dtype=torch.float64, requires_grad=True)
    value = s(xy)
    (grad,) = torch.autograd.grad(value, xy)
    assert abs(float(value.detach())) < 1e-12 and float(grad.abs().max()) < 1e-9
    assert float(s(torch.tensor(s.start, dtype=torch.float64))) > 1
    (x0, x1), (y0, y1) = s.window
    assert x0 < s.start[0] < x1 and y0 < s.start[1] < y1


def test_quadratic_condition_number() -> None:
    hessian = torch.autograd.functional.hessian(quadratic, torch.zeros(2, dtype=torch.float64))
    eig = torch.linalg.eigvalsh(hessian)
    assert float(eig[1] / eig[0]) == pytest.approx(CONDITION)


def test_bad_task_arguments() -> None:
    with pytest.raises(ValueError, match=r"unknown task 'digts'.*did you mean 'digits'"):
        make_task("digts")
    with pytest.raises(ValueError, match="make_task: `seed` must be a non-negative integer"):
        make_task("quadratic", seed=-1)
    with pytest.raises(ValueError, match="digits: `batch_size` must be a positive integer"):
        make_task("digits", batch_size=0)
    with pytest.raises(TypeError, match="make_task: task 'quadratic' takes"):
        make_task("quadratic", batch_size=3)


def test_batches_resume_mid_epoch_from_their_state() -> None:
    def make() -> Batches:
        return Batches(torch.arange(10.0), torch.arange(10), 3, seed=4)

    straight = make().forever()
    want = [next(straight)[1].tolist() for _ in range(9)]
    first = make()
    stream = first.forever()
    got = [next(stream)[1].tolist() for _ in range(6)]  # an epoch and a half
    state = first.state_dict()
    assert state == {"epoch": 2, "position": 2}
    resumed = make()
    resumed.load_state_dict(state)
    stream = resumed.forever()
    got += [next(stream)[1].tolist() for _ in range(3)]
    assert got == want
    with pytest.raises(ValueError, match=r"`position` 9 is not inside an epoch of 4 batches"):
        make().load_state_dict({"epoch": 1, "position": 9})
    with pytest.raises(TypeError, match=r"`epoch` must be a non-negative integer, got None"):
        make().load_state_dict({"position": 1})
