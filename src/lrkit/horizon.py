"""How many optimizer steps a run takes, and whether a schedule was built for it.

Torch-free. ``steps_per_epoch`` follows what ``DataLoader`` + ``DistributedSampler``
+ gradient accumulation do: each rank sees ``ceil(N / world_size)`` samples
(``floor`` with ``drop_last``), makes ``ceil(samples / batch_size)`` batches
(``floor`` with ``drop_last``), and updates once per ``grad_accum`` batches,
the last partial accumulation included (as Hugging Face's Trainer and
Accelerate do).
"""

from __future__ import annotations

import math
import warnings

from lrkit.schedules import Schedule
from lrkit.validation import Param, normalize


class HorizonWarning(UserWarning):
    """Training and the schedule disagree on when training ends."""


def _positive(owner: str, name: str, value: int) -> int:
    return int(normalize(owner, name, Param(kind="int", lo=1), value))


def steps_per_epoch(
    dataset_size: int,
    batch_size: int,
    *,
    grad_accum: int = 1,
    world_size: int = 1,
    drop_last: bool = False,
) -> int:
    """Optimizer updates per epoch on each rank.

    >>> steps_per_epoch(50_000, 128, grad_accum=2, world_size=4)
    49
    """
    owner = "steps_per_epoch"
    n = _positive(owner, "dataset_size", dataset_size)
    batch = _positive(owner, "batch_size", batch_size)
    accum = _positive(owner, "grad_accum", grad_accum)
    world = _positive(owner, "world_size", world_size)
    rounding = math.floor if drop_last else math.ceil
    batches = rounding(rounding(n / world) / batch)
    if batches < 1:
        raise ValueError(
            f"{owner}: with drop_last, {n} samples over {world} rank(s) make no full batch "
            f"of {batch}"
        )
    return math.ceil(batches / accum)


def training_steps(
    dataset_size: int,
    batch_size: int,
    epochs: float,
    *,
    grad_accum: int = 1,
    world_size: int = 1,
    drop_last: bool = False,
) -> int:
    """Total optimizer updates of a run: ``steps_per_epoch * epochs`` (rounded up).

    >>> training_steps(50_000, 128, 90, grad_accum=2, world_size=4)
    4410
    """
    per_epoch = steps_per_epoch(
        dataset_size, batch_size, grad_accum=grad_accum, world_size=world_size, drop_last=drop_last
    )
    epochs = normalize(
        "training_steps", "epochs", Param(kind="float", lo=0.0, lo_open=True), epochs
    )
    return math.ceil(round(per_epoch * epochs, 9))


def check_horizon(schedule: Schedule, total_steps: float, *, tolerance: float = 0.05) -> bool:
    """Warn (:class:`HorizonWarning`) when training stops far from where ``schedule`` settles.

    Returns True when they agree within ``tolerance`` (relative), or when the
    schedule never settles (periodic or decaying forever), so has no horizon.
    """
    horizon = schedule.horizon()
    if horizon is None or horizon == 0:
        return True
    if total_steps < horizon * (1 - tolerance):
        warnings.warn(
            f"training stops at step {total_steps:g}, but {schedule} runs until step "
            f"{horizon:g}: its decay is cut short at value {schedule(total_steps):.4g}",
            HorizonWarning,
            stacklevel=2,
        )
        return False
    if total_steps > horizon * (1 + tolerance):
        warnings.warn(
            f"{schedule} settles at step {horizon:g} and holds {schedule(horizon):.4g} for the "
            f"last {total_steps - horizon:g} of {total_steps:g} steps",
            HorizonWarning,
            stacklevel=2,
        )
        return False
    return True


__all__ = ["HorizonWarning", "check_horizon", "steps_per_epoch", "training_steps"]
