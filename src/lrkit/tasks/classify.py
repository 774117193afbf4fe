"""Classification tasks on bundled or generated data: MNIST-1D and scikit-learn's digits.

MNIST-1D (Greydanus, 2020) is generated offline with ``mnist1d.data.make_dataset``
and the benchmark's own arguments (5,000 signals of length 40, 10 classes,
4,000 for training; its ``get_dataset`` downloads, so it is not used). The
digits are scikit-learn's bundled 1,797 8x8 images, scaled to [0, 1], with a
fixed 80/20 split. The data never depend on the task's seed; the seed fixes
the initial weights and the batch order (Note [task determinism]).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import nn

from lrkit.extras import require
from lrkit.tasks.base import Batches, Task, classification_metrics, register_task, seeded_model
from lrkit.validation import Param, normalize

BATCH = Param(kind="int", lo=1)


@functools.lru_cache(maxsize=4)
def mnist1d_arrays(data_seed: int = 42) -> tuple[np.ndarray, ...]:
    """MNIST-1D as ``(x, y, x_test, y_test)``, generated (about 4 s) and cached per process."""
    data = require("mnist1d.data")
    args = data.get_dataset_args()
    args.seed = data_seed
    state = np.random.get_state()  # make_dataset seeds NumPy's global RNG
    try:
        d = data.make_dataset(args)
    finally:
        np.random.set_state(state)
    arrays = (d["x"], d["y"], d["x_test"], d["y_test"])
    for a in arrays:
        a.setflags(write=False)
    return arrays


@functools.lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, ...]:
    """scikit-learn's digits as ``(x, y, x_test, y_test)``: a fixed 80/20 split, x in [0, 1]."""
    datasets = require("sklearn.datasets")
    bunch = datasets.load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    cut = int(0.8 * len(y))
    arrays = (x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]])
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _task(
    name: str,
    arrays: tuple[np.ndarray, ...],
    model: nn.Module,
    seed: int,
    batch_size: int,
    shape: tuple[int, ...],
    device: Any,
) -> Task:
    batch_size = int(normalize(name, "batch_size", BATCH, batch_size))
    device = torch.device(device)
    x, y, x_test, y_test = (torch.tensor(a, device=device) for a in arrays)
    x, x_test = x.float().reshape(-1, *shape), x_test.float().reshape(-1, *shape)
    return Task(
        name=name,
        model=model.to(device),
        loss_fn=nn.functional.cross_entropy,
        train=Batches(x, y, batch_size, seed=seed),
        test=Batches(x_test, y_test, 1000, shuffle=False),
        seed=seed,
        metrics=classification_metrics,
    )


def mnist1d_mlp() -> nn.Module:
    """The MNIST-1D paper's MLP: 40 -> 100 -> 100 -> 10 with ReLU."""
    return nn.Sequential(
        nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
    )


def mnist1d_cnn() -> nn.Module:
    """The MNIST-1D paper's CNN: three stride-2 convolutions of 25 channels, then a linear head."""
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(125, 10),
    )


def digits_cnn() -> nn.Module:
    """Two 3x3 convolutions (16, 32 channels), a 2x2 max-pool and a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


@register_task("mnist1d", "MNIST-1D (generated offline), the paper's MLP", needs="mnist1d")
def mnist1d(*, seed: int = 0, batch_size: int = 100, device: Any = "cpu") -> Task:
    model = seeded_model(seed, mnist1d_mlp)
    return _task("mnist1d", mnist1d_arrays(), model, seed, batch_size, (40,), device)


@register_task("mnist1d_cnn", "MNIST-1D (generated offline), a small 1-D CNN", needs="mnist1d")
def mnist1d_conv(*, seed: int = 0, batch_size: int = 100, device: Any = "cpu") -> Task:
    model = seeded_model(seed, mnist1d_cnn)
    return _task("mnist1d_cnn", mnist1d_arrays(), model, seed, batch_size, (1, 40), device)


@register_task("digits", "scikit-learn's 8x8 digits, a small CNN", needs="scikit-learn")
def digits(*, seed: int = 0, batch_size: int = 64, device: Any = "cpu") -> Task:
    model = seeded_model(seed, digits_cnn)
    return _task("digits", digits_arrays(), model, seed, batch_size, (1, 8, 8), device)


__all__ = [
    "BATCH",
    "digits",
    "digits_arrays",
    "digits_cnn",
    "mnist1d",
    "mnist1d_arrays",
    "mnist1d_cnn",
    "mnist1d_conv",
    "mnist1d_mlp",
]
