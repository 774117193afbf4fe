"""lrkit.bench.config: every key checked at read time, the grid expanded once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
from lrkit.bench import LRRange, read_config

BASE = {"task": "quadratic", "steps": 20}


def test_a_grid_expands_to_one_trial_per_configuration(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "version: 1\ntask: quadratic\nsteps: 40\neval_every: 10\nseeds: [0, 1]\n"
        "optimizers: [adam, 'sgd(momentum=0.9)']\n"
        "schedules: ['warmup_cosine(steps={steps}, warmup=4)', 'constant()']\n"
        "lr: [1e-3, 1e-2, 1e-1]\nmax_grad_norm: [null, 1.0]\n"
    )
    cfg = read_config(path)
    assert cfg.study == "sweep" and cfg.direction == "minimize"
    trials = cfg.configurations()
    assert len(trials) == 2 * 2 * 3 * 2 * 2 == len({t.key() for t in trials})
    assert {t.schedule for t in trials} == {"warmup_cosine(steps=40, warmup=4)", "constant()"}
    assert all(t.steps == 40 and t.eval_every == 10 for t in trials)
    assert read_config(path, study="other").study == "other"


def test_json_ranges_accuracy_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {**BASE, "metric": "test_accuracy", "lr": {"low": 1e-4, "high": 1.0, "trials": 5}}
        )
    )
    cfg = read_config(path)
    assert cfg.lr == LRRange(1e-4, 1.0, True, 5, "tpe") and cfg.direction == "maximize"
    assert cfg.configurations() == []  # a range is proposed while the sweep runs
    cfg = read_config(BASE)
    assert cfg.optimizers == ("adam",) and cfg.schedules == ("constant()",) and cfg.seeds == (0,)


def test_lr_scaling_scales_each_batch_size() -> None:
    cfg = read_config(
        {
            **BASE,
            "batch_size": [8, 32],
            "lr": [0.1],
            "lr_scaling": {"rule": "linear", "batch_size": 32},
        }
    )
    lrs = {t.batch_size: (t.lr, t.base_lr) for t in cfg.configurations()}
    assert lrs == {8: (pytest.approx(0.025), 0.1), 32: (pytest.approx(0.1), 0.1)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"optimisers": ["adam"]},
            "unknown key 'optimisers' (did you mean 'optimizers'?); valid keys:",
        ),
        ({"lr": []}, "`lr` is an empty grid"),
        ({"lr": [0.1, 0.0]}, "`lr` must be > 0, got 0.0"),
        ({"lr": -1}, "`lr` must be > 0"),
        ({"lr": {"low": 1e-3}}, "an `lr` range needs `high`"),
        ({"lr": {"low": 1e-2, "high": 1e-3}}, "`lr.high` must be greater than `lr.low`"),
        ({"lr": {"low": 1e-3, "high": 1, "trails": 3}}, "unknown key 'trails' in `lr`"),
        (
            {"optimizers": ["adamm"]},
            "`optimizers`: unknown optimizer 'adamm' (did you mean 'adam'?)",
        ),
        ({"optimizers": []}, "`optimizers` is an empty list"),
        ({"schedules": ["cosine(stepz=3)"]}, "`schedules`: Cosine: unknown argument 'stepz'"),
        ({"task": "digitz"}, "unknown task 'digitz' (did you mean 'digits'?)"),
        ({"task": "char_lm(layerz=2)"}, "task char_lm: unknown option 'layerz'"),
        ({"steps": 0}, "`steps` must be a positive integer"),
        ({"steps": None}, "exactly one of `steps` and `epochs`"),
        ({"metric": "loss"}, "`metric` must be one of test_loss, test_accuracy"),
        ({"seeds": [0, 0]}, "`seeds` lists a value twice"),
        ({"version": 2}, "`version` must be 1"),
        ({"prune": "hyperband"}, "`prune` must be one of asha, median"),
        ({"entry": "m:f"}, "exactly one of `task`"),
    ],
)
def test_bad_configs_name_the_key(change: dict, message: str) -> None:
    data = {**BASE, **change}
    data = {k: v for k, v in data.items() if v is not None or k != "steps"}
    with pytest.raises(ValueError) as info:
        read_config(data)
    assert message in str(info.value)


def test_a_config_file_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- adam\n")
    with pytest.raises(ValueError, match="a bench config is a mapping of keys, got list"):
        read_config(path)
