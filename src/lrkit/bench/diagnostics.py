"""What a trial records of its first steps, for the warmup study (``measure: [warmup_stats]``).

Over the first ``EARLY_STEPS`` updates: the histogram of ``log10 |g|`` of
every gradient entry (one row per step), and quantiles of the step each
parameter actually took relative to its gradient, ``|delta p| / |g|`` -- the
effective per-parameter learning rate (``lr`` for SGD; ``lr / (sqrt(v_hat) +
eps)`` for Adam, whose spread over the first steps is the variance the
warmup argument is about).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

EARLY_STEPS = 40
EDGES = [float(e) for e in torch.linspace(-10.0, 2.0, 49)]  # log10 |g| bins
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_SAMPLE = 200_000  # entries per step the quantiles are estimated from


class EarlySteps:
    """Hooks a trial calls around each ``optimizer.step()``."""

    def __init__(self, model: nn.Module, optimizer: Any) -> None:
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.hist: list[list[int]] = []
        self.step_sizes: list[list[float]] = []
        self._before: list[torch.Tensor] = []
        self._grads: list[torch.Tensor] = []
        self._gen = torch.Generator().manual_seed(0)

    def before_step(self, step: int) -> None:
        if step >= EARLY_STEPS:
            return
        grads = [p.grad.detach().flatten() for p in self.params if p.grad is not None]
        flat = torch.cat(grads).double().cpu() if grads else torch.zeros(1, dtype=torch.float64)
        logs = torch.log10(flat.abs().clamp_min(1e-30))
        counts = torch.histogram(
            logs.clamp(EDGES[0], EDGES[-1]), torch.tensor(EDGES, dtype=torch.float64)
        )
        self.hist.append([int(c) for c in counts.hist])
        self._before = [p.detach().flatten().clone() for p in self.params if p.grad is not None]
        self._grads = grads

    def after_step(self, step: int) -> None:
        if step >= EARLY_STEPS or not self._before:
            return
        after = [p.detach().flatten() for p in self.params if p.grad is not None]
        delta = torch.cat([a - b for a, b in zip(after, self._before)]).double().abs().cpu()
        grad = torch.cat(self._grads).double().abs().cpu()
        keep = grad > 1e-12
        ratio = delta[keep] / grad[keep]
        if ratio.numel() > _SAMPLE:
            ratio = ratio[torch.randint(ratio.numel(), (_SAMPLE,), generator=self._gen)]
        q = (
            torch.quantile(ratio, torch.tensor(QUANTILES, dtype=torch.float64))
            if ratio.numel()
            else None
        )
        self.step_sizes.append([float(v) for v in q] if q is not None else [0.0] * len(QUANTILES))
        self._before, self._grads = [], []

    def summary(self) -> dict[str, Any]:
        return {
            "grad_hist": {"edges": EDGES, "counts": self.hist},
            "step_size_quantiles": {"q": list(QUANTILES), "values": self.step_sizes},
        }


__all__ = ["EARLY_STEPS", "EDGES", "QUANTILES", "EarlySteps"]
