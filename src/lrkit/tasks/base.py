"""The task contract: a model, a loss, seeded data and an evaluation; and the task registry.

A :class:`Task` is everything a training loop, the LR range test or a
benchmark needs, built from a seed. Two tasks built with the same name,
options and seed are identical: same initial weights, same batches in the
same order (Note [task determinism]).

Note [task determinism]
~~~~~~~~~~~~~~~~~~~~~~~
A task never touches a global random state. Weights are initialised inside
``torch.random.fork_rng`` under ``torch.manual_seed(seed)``, and each pass
over the training data is shuffled by its own ``torch.Generator`` seeded with
``(seed, epoch)``, so the k-th batch depends only on the seed and k, however
the data are consumed. Generated datasets (MNIST-1D) restore NumPy's global
state after generating.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from lrkit.registry import Registry
from lrkit.validation import Param, normalize

Batch = tuple[Tensor, Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]


class Batches:
    """Mini-batches of ``(inputs, targets)``: each ``iter()`` is one epoch in a seeded order.

    >>> data = Batches(torch.arange(10.0), torch.arange(10), batch_size=4, seed=0)
    >>> len(data), [len(x) for x, _ in data]
    (3, [4, 4, 2])
    """

    def __init__(
        self,
        inputs: Tensor,
        targets: Tensor,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> None:
        if len(inputs) != len(targets):
            raise ValueError(
                f"Batches: `inputs` and `targets` must have the same length, "
                f"got {len(inputs)} and {len(targets)}"
            )
        self.inputs, self.targets = inputs, targets
        self.batch_size = int(
            normalize("Batches", "batch_size", Param(kind="int", lo=1), batch_size)
        )
        self.seed, self.shuffle, self.drop_last = seed, shuffle, drop_last
        self.epoch = 0  # epochs started
        self.position = 0  # batches handed out in the current epoch
        self._resume_at = 0

    def __len__(self) -> int:
        rounding = math.floor if self.drop_last else math.ceil
        return int(rounding(len(self.inputs) / self.batch_size))

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.inputs)
        start, self._resume_at = self._resume_at, 0
        epoch = self.epoch - 1 if start else self.epoch  # a resumed epoch was started before
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        self.epoch, self.position = epoch + 1, start
        for k in range(start, len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            self.position = k + 1
            yield self.inputs[idx], self.targets[idx]

    def state_dict(self) -> dict[str, int]:
        """Where the batches are: a checkpoint's stateful extra (Note [bit-exact resume])."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from :meth:`state_dict`: the next ``iter()`` resumes mid-epoch."""
        count = Param(kind="int", lo=0)
        epoch = normalize("Batches.load_state_dict", "epoch", count, state.get("epoch"))
        position = normalize("Batches.load_state_dict", "position", count, state.get("position"))
        if position > len(self) or (position and not epoch):
            raise ValueError(
                f"Batches.load_state_dict: `position` {position} is not inside an epoch of "
                f"{len(self)} batches"
            )
        done = position == len(self)
        self.epoch, self.position = epoch, 0 if done else position
        self._resume_at = self.position

    def forever(self) -> Iterator[Batch]:
        """Batches without end, epoch after epoch."""
        while True:
            yield from self


@dataclasses.dataclass
class Task:
    """A training problem built from a seed (see :func:`make_task`).

    ``loss_fn(model(inputs), targets)`` is the training loss of a batch from
    ``train``; ``evaluate()`` measures ``model`` (default: this task's) on the
    held-out data and returns named floats (always ``loss``).
    """

    name: str
    model: nn.Module
    loss_fn: LossFn
    train: Batches
    test: Batches
    seed: int
    metrics: Callable[[Tensor, Tensor], dict[str, float]]

    def loss(self, batch: Batch, model: nn.Module | None = None) -> Tensor:
        inputs, targets = batch
        return self.loss_fn((model or self.model)(inputs), targets)

    @torch.no_grad()
    def evaluate(self, model: nn.Module | None = None) -> dict[str, float]:
        model = model or self.model
        was_training = model.training
        model.eval()
        try:
            outputs, targets = [], []
            for inputs, target in self.test:
                outputs.append(model(inputs))
                targets.append(target)
            return self.metrics(torch.cat(outputs), torch.cat(targets))
        finally:
            model.train(was_training)


def classification_metrics(logits: Tensor, targets: Tensor) -> dict[str, float]:
    """Mean cross-entropy and accuracy."""
    loss = nn.functional.cross_entropy(logits, targets)
    accuracy = (logits.argmax(dim=1) == targets).double().mean()
    return {"loss": float(loss), "accuracy": float(accuracy)}


def seeded_model(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` with torch's RNG seeded, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """A registered task: its name, a one-line description and its builder."""

    name: str
    description: str
    build: Callable[..., Task]
    needs: str | None = None  # the optional package it needs, if any


TASKS: Registry[TaskInfo] = Registry("task")


def register_task(
    name: str, description: str, *, needs: str | None = None
) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    def add(build: Callable[..., Task]) -> Callable[..., Task]:
        TASKS.add(name, TaskInfo(name, description, build, needs))
        return build

    return add


def list_tasks() -> list[TaskInfo]:
    """Every registered task, sorted by name."""
    return [TASKS[k] for k in TASKS.names()]


def make_task(name: str, *, seed: int = 0, **options: Any) -> Task:
    """Build the task ``name`` (see :func:`list_tasks`) from ``seed``.

    ``options`` go to the task's builder (e.g. ``batch_size``).

    >>> task = make_task("quadratic", seed=0)
    >>> task.loss(next(iter(task.train))).item() > 0
    True
    """
    info = TASKS.get_or_raise(name, "make_task: ")
    seed = int(normalize("make_task", "seed", Param(kind="int", lo=0), seed))
    build = info.build
    accepted = [p for p in inspect.signature(build).parameters if p != "seed"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"make_task: task {name!r} takes {', '.join(accepted) or 'no options'}, "
            f"not {', '.join(unknown)}"
        )
    return build(seed=seed, **options)


__all__ = [
    "TASKS",
    "Batch",
    "Batches",
    "LossFn",
    "Task",
    "TaskInfo",
    "classification_metrics",
    "list_tasks",
    "make_task",
    "register_task",
    "seeded_model",
]
