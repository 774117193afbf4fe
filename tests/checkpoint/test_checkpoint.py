"""lrkit.checkpoint in one process (tests/distributed covers DDP and FSDP2): exact resume,
the random generators, stateful and plain extras, keep=N, and errors users can catch."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lrkit import ScheduledLR, load_checkpoint, save_checkpoint
from lrkit.checkpoint import folders
from lrkit.optim import AdamWScheduleFree, Lamb
from lrkit.schedules import WarmupCosine


def _setup(cls, *, train_mode: bool = True):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = cls(model.parameters(), lr=1e-2)
    if hasattr(opt, "train") and train_mode:
        opt.train()
    return model, opt, ScheduledLR(opt, WarmupCosine(steps=10, warmup=2))


def _train(model, opt, sched, steps):
    for k in steps:
        g = torch.Generator().manual_seed(k)
        x, y = torch.randn(16, 4, generator=g), torch.randn(16, 2, generator=g)
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("cls", [Lamb, AdamWScheduleFree, torch.optim.Adam])
def test_resume_is_exact(tmp_path: Path, cls) -> None:
    straight = _setup(cls)
    _train(*straight, range(10))
    first = _setup(cls)
    _train(*first, range(5))
    save_checkpoint(tmp_path / "ckpt", *first, epoch=3)
    resumed = _setup(cls)  # fresh weights, no optimizer state
    assert load_checkpoint(tmp_path / "ckpt", *resumed) == {"epoch": 3}
    assert resumed[2].last_epoch == 5
    _train(*resumed, range(5, 10))
    for a, b in zip(straight[0].parameters(), resumed[0].parameters()):
        assert torch.equal(a, b)


def test_saving_a_fresh_optimizer_leaves_it_fresh(tmp_path: Path) -> None:
    """torch's DCP helpers take a step with zero grads to build a fresh optimizer's
    state, so Adam's first real step would count 2; lrkit saves the state as it is."""
    straight = _setup(torch.optim.Adam)
    _train(*straight, range(3))
    saved = _setup(torch.optim.Adam)
    save_checkpoint(tmp_path / "ckpt", *saved)
    assert saved[1].state_dict()["state"] == {}
    _train(*saved, range(3))
    for a, b in zip(straight[0].parameters(), saved[0].parameters()):
        assert torch.equal(a, b)


def test_a_fresh_schedule_free_optimizer_saves_and_loads_in_eval_mode(tmp_path: Path) -> None:
    model, opt, sched = _setup(AdamWScheduleFree, train_mode=False)
    save_checkpoint(tmp_path / "fresh", model, opt, sched)
    again = _setup(AdamWScheduleFree, train_mode=False)
    load_checkpoint(tmp_path / "fresh", *again)
    assert again[1].state_dict()["state"] == {}
    trained = _setup(AdamWScheduleFree)
    _train(*trained, range(3))
    trained[1].eval()
    save_checkpoint(tmp_path / "trained", *trained)
    fresh = _setup(AdamWScheduleFree, train_mode=False)
    load_checkpoint(tmp_path / "trained", *fresh)
    for a, b in zip(
        trained[1].state_dict()["state"].values(), fresh[1].state_dict()["state"].values()
    ):
        assert all(torch.equal(a[k], b[k]) for k in a)


class Sampler:
    """A stateful extra: a position in a shuffled order that it draws itself."""

    def __init__(self) -> None:
        self.position, self.seed = 0, 7

    def state_dict(self) -> dict:
        return {"position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.position, self.seed = state["position"], state["seed"]


def _noisy_run(model, opt, steps, sampler):
    """Dropout and NumPy/Python noise: depends on the global generators."""
    out = []
    for _ in steps:
        x = torch.randn(8, 4) + float(np.random.rand()) + random.random()
        opt.zero_grad()
        nn.functional.dropout(model(x), p=0.5).sum().backward()
        opt.step()
        sampler.position += 1
        out.append(float(x.sum()))
    return out


@pytest.mark.parametrize("restore", [True, False])
def test_resume_restores_the_random_generators(tmp_path: Path, restore: bool) -> None:
    def fresh():
        torch.manual_seed(1)
        model = nn.Linear(4, 3)
        return model, torch.optim.SGD(model.parameters(), lr=0.1), Sampler()

    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    model, opt, sampler = fresh()
    head = _noisy_run(model, opt, range(3), sampler)
    save_checkpoint(tmp_path / "ckpt", model, opt, sampler=sampler)
    tail = _noisy_run(model, opt, range(3), sampler)
    torch.manual_seed(99), np.random.seed(99), random.seed(99)  # another process, say
    model2, opt2, sampler2 = fresh()
    load_checkpoint(tmp_path / "ckpt", model2, opt2, sampler=sampler2, rng_state=restore)
    assert sampler2.position == 3 == len(head)
    resumed = _noisy_run(model2, opt2, range(3), sampler2)
    same = resumed == tail and all(
        torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters())
    )
    assert same is restore


