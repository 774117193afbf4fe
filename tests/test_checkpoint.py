"""lrkit.checkpoint in one process (tests/distributed covers DDP and FSDP2): exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lrkit import ScheduledLR, load_checkpoint, save_checkpoint
from lrkit.optim import AdamWScheduleFree, Lamb
from lrkit.schedules import WarmupCosine


def _setup(cls):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = cls(model.parameters(), lr=1e-2)
    if hasattr(opt, "train"):
        opt.train()
    return model, opt, ScheduledLR(opt, WarmupCosine(steps=10, warmup=2))


def _train(model, opt, sched, steps):
    for k in steps:
        g = torch.Generator().manual_seed(k)
        x, y = torch.randn(16, 4, generator=g), torch.randn(16, 2, generator=g)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()


@pytest.mark.parametrize("cls", [Lamb, AdamWScheduleFree])
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


def test_load_from_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"load_checkpoint: `path` .* is not a checkpoint folder"):
        load_checkpoint(tmp_path / "nope", *_setup(Lamb))
