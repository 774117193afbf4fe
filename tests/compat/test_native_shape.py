"""Every compat scheduler's ``.schedules`` has one shape, ScheduledLR's:
``{"lr": [one native schedule per param group]}``."""

from __future__ import annotations

import warnings

import pytest
import torch

from lrkit.compat import timm as compat_timm
from lrkit.compat import torch as compat_torch
from lrkit.compat import transformers as compat_hf
from lrkit.schedules import Exponential, Schedule


def _optimizer() -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in (0.1, 0.02)]
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9)


MAKERS = {
    "torch.StepLR": lambda o: compat_torch.StepLR(o, 3),
    "torch.LambdaLR": lambda o: compat_torch.LambdaLR(o, Exponential(0.9)),
    "torch.CyclicLR": lambda o: compat_torch.CyclicLR(o, 0.01, 0.1),
    "torch.OneCycleLR": lambda o: compat_torch.OneCycleLR(o, 0.1, total_steps=20),
    "torch.CosineAnnealingWarmRestarts": lambda o: compat_torch.CosineAnnealingWarmRestarts(o, 5),
    "torch.SWALR": lambda o: compat_torch.SWALR(o, 0.05),
    "torch.SequentialLR": lambda o: compat_torch.SequentialLR(
        o, [compat_torch.LinearLR(o, 0.1, total_iters=3), compat_torch.ExponentialLR(o, 0.9)], [3]
    ),
    "timm.CosineLRScheduler": lambda o: compat_timm.CosineLRScheduler(o, 10, warmup_t=2),
    "timm.StepLRScheduler": lambda o: compat_timm.StepLRScheduler(o, 3),
    "transformers.cosine": lambda o: compat_hf.get_cosine_schedule_with_warmup(o, 2, 10),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_schedules_map_lr_to_one_schedule_per_group(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = MAKERS[name](_optimizer())
    native = sched.schedules
    assert isinstance(native, dict) and list(native) == ["lr"]
    assert len(native["lr"]) == 2 and all(isinstance(s, Schedule) for s in native["lr"])