def test_extras_round_trip_as_plain_data(tmp_path: Path) -> None:
    extra = {
        "epoch": 3,
        "best": float("inf"),
        "history": [0.5, None, "x"],
        "pair": (1, 2.5),
        "by_step": {10: 0.1, 20: 0.2},
        "ema": torch.arange(6.0).reshape(2, 3),
        "mask": np.array([True, False]),
        "scale": np.float32(0.25),
    }
    model, opt, _ = _setup(Lamb)
    save_checkpoint(tmp_path / "ckpt", model, opt, **extra)
    back = load_checkpoint(tmp_path / "ckpt", *_setup(Lamb)[:2])
    assert back.keys() == extra.keys()
    assert back["pair"] == (1, 2.5) and back["by_step"] == {10: 0.1, 20: 0.2}
    assert back["best"] == float("inf") and back["history"] == [0.5, None, "x"]
    assert torch.equal(back["ema"], extra["ema"])
    assert back["mask"].tolist() == [True, False] and back["scale"] == np.float32(0.25)
    # the folder holds JSON and DCP's tensors: no pickled object to run on load
    head = json.loads((tmp_path / "ckpt" / "lrkit.json").read_text())
    assert head["extra"]["epoch"] == 3


def test_an_object_that_is_not_plain_data_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    model, opt, _ = _setup(Lamb)
    save_checkpoint(tmp_path / "ckpt", model, opt, epoch=1)
    with pytest.raises(
        TypeError, match=r"save_checkpoint: extra\.callback is a builtins\.function"
    ):
        save_checkpoint(tmp_path / "ckpt", model, opt, epoch=2, callback=lambda: None)
    assert load_checkpoint(tmp_path / "ckpt", *_setup(Lamb)[:2]) == {"epoch": 1}
    assert not folders.staging(tmp_path / "ckpt").exists()


def test_keep_holds_the_latest_checkpoints(tmp_path: Path) -> None:
    model, opt, _ = _setup(Lamb)
    for epoch in range(5):
        save_checkpoint(tmp_path / "ckpt", model, opt, keep=3, epoch=epoch)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ckpt", "ckpt.1", "ckpt.2"]
    for name, epoch in (("ckpt", 4), ("ckpt.1", 3), ("ckpt.2", 2)):
        assert load_checkpoint(tmp_path / name, *_setup(Lamb)[:2]) == {"epoch": epoch}
    save_checkpoint(tmp_path / "ckpt", model, opt, epoch=5)  # keep=1 drops the history
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_a_scheduler_the_checkpoint_lacks_is_one_line(tmp_path: Path) -> None:
    model, opt, sched = _setup(Lamb)
    save_checkpoint(tmp_path / "ckpt", model, opt)
    with pytest.raises(
        ValueError,
        match=r"^load_checkpoint: .*ckpt was saved without a scheduler; pass scheduler=None$",
    ):
        load_checkpoint(tmp_path / "ckpt", model, opt, sched)


def test_a_model_with_other_layers_is_an_error_unless_not_strict(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2))
    save_checkpoint(tmp_path / "ckpt", model, torch.optim.SGD(model.parameters(), lr=0.1))
    smaller = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8))
    opt = torch.optim.SGD(smaller.parameters(), lr=0.1)
    with pytest.raises(
        ValueError, match=r"only in the checkpoint: 2\.bias, 2\.weight; pass strict=False"
    ):
        load_checkpoint(tmp_path / "ckpt", smaller, opt)
    load_checkpoint(tmp_path / "ckpt", smaller, opt, strict=False)
    assert torch.equal(smaller[1].weight, model[1].weight)


