"""benchmarks/gpu_check.py, the script a GPU session runs, on the CPU at its smoke sizes:
its checks catch a wrong path, its tables have every row, bad flags are named."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lrkit.optim import adam

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gpu_check


def _main(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code = gpu_check.main(["--device", "cpu", "--smoke", "--out", str(tmp_path), *args])
    tiny = torch.tensor(1e-310, dtype=torch.float64)  # a subnormal: flushing was put back
    assert tiny * 1.0 != 0
    return code, json.loads((tmp_path / "gpu_check.json").read_text())


def test_the_checks_and_the_tables_cover_every_option_and_model(tmp_path: Path) -> None:
    code, report = _main(tmp_path, "--only", "sgd", "adamw", "--steps", "1", "--repeat", "1")
    assert code == 0
    checks = {(r["optimizer"], r["option"], r["dtype"]): r for r in report["checks"]}
    for name in ("sgd", "adamw"):
        for option in gpu_check.options(name):
            for dtype in ("float64", "float32", "bfloat16"):
                row = checks[(name, option, dtype)]
                assert row["status"] == "ok", row
                assert {"foreach", "auto"} <= set(row["gaps"])
    assert "nesterov" in gpu_check.options("sgd") and "amsgrad" in gpu_check.options("adamw")
    timed = {(r["model"], r["optimizer"]): r for r in report["timing"]}
    names = ("sgd", "adamw", "adamw+clip")  # and AdamW with max_grad_norm against its peer
    assert set(timed) == {(m, n) for m in ("resnet50", "gpt-1.3b") for n in names}
    for row in timed.values():
        assert row["status"] == "ok", row
        impls = row["impls"]
        assert impls["lrkit foreach"]["ms"] > 0 and len(impls) >= 3
        assert min(v["x_best_peer"] for k, v in impls.items() if v["peer"]) == 1.0
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| resnet50 | adamw | lrkit foreach |" in table
    assert "| adamw | amsgrad | float32 | ok |" in table
    assert "| gpt-1.3b | adamw+clip | clip_grad_norm_ + torch fused |" in table


def test_a_path_that_skips_a_tensor_fails_its_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = adam.adam_foreach

    def skips_the_last(group: Any, params: Any, grads: Any, bufs: Any, steps: Any) -> None:
        n = len(params) - 1
        real(group, params[:n], grads[:n], {k: v[:n] for k, v in bufs.items()}, steps[:n])

    monkeypatch.setattr(adam, "adam_foreach", skips_the_last)
    code, report = _main(tmp_path, "--only", "adam", "--no-timing")
    assert code == 1
    rows = [r for r in report["checks"] if r["dtype"] == "float64"]
    assert rows and all(r["status"] == "FAIL" and r["gaps"]["foreach"] > 1e-3 for r in rows)
    unchanged = [r for r in rows if r["option"] in ("plain", "weight decay", "amsgrad")]
    assert all(r["gaps"]["fused"] < 1e-10 for r in unchanged)  # torch's kernel: not patched


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "adamx"], "--only: unknown optimizers ['adamx']"),
        (["--device", "cuda"], "--device cuda: no CUDA device here"),
    ],
)
def test_bad_flags_are_named(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("a CUDA device is here")
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
