"""``lrkit plot`` and ``lrkit list``: outputs and exit codes (0 ok, 2 usage)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from lrkit.cli.main import main
from lrkit.schedules import WSD, list_schedules, parse


def test_plot_default_examples_to_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "default.png"
    assert main(["plot", "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert "3 schedule(s)" in capsys.readouterr().out


def test_plot_csv_is_full_precision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "wsd(steps=100, cooldown=30, shape='1-sqrt')", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["step", "value"]
    assert len(rows) == 1 + 111  # steps 0..110 by default (10% past the last phase)
    schedule = WSD(100, 30, shape="1-sqrt")
    for step, value in rows[1:]:
        assert float(value) == schedule(int(step))


def test_plot_json_several(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["plot", "cosine(steps=10)", "linear(steps=5)", "--format", "json", "--steps", "12"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert [d["spec"] for d in data] == ["cosine(steps=10)", "linear(steps=5)"]
    assert len(data[0]["values"]) == 13 and data[1]["values"][5] == 0.0


def test_plot_bad_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "cosin(steps=10)", "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'cosine'" in err and "column 1" in err and "LRKIT_DEBUG" in err
    assert main(["plot", "cosine(steps=10)", "--steps", "0", "--format", "csv"]) == 2


def test_list_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "schedules", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_schedules()
    assert all(r["description"] for r in rows)
    assert main(["list", "schedules", "--filter", "cos*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["cosine", "cosine_restarts"]


def test_installed_console_script() -> None:
    script = Path(sys.executable).parent / "lrkit"  # what `pip install -e .` put beside python
    assert script.exists(), f"no console script at {script}: is lrkit installed?"
    done = subprocess.run(
        [str(script), "list", "tasks", "--format", "json"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "mnist1d" in [r["name"] for r in json.loads(done.stdout)]
    bad = subprocess.run([str(script), "plot", "cosin(steps=3)"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == "" and "did you mean 'cosine'" in bad.stderr


def test_console_script_and_bad_flag() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "lrkit.cli.main", "--version"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout.startswith("lrkit ")
    bad = subprocess.run(
        [sys.executable, "-m", "lrkit.cli.main", "plot", "--nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2


def test_default_specs_parse() -> None:
    from lrkit.cli.plot_cmd import DEFAULT_SPECS

    assert all(str(parse(s)) == s for s in DEFAULT_SPECS)


# --- terminal plots, compat sources, range-test, trajectories, list, steps, env ---


def test_plot_without_output_draws_in_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "cosine(steps=100)", "linear(steps=50)"]) == 0
    text = capsys.readouterr().out
    assert "┤" in text and "cosine(steps=100)" in text and "linear(steps=50)" in text
    assert any("\u2800" < ch <= "\u28ff" for ch in text)  # braille dots
    assert "\x1b[" not in text  # no colours when stdout is not a terminal


def test_plot_file_and_term(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from matplotlib import image

    out = tmp_path / "one_cycle.png"
    argv = ["plot", "one_cycle(steps=100)", "-o", str(out), "--term", "--steps-per-epoch", "10"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "epoch" in text and "┤" in text
    assert image.imread(out).shape[1] >= 1000
    assert main(["plot", "cosine(steps=10)", "-o", str(tmp_path / "q.svg"), "-q"]) == 0
    assert capsys.readouterr().out == "" and (tmp_path / "q.svg").stat().st_size > 1000


def test_plot_compat_flags_and_golden_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plot", "transformers:linear", "--num-warmup-steps", "2", "--num-training-steps", "4"]
    assert main([*argv, "--format", "json", "--steps", "5"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"spec": "transformers:linear", "values": [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]}
    ]
    assert main(["plot", "torch:OneCycleLR(max_lr=1.0, total_steps=4)", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert len(row["values"]) == 6 and row["values"][-1] is None  # torch refuses a 6th step
    assert row["momentum"][0] == 0.95


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plot", "--T-max", "10", "torch:CosineAnnealingLR"], "--T-max needs a value"),
        (["plot", "cosine(steps=10)", "--warmup", "3"], "unrecognized arguments: --warmup 3"),
        (["plot", "torch:CosineAnealingLR", "--T-max", "3"], "did you mean 'CosineAnnealingLR'"),
        (["plot", "cosine(steps=10)", "-o", "/proc/lrkit/x.png"], "cannot write `output`"),
        (["plot", "cosine(steps=10)", "-o", "x.jpg"], "`output` must end in .png, .svg, .pdf"),
        (["plot", "missing.yaml"], "no such schedule file"),
        (["list", "widgets"], ""),
        (["steps", "--dataset-size", "0", "--batch-size", "1", "--epochs", "1"], "`dataset_size`"),
        (["range-test", "--task", "digitz"], "did you mean 'digits'"),
        (
            ["range-test", "--task", "quadratic", "--optimizer", "sgd(0.1)"],
            "malformed optimizer spec",
        ),
        (["range-test", "--entry", "nosuchmodule_xyz:setup"], "no module named 'nosuchmodule_xyz'"),
        (["trajectories", "--optimizer", "adamm", "-o", "t.png"], "did you mean 'adam'"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) if argv[:2] == ["list", "widgets"] else nullcontext():
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) <= 3


def test_list_golden_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "tasks", "--format", "json"]) == 0
    tasks = json.loads(capsys.readouterr().out)
    names = ["beale", "char_lm", "digits", "mnist1d", "mnist1d_cnn", "quadratic", "rastrigin"]
    names.append("rosenbrock")
    assert [t["name"] for t in tasks] == names and all(t["description"] for t in tasks)
    assert main(["list", "optimizers", "--filter", "sgd*", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["sgd", "sgd_schedulefree", "sgdp"]
    assert {"name", "description", "reference"} <= set(rows[0])


def test_steps_golden_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["steps", "--dataset-size", "50000", "--batch-size", "128", "--epochs", "90"]
    assert main([*argv, "--accumulation", "2", "--world-size", "4", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "steps_per_epoch": 49,
        "total_steps": 4410,
        "global_batch_size": 1024,
    }
    assert (
        main([*argv, "--drop-last", "--lr", "0.1", "--lr-batch-size", "256", "--format", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {
        "steps_per_epoch": 390,
        "total_steps": 35100,
        "global_batch_size": 128,
        "lr": 0.05,
        "rule": "linear",
    }
    assert main([*argv, "--lr", "0.1"]) == 2


def test_env(capsys: pytest.CaptureFixture[str]) -> None:
    import numpy
    import torch

    assert main(["env", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["packages"]["numpy"] == numpy.__version__
    assert info["packages"]["torch"] == torch.__version__.split("+")[0] or info["packages"]["torch"]
    assert info["cuda_available"] == torch.cuda.is_available()
    assert main(["env"]) == 0
    assert "python" in capsys.readouterr().out


def test_range_test_on_a_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rt.png"
    argv = ["range-test", "--task", "quadratic", "--optimizer", "sgd", "--steps", "40"]
    assert main([*argv, "--end-lr", "1", "-o", str(out), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plot"] == str(out) and out.stat().st_size > 10_000
    assert 0 < data["suggested_lr"] < 2 / 100 and data["stop_reason"] in ("diverged", "completed")
    assert main(argv) == 0
    assert "suggested lr:" in capsys.readouterr().out


ENTRY = """
import torch

