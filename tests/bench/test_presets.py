"""The preset studies: each reads as a valid config at every size, runs end to end when
shrunk, and states its finding."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("torch")
from lrkit.bench import load, read_config, run
from lrkit.bench.presets import PRESETS, SIZES

CLAIMS = {
    "lr-robustness": "RAdam", "warmup": "warmup", "schedules": "Cosine", "restarts": "restarts",
    "clipping": "clipping", "batch-size": "batch size 1", "lr-free": "Learning-rate-free",
}  # fmt: skip


def test_seven_presets_each_with_its_claim() -> None:
    assert sorted(PRESETS) == sorted(CLAIMS)
    for name, word in CLAIMS.items():
        assert word in PRESETS[name].claim
    for preset in PRESETS.values():
        for size in SIZES:
            configs = [read_config(c) for c in preset.studies(size)]
            assert configs and len({c.study for c in configs}) == len(configs)
    with pytest.raises(ValueError, match="size must be one of"):
        PRESETS["warmup"].studies("huge")


def _shrunk(cfg: dict) -> dict:
    """The quick config cut to a few seconds: every dimension kept, each at most two wide."""
    out = dict(cfg)
    for key in ("optimizers", "schedules", "lr", "batch_size"):
        if isinstance(out.get(key), list):
            out[key] = out[key][:2]
    out["seeds"] = 1
    if "steps" in out:
        out["steps"] = min(out["steps"], 30)
        out["eval_every"] = 10
        out["schedules"] = [
            s.replace("steps=150", "steps=30") for s in out.get("schedules", ["constant()"])
        ]
    else:
        out["epochs"] = 0.2
        out["batch_size"] = [16, 128]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_each_preset_runs_shrunk_and_states_a_finding(name: str, tmp_path: Path) -> None:
    preset = PRESETS[name]
    rows = []
    for cfg in preset.studies("quick"):
        small = _shrunk(cfg)
        run(small, db=tmp_path / "p.db")
        rows += load(tmp_path / "p.db", small["study"])
    assert rows and all(r.status in ("ok", "diverged") for r in rows)
    finding = preset.finding(rows)
    assert isinstance(finding, str) and len(finding) > 20
    assert dataclasses.is_dataclass(preset)
