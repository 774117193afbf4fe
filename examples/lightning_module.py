"""ScheduledLR in Lightning: ``configure_optimizers`` with ``"interval": "step"``.

Run: ``python examples/lightning_module.py`` (a tiny regression model on CPU).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from lrkit import ScheduledLR
from lrkit.schedules import OneCycle


class Regressor(L.LightningModule):
    def __init__(self, total_steps: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.total_steps = total_steps
        self.seen_lrs: list[float] = []

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        self.seen_lrs.append(self.optimizers().param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(self.linear(x), y)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
        one_cycle = OneCycle(self.total_steps)
        scheduler = ScheduledLR(
            optimizer,
            {"lr": one_cycle, "momentum": one_cycle.momentum(0.95, 0.85)},
            absolute={"momentum"},
            total_steps=self.total_steps,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def main(max_steps: int = 40) -> Regressor:
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8
    )
    module = Regressor(max_steps)
    trainer = L.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)
    return module


if __name__ == "__main__":
    lrs = main().seen_lrs
    print(f"lr went from {lrs[0]:.3g} to {max(lrs):.3g} and back to {lrs[-1]:.3g}")
