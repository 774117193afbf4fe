"""lrkit.bench.trial: what one trial trains and records."""

from __future__ import annotations

import pytest

pytest.importorskip("optuna")
from lrkit.bench import read_config
from lrkit.bench.trial import run_trial


@pytest.mark.parametrize(
    ("optimizer", "lr"),
    [("adamw_schedulefree", 0.05), ("sgd_schedulefree", 0.5), ("prodigy", 1.0), ("muon", 0.05)],
)
def test_schedule_free_and_lr_free_optimizers_train_in_a_trial(optimizer: str, lr: float) -> None:
    # schedule-free steps in train mode and is evaluated in eval mode; Muon takes the
    # model's 2-D weights and gives the rest to AdamW
    cfg = read_config(
        {"task": "digits", "steps": 40, "eval_every": 20, "metric": "test_accuracy",
         "optimizers": [optimizer], "lr": [lr]}
    ).configurations()[0]  # fmt: skip
    result = run_trial(cfg)
    assert result.status == "ok", result.message
    assert result.value is not None and result.value > 0.3  # 10 classes: chance is 0.1
    assert [e[0] for e in result.evals] == [20, 40]
