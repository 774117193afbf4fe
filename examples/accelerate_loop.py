"""ScheduledLR with Hugging Face Accelerate: ``accelerator.prepare(model, opt, sched)``.

Run: ``python examples/accelerate_loop.py`` (CPU; ``accelerate launch`` for more processes).
"""

from __future__ import annotations

from typing import Any

import torch
from accelerate import Accelerator

from lrkit import ScheduledLR
from lrkit.schedules import WSD


def main(steps: int = 40) -> dict[str, Any]:
    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    schedule = WSD(steps=steps, warmup=steps // 10, cooldown=steps // 4, shape="1-sqrt")
    scheduler = ScheduledLR(optimizer, schedule, total_steps=steps)
    x = torch.randn(steps * 8, 4)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8
    )
    model, optimizer, loader, prepared = accelerator.prepare(model, optimizer, loader, scheduler)
    seen = []
    for xb, yb in loader:
        seen.append(optimizer.param_groups[0]["lr"])
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        accelerator.backward(loss)
        optimizer.step()
        prepared.step()
        optimizer.zero_grad()
    return {"scheduler": scheduler, "prepared": prepared, "schedule": schedule, "seen": seen}


if __name__ == "__main__":
    out = main()
    print(f"{len(out['seen'])} steps; lr peak {max(out['seen']):.3g}, final {out['seen'][-1]:.3g}")
