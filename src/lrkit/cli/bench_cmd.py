"""``lrkit bench run | status | report | presets``: sweeps on Optuna storage (``lrkit.bench``)."""

from __future__ import annotations

import argparse
from typing import Any

from lrkit.cli.errors import UsageError, reading_input
from lrkit.cli.output import Output, Parser, add_output_args, format_table

EPILOG = """\
a config (YAML or JSON, version: 1):
  task: digits                  # or entry: my_pkg.train:setup
  steps: 200
  metric: test_accuracy         # or test_loss
  seeds: [0, 1, 2]
  optimizers: [adam, "sgd(momentum=0.9)"]
  schedules: ["warmup_cosine(steps=200, warmup=20)", "constant()"]
  lr: [1e-3, 3e-3, 1e-2]        # or {low: 1e-5, high: 1.0, log: true, trials: 20}

examples:
  lrkit bench run --preset lr-robustness --size quick --report report.html
  lrkit bench run sweep.yaml --workers 2
  lrkit bench status
  lrkit bench report -o report.html
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="sweep optimizers x schedules x learning rates x seeds, and report",
        description="Which optimizer, schedule and learning rate? Sweeps are Optuna studies in "
        "a storage (an SQLite file lrkit-bench.db by default, or any Optuna URL); a sweep "
        "killed and started again finishes every configuration exactly once.",
        epilog=EPILOG,
    )
    commands = p.add_subparsers(
        dest="bench_command", required=True, metavar="COMMAND", parser_class=Parser
    )
    run_p = commands.add_parser("run", help="run a sweep from a config or a preset", epilog=EPILOG)
    run_p.add_argument("config", nargs="?", help="a YAML or JSON config")
    run_p.add_argument("--preset", help="a preset study instead (lrkit bench presets)")
    run_p.add_argument(
        "--size",
        choices=("quick", "default", "full"),
        default="default",
        help="the preset's size: quick <= 2 min, default <= 10 min on 2 cores",
    )
    _db(run_p)
    run_p.add_argument("--study", help="the study name (default: the config's, or its file's stem)")
    run_p.add_argument("--workers", type=int, default=1, help="worker processes (or Ray tasks)")
    run_p.add_argument(
        "--executor", choices=("local", "ray"), default="local", help="where workers run"
    )
    run_p.add_argument(
        "--ray-address", default=None, help="an existing Ray cluster (default: a local Ray)"
    )
    run_p.add_argument("--report", metavar="HTML", default=None, help="write the report when done")
    add_output_args(run_p)
    run_p.set_defaults(run=run)
    status_p = commands.add_parser("status", help="counts of trials per status, and running trials")
    _db(status_p)
    status_p.add_argument("--study", default=None, help="one study (default: every study)")
    add_output_args(status_p)
    status_p.set_defaults(run=status)
    report_p = commands.add_parser(
        "report", help="an HTML report with figures, PNGs and markdown beside it"
    )
    _db(report_p)
    report_p.add_argument("--study", action="append", default=None,
                          help="the study (repeat for several; default: the only one)")  # fmt: skip
    report_p.add_argument("--preset", help="every study of a preset run")
    report_p.add_argument("--size", choices=("quick", "default", "full"), default="default")
    report_p.add_argument("-o", "--output", default="report.html", help="the HTML file")
    report_p.add_argument(
        "--target", type=float, default=None, help="the metric's time-to-result target"
    )
    add_output_args(report_p)
    report_p.set_defaults(run=report)
    presets_p = commands.add_parser("presets", help="the preset studies and the claims they test")
    add_output_args(presets_p)
    presets_p.set_defaults(run=presets)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db", default=None, help="an Optuna storage URL or a path (default: ./lrkit-bench.db)"
    )


def run(args: argparse.Namespace, out: Output) -> int:
    from lrkit.bench import engine, read_config
    from lrkit.bench.presets import PRESETS
    from lrkit.tools.figure import check_output

    with reading_input():
        if (args.config is None) == (args.preset is None):
            raise UsageError("bench run: give a CONFIG file or --preset NAME (lrkit bench presets)")
        if args.workers < 1:
            raise UsageError(f"--workers must be a positive integer, got {args.workers}")
        if args.report is not None:
            check_output("bench run", args.report, suffixes=(".html",), name="report")
        if args.preset is not None:
            preset = PRESETS.get_or_raise(args.preset)
            configs = [read_config(c) for c in preset.studies(args.size)]
        else:
            configs = [read_config(args.config, study=args.study)]
        from lrkit.bench.storage import open_storage

        open_storage(args.db)  # a bad URL or an unwritable path is the user's to fix
    summaries = []
    for cfg in configs:
        bar = _bar(out, cfg.study)
        try:
            summaries.append(
                engine.run(
                    cfg,
                    db=args.db,
                    workers=args.workers,
                    executor=args.executor,
                    ray_address=args.ray_address,
                    progress=bar,
                )
            )
        finally:
            bar.close()
    data: dict[str, Any] = {
        "studies": [
            {
                "study": s.study,
                "storage": s.storage,
                "trials": s.total,
                "counts": s.counts,
                "best": s.best,
                "seconds": round(s.seconds, 2),
            }
            for s in summaries
        ]
    }
    if args.report is not None:
        paths = _write_report(args.db, [c.study for c in configs], args.report, args.preset, None)
        data["report"] = [str(p) for p in paths]
    out.result(data, lambda: _human_run(data))
    return 0


def _human_run(data: dict[str, Any]) -> str:
    rows = [
        {
            "study": s["study"],
            "trials": s["trials"],
            **s["counts"],
            "best": s["best"],
            "seconds": s["seconds"],
        }
        for s in data["studies"]
    ]
    text = format_table(rows)
    if data.get("report"):
        text += (
            "\n\nwrote " + ", ".join(data["report"][:2]) + f" and {len(data['report']) - 2} PNGs"
        )
    return text


class _Bar:
    """A progress line per sweep on a TTY (trials done / total, best so far)."""

    def __init__(self, out: Output, study: str) -> None:
        self.out, self.study, self.shown = out, study, False

    def __call__(self, done: int, total: int, best: float | None) -> None:
        if not (self.out.human and self.out.stderr.isatty()):
            return
        best_text = "-" if best is None else f"{best:.4g}"
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "." * (width - filled)
        self.out.stderr.write(f"\r{self.study}: [{bar}] {done}/{total} trials, best {best_text} ")
        self.out.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.out.stderr.write("\n")


def _bar(out: Output, study: str) -> _Bar:
    return _Bar(out, study)


def status(args: argparse.Namespace, out: Output) -> int:
    from lrkit.bench import storage as store
    from lrkit.bench.results import row_of, status_counts, study_name

    with reading_input():
        st = store.open_storage(args.db)
        names = (
            [study_name(st, args.study)]
            if args.study
            else [s.study_name for s in st.get_all_studies()]
        )
    studies = []
    for name in names:
        rows = [row_of(t) for t in store.trials(st, store.study_id(st, name))]
        running = [
            {
                "trial": r.number,
                "optimizer": r.optimizer,
                "schedule": r.schedule,
                "lr": r.lr,
                "seed": r.seed,
            }
            for r in rows
            if r.status == "running"
        ]
        studies.append(
            {"study": name, "trials": len(rows), "counts": status_counts(rows), "running": running}
        )
    data = {"storage": store.storage_url(args.db), "studies": studies}
    out.result(data, lambda: _human_status(data))
    return 0


def _human_status(data: dict[str, Any]) -> str:
    if not data["studies"]:
        return f"no studies in {data['storage']}"
    lines = [f"storage {data['storage']}"]
    lines.append(
        format_table(
            [{"study": s["study"], "trials": s["trials"], **s["counts"]} for s in data["studies"]]
        )
    )
    for s in data["studies"]:
        if s["running"]:
            lines.append(f"\nrunning in {s['study']}:\n" + format_table(s["running"]))
    return "\n".join(lines)


def report(args: argparse.Namespace, out: Output) -> int:
    from lrkit.bench import storage as store
    from lrkit.bench.presets import PRESETS
    from lrkit.bench.results import study_name
    from lrkit.tools.figure import check_output

    with reading_input():
        check_output("bench report", args.output, suffixes=(".html",))
        st = store.open_storage(args.db)
        if args.preset is not None:
            preset = PRESETS.get_or_raise(args.preset)
            names = [c["study"] for c in preset.studies(args.size)]
        else:
            names = [study_name(st, s) for s in (args.study or [None])]
        for name in names:
            study_name(st, name)
    paths = _write_report(args.db, names, args.output, args.preset, args.target)
    data = {"report": [str(p) for p in paths]}
    out.result(data, lambda: "wrote " + ", ".join(str(p) for p in paths))
    return 0


def _write_report(
    db: Any, names: list[str], output: str, preset: str | None, target: float | None
) -> list[Any]:
    from lrkit.bench import load
    from lrkit.bench import storage as store
    from lrkit.bench.presets import PRESETS
    from lrkit.bench.report import write_report

    rows = [r for name in names for r in load(db, name)]
    if target is None:  # the config's `target`, when the studies agree on one
        st = store.open_storage(db)
        stored = {
            st.get_study_user_attrs(store.study_id(st, name)).get("config", {}).get("target")
            for name in names
        } - {None}
        target = stored.pop() if len(stored) == 1 else None
    claim = finding = ""
    if preset is None and len(names) == 1:  # a preset's study run on its own keeps its claim
        for p in PRESETS.values():
            if any(
                names[0] == c["study"]
                for size in ("quick", "default", "full")
                for c in p.studies(size)
            ):
                preset = p.name
    if preset is not None:
        p = PRESETS.get_or_raise(preset)
        claim, finding = p.claim, p.finding(rows)
    title = preset or ", ".join(names)
    return write_report(rows, output, study=title, claim=claim, finding=finding, target=target,
                        storage=store.storage_url(db))  # fmt: skip


def presets(args: argparse.Namespace, out: Output) -> int:
    from lrkit.bench.presets import PRESETS

    rows = [
        {"name": p.name, "description": p.description, "claim": p.claim} for p in PRESETS.values()
    ]
    out.result(
        rows,
        lambda: "\n\n".join(
            f"{r['name']}\n  claim: {r['claim']}\n  {r['description']}" for r in rows
        ),
    )
    return 0


__all__ = ["add_parser", "presets", "report", "run", "status"]
