"""ScheduledLR as the scheduler of a Hugging Face ``Trainer``: ``optimizers=(opt, sched)``.

Run: ``python examples/hf_trainer.py`` (a tiny regression model on CPU).
"""

from __future__ import annotations

import tempfile
from typing import Any

import torch
from transformers import Trainer, TrainingArguments

from lrkit import ScheduledLR
from lrkit.schedules import WarmupCosine


class Regressor(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": torch.nn.functional.mse_loss(self.linear(x), labels)}


def main(max_steps: int = 40, output_dir: str | None = None) -> dict[str, Any]:
    torch.manual_seed(0)
    w = torch.randn(4, 1)
    data = [{"x": x, "labels": x @ w} for x in torch.randn(256, 4)]
    model = Regressor()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    schedule = WarmupCosine(steps=max_steps, warmup=max_steps // 10, end=0.1)
    scheduler = ScheduledLR(optimizer, schedule, total_steps=max_steps)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=output_dir or tmp,
            max_steps=max_steps,
            per_device_train_batch_size=8,
            logging_steps=1,
            report_to=[],
            save_strategy="no",
            use_cpu=True,
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model, args=args, train_dataset=data, optimizers=(optimizer, scheduler)
        )
        trainer.train()
    logged = {
        e["step"]: e["learning_rate"] for e in trainer.state.log_history if "learning_rate" in e
    }
    return {"scheduler": scheduler, "optimizer": optimizer, "schedule": schedule, "logged": logged}


if __name__ == "__main__":
    result = main()
    final = result["optimizer"].param_groups[0]["lr"]
    print(f"trained {result['scheduler'].last_epoch} steps; final lr {final:.3g}")
