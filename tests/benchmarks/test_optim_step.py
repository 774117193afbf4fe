"""benchmarks/optim_step.py's timing: rounds interleaved, ratios paired round by round."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import optim_step


def test_the_paired_ratio_is_the_median_of_the_ratios_round_by_round() -> None:
    # the machine is 3x slower in rounds 2, 4 and 5; ours is 0.7-0.9x the peer in each
    peer = [10.0, 30.0, 10.0, 30.0, 30.0]
    ours = [9.0, 24.0, 7.0, 26.0, 22.0]
    rounds = {"ours": ours, "peer": peer}
    assert optim_step.paired_ratio(rounds, "ours", "peer") == 0.8
    # the ratio of the medians mixes a slow round of one with a fast one of the other
    assert abs(sorted(ours)[2] / sorted(peer)[2] - 22.0 / 30.0) < 1e-12
    assert optim_step.paired_ratio(rounds, "peer", "peer") == 1.0


def test_time_rounds_times_every_optimizer_in_every_round() -> None:
    shapes = [(7,), (3, 5)]
    makers = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
        "adam": lambda ps: torch.optim.Adam(ps, lr=0.1),
    }
    rounds = optim_step.time_steps(makers, shapes, steps=2, repeat=4)
    assert set(rounds) == {"sgd", "adam"}
    assert all(len(ts) == 4 and all(t > 0 for t in ts) for ts in rounds.values())
    opts = {n: optim_step.ready(m, shapes) for n, m in makers.items()}
    medians = optim_step.time_ready(opts, steps=1, repeat=3)
    assert set(medians) == {"sgd", "adam"} and all(t > 0 for t in medians.values())
