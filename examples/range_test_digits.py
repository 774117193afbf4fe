"""Find an lr with the range test, then train with it: scikit-learn's digits, a small CNN.

    python examples/range_test_digits.py [-o range_test.png]   # docs: -o docs/range_test.png

The range test sweeps the lr from 1e-6 to 10 over 100 updates, restores the
model and optimizer, and suggests an lr (two thirds of the lr at the lowest
smoothed loss; docs/tools.md). The run that follows uses it as the peak of a
one-cycle schedule over 10 epochs.
"""

from __future__ import annotations

import argparse

import torch

import lrkit
from lrkit.schedules import OneCycle
from lrkit.tasks import make_task

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-o", "--output", default="range_test.png", help="where the plot goes")
out = parser.parse_args().output

task = make_task("digits", seed=0)
optimizer = torch.optim.SGD(task.model.parameters(), lr=0.1, momentum=0.9)
result = lrkit.range_test(task.model, optimizer, task.loss_fn, task.train, start_lr=1e-6)
result.plot(out, title="LR range test: digits CNN, SGD momentum 0.9")
print(f"suggested lr {result.suggested_lr:.3g} ({result.method}); plot: {out}")

result.apply(optimizer)
epochs = 10
steps = epochs * len(task.train)
scheduler = lrkit.ScheduledLR(optimizer, OneCycle(steps=steps))
for _ in range(epochs):
    for batch in task.train:
        optimizer.zero_grad()
        task.loss(batch).backward()
        optimizer.step()
        scheduler.step()
print(f"after {epochs} epochs: {task.evaluate()}")