def test_an_optimizer_over_other_parameters_is_an_error_unless_not_strict(tmp_path: Path) -> None:
    model, opt, _ = _setup(torch.optim.Adam)
    _train(model, opt, _setup(torch.optim.Adam)[2], range(2))
    save_checkpoint(tmp_path / "ckpt", model, opt)
    fresh = _setup(torch.optim.Adam)[0]
    first_layer = torch.optim.Adam(fresh[0].parameters(), lr=1e-2)
    with pytest.raises(
        ValueError,
        match=r"param group 0 of the optimizer differs from the checkpoint's \(only saved: 2\.bias, 2\.weight\)",
    ):
        load_checkpoint(tmp_path / "ckpt", fresh, first_layer)
    load_checkpoint(tmp_path / "ckpt", fresh, first_layer, strict=False)
    assert torch.equal(
        first_layer.state[fresh[0].weight]["exp_avg"], opt.state[model[0].weight]["exp_avg"]
    )


def test_a_shape_mismatch_names_the_key_and_both_shapes(tmp_path: Path) -> None:
    model = nn.Linear(4, 8)
    save_checkpoint(tmp_path / "ckpt", model)
    other = nn.Linear(4, 6)
    with pytest.raises(
        ValueError, match=r"'weight' has shape \[8, 4\] in .*ckpt, \[6, 4\] in the model"
    ):
        load_checkpoint(tmp_path / "ckpt", other)


def test_missing_and_truncated_shards_are_catchable_and_named(tmp_path: Path) -> None:
    model, opt, _ = _setup(Lamb)
    save_checkpoint(tmp_path / "ckpt", model, opt)
    shard = next((tmp_path / "ckpt").glob("*.distcp"))
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{shard.name} is truncated \('.*' lies at bytes"):
        load_checkpoint(tmp_path / "ckpt", *_setup(Lamb)[:2])
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{shard.name} is missing \(it holds '"):
        load_checkpoint(tmp_path / "ckpt", *_setup(Lamb)[:2])


def test_a_corrupt_shard_is_a_value_error_not_a_base_exception(tmp_path: Path) -> None:
    model, opt, _ = _setup(Lamb)
    save_checkpoint(tmp_path / "ckpt", model, opt)
    shard = next((tmp_path / "ckpt").glob("*.distcp"))
    shard.write_bytes(bytes(len(shard.read_bytes())))  # same size, all zeros
    with pytest.raises(ValueError, match=r"^load_checkpoint: .*ckpt: "):
        load_checkpoint(tmp_path / "ckpt", *_setup(Lamb)[:2])


def test_unwritable_places_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    model, opt, _ = _setup(Lamb)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "file" / "ckpt", model, opt)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"data is a folder that is not a checkpoint"):
        save_checkpoint(tmp_path / "data", model, opt)
    assert (tmp_path / "data" / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match=r"is a file that is not a checkpoint"):
        save_checkpoint(tmp_path / "file", model, opt)


def test_incomplete_folders_and_bad_arguments(tmp_path: Path) -> None:
    model, opt, _ = _setup(Lamb)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / ".metadata").write_bytes(b"")
    with pytest.raises(ValueError, match=r"half is not a complete lrkit checkpoint"):
        load_checkpoint(tmp_path / "half", model, opt)
    with pytest.raises(TypeError, match=r"`path` must be a folder path"):
        save_checkpoint(3, model, opt)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`keep` must be a positive integer, got 0"):
        save_checkpoint(tmp_path / "c", model, opt, keep=0)
    with pytest.raises(TypeError, match=r"`model` must be an nn.Module"):
        save_checkpoint(tmp_path / "c", opt, opt)  # type: ignore[arg-type]
    save_checkpoint(tmp_path / "c", model, opt)
    with pytest.raises(ValueError, match=r"holds no stateful extra 'loader'"):
        load_checkpoint(tmp_path / "c", model, opt, loader=Sampler())
    with pytest.raises(TypeError, match=r"`loader` must have state_dict\(\) and load_state_dict"):
        load_checkpoint(tmp_path / "c", model, opt, loader=3)
