"""Saves a ~100 MB checkpoint, for tests/checkpoint/test_kill.py to SIGKILL mid-save.

    python tests/checkpoint/kill_worker.py FOLDER VALUE

Every parameter holds VALUE. Prints "ready" when the model is built, waits for
a line on stdin, saves, and prints "saved SECONDS".
"""

from __future__ import annotations

import sys
import time

import torch

from lrkit.checkpoint import save_checkpoint

ROWS, COLS = 5000, 5000  # 25M float32 values: 100 MB


def model(value: float) -> torch.nn.Module:
    net = torch.nn.utils.skip_init(torch.nn.Linear, COLS, ROWS)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(value)
    return net


if __name__ == "__main__":
    folder, value = sys.argv[1], float(sys.argv[2])
    net = model(value)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    save_checkpoint(folder, net, opt, value=value)
    print(f"saved {time.perf_counter() - start:.3f}", flush=True)