def setup():
    model = torch.nn.Linear(3, 1)
    torch.manual_seed(0)
    data = [(torch.randn(16, 3), torch.randn(16, 1)) for _ in range(4)]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return {"model": model, "optimizer": opt, "loss_fn": torch.nn.functional.mse_loss, "data": data}

def broken():
    return helper()

def helper():
    raise RuntimeError("the user's bug")

def wrong():
    return 3
"""


def test_range_test_on_a_user_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "mytrain.py"
    script.write_text(ENTRY)
    base = ["range-test", "--steps", "20", "--format", "json", "--entry"]
    assert main([*base, f"{script}:setup"]) == 0
    assert json.loads(capsys.readouterr().out)["suggested_lr"] > 0
    assert main([*base, f"{script}:broken"]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: the user's bug" in err and "mytrain.py" in err and "in helper" in err
    assert "lrkit/cli" not in err  # the user's frames only
    assert main([*base, f"{script}:wrong"]) == 2
    assert "must return (model, optimizer, loss_fn, data)" in capsys.readouterr().err
    assert main([*base, f"{script}:absent"]) == 2
    assert "has no function 'absent'" in capsys.readouterr().err


def test_trajectories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, gif = tmp_path / "t.png", tmp_path / "t.gif"
    argv = ["trajectories", "--function", "quadratic", "--optimizer", "sgd", "--optimizer", "adam"]
    argv += ["--steps", "20", "--grid", "4", "-o", str(out), "--gif", str(gif), "--frames", "3"]
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["optimizer"] for p in data["paths"]] == ["sgd", "adam"]
    assert data["files"] == [str(out), str(gif)] and out.stat().st_size > 10_000
    assert gif.stat().st_size > 10_000


def test_missing_optional_dependency_names_the_extra(monkeypatch, capsys) -> None:
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    from lrkit.tasks import classify

    classify.digits_arrays.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    monkeypatch.setattr("importlib.import_module", lambda name: no_sklearn(name))
    assert main(["range-test", "--task", "digits", "--steps", "5"]) == 1
    assert "pip install 'lrkit[tasks]'" in capsys.readouterr().err


def test_plot_samples_a_huge_horizon_and_caps_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Note [sampling limits]: a figure of 10**12 steps is sampled, a table is capped."""
    out = tmp_path / "huge.png"
    assert (
        main(
            [
                "plot",
                "cosine(steps=1000000000000)",
                "multistep(milestones=[10, 500000000000])",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert out.stat().st_size > 10_000
    capsys.readouterr()
    assert main(["plot", "cosine(steps=1000000000000)", "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert "a table has one row per step, at most 1,000,000 steps; got 1,100,000,000,000" in err
    assert (
        main(["plot", "torch:StepLR", "--step-size", "10", "--steps", "1e7", "--format", "json"])
        == 2
    )
    assert "is stepped once per update, at most 100,000 times" in capsys.readouterr().err
    assert main(["plot", "cosine(steps=10)", "--steps", "1e2", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["values"]) == 101


def test_plot_sampling_keeps_the_jumps_of_a_step_schedule() -> None:
    from lrkit.tools.sources import PLOT_POINTS, load

    (curve,) = load("multistep(milestones=[333333, 666667], gamma=0.5)", 1_000_000)
    assert len(curve.values) <= PLOT_POINTS + 4
    before = curve.values[curve.steps < 333333].min()
    after = curve.values[curve.steps >= 333333].max()
    assert before == 1.0 and after == 0.5  # the jump is at the milestone, not a sample late
    assert 333333.0 in curve.steps and curve.steps[-1] == 1_000_000


def test_plot_a_yaml_alias_bomb_exits_2_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("yaml")
    lines = ["type: piecewise", "steps: &a0 [1, 1]"] + [
        f"x{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 30)
    ]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    assert main(["plot", str(tmp_path / "bomb.yaml"), "--format", "csv"]) == 2
    assert "more than 1,000,000 values" in capsys.readouterr().err


def test_an_error_without_a_message_names_its_type(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from lrkit.tools import sources

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(sources, "load", out_of_memory)
    assert main(["plot", "cosine(steps=10)", "--format", "csv"]) == 1
    assert "lrkit: error: MemoryError" in capsys.readouterr().err


def test_version_flag_and_defaults_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from lrkit import __version__

    for flag in ("-V", "--version"):
        with pytest.raises(SystemExit) as done:
            main([flag])
        assert done.value.code == 0 and capsys.readouterr().out.strip() == f"lrkit {__version__}"
    with pytest.raises(SystemExit):
        main(["range-test", "--help"])
    text = capsys.readouterr().out
    assert "(default: 100)" in text and "(default: 1e-07)" in text and "(default: 0.98)" in text


def test_a_closed_pipe_ends_quietly() -> None:
    shell = f"{sys.executable} -m lrkit.cli.main list schedules | head -1"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip().startswith("clip")
    assert "Error" not in done.stderr and "Traceback" not in done.stderr


def test_output_into_a_missing_folder_is_a_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["plot", "cosine(steps=10)", "-o", str(tmp_path / "nope" / "x.png")]) == 2
    assert "no folder" in capsys.readouterr().err and not (tmp_path / "nope").exists()


def test_format_json_with_output_writes_both(tmp_path: Path, capsys) -> None:
    png = tmp_path / "both.png"
    assert main(["plot", "cosine(steps=10)", "--format", "json", "-o", str(png)]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["values"]) == 12
    assert png.stat().st_size > 10_000


def test_an_unknown_library_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "foo:bar"]) == 2
    assert "unknown library 'foo' in 'foo:bar'" in capsys.readouterr().err
    assert main(["plot", "torh:StepLR"]) == 2
    assert "(did you mean 'torch'?)" in capsys.readouterr().err


def test_a_user_entry_cannot_break_json_or_the_exit_code(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(
        "import argparse, sys, torch\n"
        "print('imported')\n"
        "def setup():\n"
        "    argparse.ArgumentParser().parse_args()  # would choke on lrkit's flags\n"
        "    print('set up')\n"
        "    m = torch.nn.Linear(2, 1)\n"
        "    data = [(torch.randn(8, 2), torch.randn(8, 1)) for _ in range(3)]\n"
        "    return m, torch.optim.SGD(m.parameters(), lr=0.1), torch.nn.functional.mse_loss, data\n"
        "def leaves():\n"
        "    sys.exit(3)\n"
    )
    base = [
        sys.executable,
        "-m",
        "lrkit.cli.main",
        "range-test",
        "--steps",
        "20",
        "--format",
        "json",
    ]
    ok = subprocess.run(
        [*base, "--entry", f"{tmp_path}/mine.py:setup"], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["num_steps"] == 20  # one JSON document, nothing else
    assert "imported" in ok.stderr and "set up" in ok.stderr
    bad = subprocess.run(
        [*base, "--entry", f"{tmp_path}/mine.py:leaves"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stdout == ""
    assert "(it called sys.exit) raised SystemExit: 3" in bad.stderr and "sys.exit(3)" in bad.stderr


def test_trajectories_gif_alone_writes_no_png(tmp_path: Path, capsys, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    argv = ["trajectories", "--function", "quadratic", "--optimizer", "sgd", "--steps", "20"]
    assert main([*argv, "--grid", "3", "--frames", "4", "--gif", "paths.gif", "-q"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paths.gif"]


def test_a_value_error_while_running_is_a_failure_not_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 is for what the user gave; a ValueError once the command runs is exit 1."""
    from lrkit.tools import plot

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug in the plotting code")

    monkeypatch.setattr(plot, "plot_curves", broken)
    assert main(["plot", "cosine(steps=10)", "-o", str(tmp_path / "c.png")]) == 1
    assert "a bug in the plotting code" in capsys.readouterr().err
    assert main(["plot", "cosine(steps=-1)", "-o", str(tmp_path / "c.png")]) == 2


def test_unknown_flags_are_errors_except_for_plots_scheduler_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["list", "schedules", "--bogus", "1"])
    assert info.value.code == 2 and "unrecognized arguments: --bogus 1" in capsys.readouterr().err
    assert (
        main(["plot", "torch:StepLR", "--step-size", "2", "--steps", "3", "--format", "csv"]) == 0
    )
    assert capsys.readouterr().out.splitlines()[1:] == ["0,1.0", "1,1.0", "2,0.1", "3,0.1"]
