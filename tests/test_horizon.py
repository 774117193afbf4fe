from __future__ import annotations

import warnings

import pytest

from lrkit.horizon import HorizonWarning, check_horizon, steps_per_epoch, training_steps
from lrkit.schedules import Cosine, Cyclic, WarmupCosine


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(dataset_size=1000, batch_size=32), 32),  # 31.25 -> 32 batches
        (dict(dataset_size=1000, batch_size=32, drop_last=True), 31),
        (dict(dataset_size=1000, batch_size=32, grad_accum=4), 8),
        (
            dict(dataset_size=1000, batch_size=32, grad_accum=3),
            11,
        ),  # last partial accumulation updates
        (dict(dataset_size=1001, batch_size=10, world_size=4), 26),  # 251 samples per rank (padded)
        (dict(dataset_size=1001, batch_size=10, world_size=4, drop_last=True), 25),  # 250 per rank
    ],
)
def test_steps_per_epoch(kwargs: dict[str, int], expected: int) -> None:
    assert steps_per_epoch(**kwargs) == expected


def test_training_steps_and_errors() -> None:
    assert training_steps(1000, 32, 10) == 320
    assert training_steps(1000, 32, 2.5) == 80
    with pytest.raises(
        ValueError, match="steps_per_epoch: `batch_size` must be a positive integer, got 0"
    ):
        steps_per_epoch(100, 0)
    with pytest.raises(ValueError, match="make no full batch"):
        steps_per_epoch(10, 32, drop_last=True)
    with pytest.raises(ValueError, match="`epochs` must be a positive finite number"):
        training_steps(100, 10, 0)


def test_check_horizon() -> None:
    with pytest.warns(HorizonWarning, match=r"training stops at step 500.*cut short at value"):
        assert not check_horizon(WarmupCosine(1000, 100), 500)
    with pytest.warns(HorizonWarning, match=r"settles at step 1000 and holds 0 for the last 1000"):
        assert not check_horizon(Cosine(1000), 2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_horizon(Cosine(1000), 1020)
        assert check_horizon(Cyclic(10), 12345)  # periodic: no horizon
