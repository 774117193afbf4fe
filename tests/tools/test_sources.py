"""Plot sources: specs, files and other libraries' schedulers, sampled to the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lrkit.schedules import Cosine, OneCycle, parse
from lrkit.tools.sources import SourceError, default_steps, load


def _torch_lrs(make, steps):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, momentum=0.9)
    sched = make(opt)
    lrs, momenta = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(momenta)


def test_torch_one_cycle_matches_the_real_scheduler() -> None:
    (curve,) = load("torch:OneCycleLR(max_lr=1.0, total_steps=100)", 99)
    lrs, momenta = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 1.0, total_steps=100), 100
    )
    np.testing.assert_allclose(curve.values, lrs, rtol=1e-12)
    np.testing.assert_allclose(curve.momentum, momenta, rtol=1e-12)
    assert curve.absolute


def test_hugging_face_short_names_match_transformers() -> None:
    transformers = pytest.importorskip("transformers")
    options = {"num_warmup_steps": 10, "num_training_steps": 100, "num_cycles": 0.4}
    (curve,) = load("transformers:cosine", 120, options)
    lrs, _ = _torch_lrs(
        lambda o: transformers.get_cosine_schedule_with_warmup(o, 10, 100, 0.4), 121
    )
    np.testing.assert_allclose(curve.values, lrs, rtol=1e-12, atol=1e-15)
    assert curve.momentum is None
    assert default_steps(["transformers:cosine"], options) == 110


def test_timm_keras_and_optax_sources() -> None:
    timm = pytest.importorskip("timm.scheduler")
    (curve,) = load("timm:cosine(t_initial=50, warmup_t=5, warmup_lr_init=0.01)", 60)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    real = timm.CosineLRScheduler(opt, t_initial=50, warmup_t=5, warmup_lr_init=0.01)
    expected = []
    for t in range(61):
        real.step(t)
        expected.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(curve.values, expected, rtol=1e-12)
    (keras,) = load("keras:CosineDecay", 100, {"initial_learning_rate": 1.0, "decay_steps": 100})
    (optax,) = load("optax:cosine_decay_schedule(init_value=1.0, decay_steps=100)", 100)
    np.testing.assert_allclose(keras.values, Cosine(100)(np.arange(101.0)), rtol=1e-12)
    np.testing.assert_allclose(optax.values, keras.values, rtol=1e-12)
    assert optax.breakpoints == (100,)


def test_native_specs_and_files(tmp_path: Path) -> None:
    (one,) = load("one_cycle(steps=100)", 100)
    np.testing.assert_array_equal(one.momentum, OneCycle(100).momentum()(np.arange(101.0)))
    assert one.breakpoints == tuple(OneCycle(100).breakpoints()) and not one.absolute
    (tmp_path / "s.json").write_text(json.dumps(Cosine(10, end=0.1).to_dict()))
    (tmp_path / "s.yaml").write_text("- cosine(steps=10)\n- linear(steps=5)\n")
    (from_json,) = load(str(tmp_path / "s.json"), 10)
    a, b = load(str(tmp_path / "s.yaml"), 10)
    assert from_json.values[10] == pytest.approx(0.1) and from_json.label == "s.json"
    np.testing.assert_array_equal(a.values, Cosine(10)(np.arange(11.0)))
    np.testing.assert_array_equal(b.values, parse("linear(steps=5)")(np.arange(11.0)))
    assert default_steps([str(tmp_path / "s.yaml")], {}) == 11


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such schedule file"):
        load(str(tmp_path / "missing.json"), 10)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(SourceError, match="not valid JSON"):
        load(str(tmp_path / "bad.json"), 10)
    (tmp_path / "num.json").write_text("[3]")
    with pytest.raises(SourceError, match="expected a schedule dict or spec string"):
        load(str(tmp_path / "num.json"), 10)
    with pytest.raises(SourceError, match="did you mean 'CosineAnnealingLR'"):
        load("torch:CosineAnealingLR", 10)
    with pytest.raises(SourceError, match=r"Hugging Face names are .*did you mean 'cosine'"):
        load("transformers:cosin", 10)
    with pytest.raises(SourceError, match="follows a metric"):
        load("torch:ReduceLROnPlateau", 10)
    with pytest.raises(SourceError, match="give arguments by keyword"):
        load("torch:StepLR(3)", 10)
    with pytest.raises(SourceError, match="malformed scheduler arguments"):
        load("torch:StepLR(step_size=", 10)
    with pytest.raises(ValueError, match="did you mean 'cosine'"):
        load("cosin(steps=3)", 10)
