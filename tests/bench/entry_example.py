"""A user's entry point for the bench: a linear regression built from a seed."""

from __future__ import annotations

import torch
from torch import nn


def setup(seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 4, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.01 * torch.randn(256, generator=gen)
    model = nn.Linear(4, 1)
    data = [(x[i : i + 32], y[i : i + 32, None]) for i in range(0, 256, 32)]

    def evaluate(m: nn.Module) -> dict:
        return {"loss": float(nn.functional.mse_loss(m(x), y[:, None]))}

    return {"model": model, "loss_fn": nn.functional.mse_loss, "data": data, "evaluate": evaluate}


def broken() -> dict:
    raise RuntimeError("the user's setup failed")
