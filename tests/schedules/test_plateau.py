"""ReduceOnPlateau: state dict round trip and resume; torch parity is in test_parity."""

from __future__ import annotations

import json

import pytest

from lrkit.schedules import ReduceOnPlateau

METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86]


def test_resume_from_state_dict_matches_uninterrupted_run() -> None:
    full = ReduceOnPlateau(patience=1, factor=0.5, cooldown=1)
    expected = [full.step(m) for m in METRICS]
    for cut in range(len(METRICS)):
        first = ReduceOnPlateau(patience=1, factor=0.5, cooldown=1)
        for m in METRICS[:cut]:
            first.step(m)
        state = json.loads(json.dumps(first.state_dict()))  # JSON safe
        second = ReduceOnPlateau(patience=1, factor=0.5, cooldown=1)
        second.load_state_dict(state)
        assert [second.step(m) for m in METRICS[cut:]] == expected[cut:]


def test_state_dict_keys_and_mismatch() -> None:
    p = ReduceOnPlateau(patience=2)
    state = p.state_dict()
    assert set(state) == {
        "config",
        "scale",
        "best",
        "num_bad",
        "cooldown_left",
        "last_metric",
        "steps",
    }
    with pytest.raises(ValueError, match="saved configuration"):
        ReduceOnPlateau(patience=3).load_state_dict(state)
    del state["scale"]
    with pytest.raises(ValueError, match=r"missing keys \['scale'\]"):
        ReduceOnPlateau(patience=2).load_state_dict(state)


def test_min_scale_eps_nan_and_reset() -> None:
    p = ReduceOnPlateau(patience=0, factor=0.5, min_scale=0.2)
    scales = [p.step(1.0) for _ in range(6)]
    assert scales == [1.0, 0.5, 0.25, 0.2, 0.2, 0.2]
    q = ReduceOnPlateau(patience=0)
    q.step(1.0)
    assert q.step(float("nan")) == pytest.approx(0.1)  # NaN never improves
    q.reset()
    assert q.scale == 1.0 and q.steps == 0
    with pytest.raises(TypeError, match="`metric` must be a number"):
        q.step("loss")  # type: ignore[arg-type]


def test_tensor_metric() -> None:
    torch = pytest.importorskip("torch")
    p = ReduceOnPlateau(mode="max", patience=0)
    p.step(torch.tensor(0.5))
    assert p.step(torch.tensor(0.4)) == pytest.approx(0.1)
