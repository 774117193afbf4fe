"""ScheduledLR under Hugging Face Trainer, Lightning and Accelerate (the real packages),
through the examples in examples/."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lrkit_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_hugging_face_trainer() -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    out = _example("hf_trainer").main(max_steps=30)
    assert out["scheduler"].last_epoch == 30
    # the Trainer logs, at global step k, the lr that update k used: s(k - 1)
    for step, lr in out["logged"].items():
        assert lr == pytest.approx(1e-2 * out["schedule"](step - 1), rel=1e-12), step
    assert len(out["logged"]) >= 29


def test_lightning_step_interval() -> None:
    pytest.importorskip("lightning")
    module = _example("lightning_module").main(max_steps=30)
    scheduler = module.lr_schedulers()
    assert scheduler.last_epoch == 30
    expected = [0.05 * scheduler.schedules["lr"][0](t) for t in range(30)]
    assert module.seen_lrs == pytest.approx(expected, rel=1e-12)


def test_accelerate_prepared_scheduler() -> None:
    pytest.importorskip("accelerate")
    out = _example("accelerate_loop").main(steps=30)
    assert out["scheduler"].last_epoch == 30
    assert out["seen"] == pytest.approx([1e-2 * out["schedule"](t) for t in range(30)], rel=1e-12)
