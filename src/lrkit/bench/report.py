"""``lrkit bench report``: one self-contained HTML page, with PNGs and a markdown table beside it.

The page embeds its figures (base64 PNG) and loads nothing from the network.
It shows, for a study: the claim and what the sweep found (presets), the
ranking at each configuration's best learning rate with the seed spread, the
LR-robustness picture (final metric against lr, each configuration's window
within 5% of its best), training curves with seed bands, steps and seconds
to a target metric, the preset's own figures, and every diverged or failed
trial with its message -- none is dropped.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lrkit.bench import figures
from lrkit.bench.results import (
    Row,
    Targets,
    current,
    default_targets,
    lr_windows,
    ranking,
    status_counts,
    time_to_target,
)

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto;
       max-width: 1180px; color: #1d1d1f; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; font-size: 1.25em; }
.meta { color: #555; } .claim { background: #f4f6fb; border-left: 4px solid #1f77b4;
        padding: 0.6em 1em; } .finding { background: #f3faf3; border-left: 4px solid #2ca02c;
        padding: 0.6em 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
th { background: #fafafa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; } .bad { color: #b00; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""


def write_report(
    rows: Sequence[Row],
    output: str | Path,
    *,
    study: str = "",
    claim: str = "",
    finding: str = "",
    target: Targets | None = None,
    storage: str = "",
) -> list[Path]:
    """Write ``output`` (``.html``), its figures as PNGs and a ``.md`` summary beside it;
    returns every path written. ``target`` is time-to-result's target metric: one
    number for every task or ``{task: number}`` (default: per task, within 5% of the
    best mean any configuration reached)."""
    from lrkit.tools.figure import check_output

    out = check_output("bench report", output, suffixes=(".html",))
    done = current(rows)
    if not done:
        raise ValueError(f"bench report: the study {study!r} has no finished trials yet")
    targets = target if target is not None else default_targets(rows)
    drawn: list[tuple[str, str, Any]] = [
        ("lr", "Final metric against the learning rate", figures.lr_sensitivity(rows)),
        (
            "curves",
            "Training curves at each configuration's best learning rate",
            figures.curves(rows),
        ),
    ]
    for name, title, fn in (
        ("time", "Time to result", lambda rows: figures.time_to_result(rows, targets)),
        ("warmup", "The first steps", figures.warmup_histograms),
        ("sharpness", "Sharpness of the final weights", figures.sharpness),
    ):
        fig = fn(rows)
        if fig is not None:
            drawn.append((name, title, fig))
    written = []
    images = []
    for name, title, fig in drawn:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        figures._plt().close(fig)
        png = out.with_name(f"{out.stem}-{name}.png")
        png.write_bytes(buf.getvalue())
        written.append(png)
        images.append((title, base64.b64encode(buf.getvalue()).decode("ascii")))
    tables = _tables(rows, targets)
    page = _html(rows, study, claim, finding, storage, images, tables)
    out.write_text(page, encoding="utf-8")
    md = out.with_suffix(".md")
    md.write_text(
        _markdown(rows, study, claim, finding, tables, [p.name for p in written]), encoding="utf-8"
    )
    return [out, md, *written]


Table = tuple[str, list[str], list[list[str]]]


def _tables(rows: Sequence[Row], targets: Targets) -> list[Table]:
    names = figures.METRIC_NAMES
    ranks = [
        [
            r.task, r.label, f"{r.lr:.3g}", names.get(r.first.metric, r.first.metric),
            _num(r.mean), _num(r.spread), str(r.seeds), str(r.diverged), str(r.failed),
        ]
        for r in ranking(rows)
    ]  # fmt: skip
    out: list[Table] = [
        (
            "Ranking (each configuration at its best learning rate)",
            [
                "task",
                "configuration",
                "best lr",
                "metric",
                "mean over seeds",
                "seed std",
                "seeds",
                "diverged",
                "failed",
            ],
            ranks,
        )
    ]
    windows = [
        [w.task, w.label, f"{w.best_lr:.3g}", f"{w.low:.3g}", f"{w.high:.3g}", f"{w.decades:.2f}"]
        for w in sorted(lr_windows(rows), key=lambda w: (w.task, -w.decades))
    ]
    out.append(
        (
            "LR robustness: learning rates within 5% of each configuration's best",
            ["task", "configuration", "best lr", "from", "to", "width (decades)"],
            windows,
        )
    )
    found = time_to_target(rows, targets)
    if found:
        goals = {(t.task, f"{names.get(t.metric, t.metric)} {t.target:.4g}"): None for t in found}
        goal = next(iter(goals))[1]
        times = [
            [
                t.task, t.label, f"{t.target:.4g}", f"{t.lr:.3g}", f"{t.reached}/{t.seeds}",
                "-" if t.steps is None else f"{t.steps:.0f}",
                "-" if t.seconds is None else f"{t.seconds:.2f}",
            ]
            for t in found
        ]  # fmt: skip
        out.append(
            (
                f"Time to result: {goal}" if len(goals) == 1 else "Time to result",
                ["task", "configuration", "target", "lr", "seeds reaching it", "steps", "seconds"],
                times,
            )
        )
    failures = [
        [str(r.number), r.task, r.label, f"{r.lr:.3g}", str(r.seed), r.status, r.message[:160]]
        for r in current(rows)
        if r.status != "ok"
    ]
    out.append(
        (
            "Diverged, pruned and failed trials",
            ["trial", "task", "configuration", "lr", "seed", "status", "message"],
            failures,
        )
    )
    return out


def _num(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _html(
    rows: Sequence[Row],
    study: str,
    claim: str,
    finding: str,
    storage: str,
    images: list[tuple[str, str]],
    tables: list[Table],
) -> str:
    counts = status_counts(rows)
    versions = next((r.versions for r in rows if r.versions), {})
    seconds = sum(r.wall_time or 0.0 for r in rows)
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>lrkit bench: {esc(study)}</title><style>{CSS}</style></head><body>",
        f"<h1>lrkit bench: {esc(study)}</h1>",
        "<p class='meta'>"
        + esc(
            f"{len(rows)} trials ("
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            + f"), {seconds:.0f} s of training; "
            + f"tasks: {', '.join(dict.fromkeys(r.task for r in rows))}; "
            f"metrics: {', '.join(dict.fromkeys(r.metric for r in rows))}; "
            + ", ".join(f"{k} {v}" for k, v in versions.items())
            + (f"; storage {storage}" if storage else "")
        )
        + "</p>",
    ]
    if claim:
        parts.append(f"<p class='claim'><b>Claim.</b> {esc(claim)}</p>")
    if finding:
        parts.append(f"<p class='finding'><b>What this sweep found.</b> {esc(finding)}</p>")
    for title, header, body in tables[:1]:
        parts.append(_html_table(title, header, body))
    for title, data in images:
        parts.append(
            f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{data}'>"
        )
    for title, header, body in tables[1:]:
        parts.append(_html_table(title, header, body))
    parts.append("<p class='meta'>Written by <code>lrkit bench report</code>.</p></body></html>")
    return "\n".join(parts)


def _html_table(title: str, header: list[str], body: list[list[str]]) -> str:
    esc = html.escape
    if not body:
        return f"<h2>{esc(title)}</h2><p>None.</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    lines = []
    for row in body:
        cells = []
        for value in row:
            cls = " class='num'" if _numeric(value) else ""
            cls = " class='bad'" if value in ("diverged", "error", "pruned") else cls
            cells.append(f"<td{cls}>{esc(value)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return f"<h2>{esc(title)}</h2><table><tr>{head}</tr>{''.join(lines)}</table>"


def _numeric(text: str) -> bool:
    try:
        float(text.split("/", maxsplit=1)[0])
    except ValueError:
        return False
    return True


def _markdown(
    rows: Sequence[Row], study: str, claim: str, finding: str, tables: list[Table], pngs: list[str]
) -> str:
    lines = [f"# lrkit bench: {study}", ""]
    if claim:
        lines += [f"**Claim.** {claim}", ""]
    if finding:
        lines += [f"**What this sweep found.** {finding}", ""]
    for title, header, body in tables:
        lines += [f"## {title}", ""]
        if not body:
            lines += ["None.", ""]
            continue
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
        lines.append("")
    lines += [f"![{p}]({p})" for p in pngs]
    return "\n".join(lines) + "\n"


__all__ = ["write_report"]
