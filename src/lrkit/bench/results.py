"""Reading a sweep back: rows, seed statistics, lr windows, time to a target, a ranking.

:func:`load` returns one :class:`Row` per trial with the attributes a trial
records (Note [exactly once]: trials that a dead worker left behind and that
ran again are ``status="stale"``; :func:`current` leaves them out). The
statistics are over seeds of one configuration (task, optimizer, schedule,
lr, max_grad_norm, batch size); a diverged or failed seed counts, with the
worst value, so that it is never silently dropped.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

WINDOW = 0.05  # an lr is "within 5% of the best" of its optimizer


@dataclasses.dataclass(frozen=True)
class Row:
    """One trial of a study."""

    number: int
    state: str  # Optuna's: COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    status: str  # ok, diverged, pruned, error, stale, running, waiting
    task: str
    optimizer: str
    schedule: str
    lr: float
    seed: int
    steps: int
    max_grad_norm: float | None
    batch_size: int | None
    value: float | None
    metric: str
    message: str
    wall_time: float | None
    device: str
    versions: dict[str, str]
    loss_steps: list[int]
    train_loss: list[float | None]
    evals: list[list[float]]
    extras: dict[str, Any]
    base_lr: float | None = None

    @property
    def label(self) -> str:
        """The configuration without lr and seed, as the report names it."""
        return ", ".join(p for p in self.label_parts() if p)

    def label_parts(self) -> tuple[str, str, str, str]:
        """The label's parts: optimizer, schedule, clip, batch ("" where default)."""
        return (
            self.optimizer,
            self.schedule if self.schedule != "constant()" else "",
            f"clip {self.max_grad_norm:g}" if self.max_grad_norm is not None else "",
            f"batch {self.batch_size}" if self.batch_size is not None else "",
        )

    @property
    def config_lr(self) -> float:
        """The lr the sweep set (before an lr_scaling rule), the x axis of lr plots."""
        return self.base_lr if self.base_lr is not None else self.lr


def load(db: Any = None, study: str | None = None) -> list[Row]:
    """Every trial of ``study`` in the storage ``db`` (a URL or path; the only study
    when None) as rows, in trial order."""
    from lrkit.bench import storage as store

    st = store.open_storage(db)
    sid = store.study_id(st, study_name(st, study))
    return [row_of(t) for t in store.trials(st, sid)]


def study_name(storage: Any, study: str | None) -> str:
    """``study``, or the storage's only study; an unknown name lists the known ones."""
    names = [s.study_name for s in storage.get_all_studies()]
    if study is None:
        if len(names) != 1:
            raise ValueError(
                f"the storage has {len(names)} studies; name one with --study: "
                f"{', '.join(names) or '-'}"
            )
        return str(names[0])
    if study not in names:
        from lrkit.validation import did_you_mean

        raise ValueError(
            f"no study {study!r} in the storage{did_you_mean(study, names)}; "
            f"it has {', '.join(names) or 'none'}"
        )
    return study


def row_of(t: Any) -> Row:
    a, cfg = t.user_attrs, t.user_attrs.get("config", {})
    state = t.state.name
    status = a.get("status") or {"RUNNING": "running", "WAITING": "waiting"}.get(state, "stale")
    return Row(
        number=t.number,
        state=state,
        status=status,
        task=str(a.get("task") or cfg.get("task") or cfg.get("entry") or ""),
        optimizer=str(cfg.get("optimizer", a.get("optimizer", ""))),
        schedule=str(cfg.get("schedule", a.get("schedule", ""))),
        lr=float(cfg.get("lr", a.get("lr", math.nan))),
        seed=int(cfg.get("seed", a.get("seed", 0))),
        steps=int(cfg.get("steps", a.get("steps", 0))),
        max_grad_norm=cfg.get("max_grad_norm"),
        batch_size=cfg.get("batch_size"),
        value=t.value if state == "COMPLETE" else None,
        metric=str(cfg.get("metric", a.get("metric", "test_loss"))),
        message=str(a.get("message", "")),
        wall_time=a.get("wall_time"),
        device=str(a.get("device", cfg.get("device", ""))),
        versions=dict(a.get("versions", {})),
        loss_steps=list(a.get("loss_steps", [])),
        train_loss=list(a.get("train_loss", [])),
        evals=[list(e) for e in a.get("evals", [])],
        extras=dict(a.get("extras", {})),
        base_lr=cfg.get("base_lr"),
    )


def current(rows: Iterable[Row]) -> list[Row]:
    """The rows that are results: finished trials, without stale ones."""
    return [r for r in rows if r.status in ("ok", "diverged", "pruned", "error")]


def direction(metric: str) -> str:
    """``"minimize"`` (a loss) or ``"maximize"`` (an accuracy): what ``metric`` wants.
    Studies of one report may differ (a preset's accuracy task beside its loss
    task), so every statistic below takes the direction of its own rows."""
    from lrkit.bench.config import METRICS

    return METRICS.get(metric, ("loss", "minimize"))[1]


Targets = float | Mapping[str, float]  # one target for every task, or one per task


def _worst(direction: str) -> float:
    return math.inf if direction == "minimize" else 0.0


@dataclasses.dataclass(frozen=True)
class Point:
    """The seeds of one configuration at one lr."""

    label: str
    task: str
    lr: float
    values: tuple[float, ...]  # per seed; a failed seed has the worst value
    ok: int
    diverged: int
    failed: int  # error or pruned
    first: Row  # one of its rows: its optimizer, schedule, max_grad_norm, batch size

    @property
    def mean(self) -> float:
        finite = [v for v in self.values if math.isfinite(v)]
        return statistics.fmean(self.values) if len(finite) == len(self.values) else math.inf

    @property
    def spread(self) -> float:
        return statistics.pstdev(self.values) if all(map(math.isfinite, self.values)) else math.nan


def points(rows: Sequence[Row]) -> list[Point]:
    """Seed statistics of every (task, configuration, lr)."""
    groups: dict[tuple[str, str, float], list[Row]] = {}
    for r in current(rows):
        groups.setdefault((r.task, r.label, r.config_lr), []).append(r)
    out = []
    for (task, label, lr), rs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])
    ):
        worst = _worst(direction(rs[0].metric))
        values = tuple(r.value if r.status == "ok" and r.value is not None else worst for r in rs)
        ok = sum(r.status == "ok" for r in rs)
        diverged = sum(r.status == "diverged" for r in rs)
        out.append(Point(label, task, lr, values, ok, diverged, len(rs) - ok - diverged, rs[0]))
    return out


def _score(p: Point) -> float:
    """The mean as a number where smaller is better, for a loss or an accuracy."""
    if direction(p.first.metric) == "maximize":
        return -statistics.fmean(p.values)
    return p.mean


@dataclasses.dataclass(frozen=True)
class Window:
    """One configuration's learning rates within ``WINDOW`` of its best mean."""

    label: str
    task: str
    best_lr: float
    best: float
    low: float
    high: float

    @property
    def decades(self) -> float:
        return math.log10(self.high / self.low)


def lr_windows(rows: Sequence[Row], tolerance: float = WINDOW) -> list[Window]:
    """For each (task, configuration): the contiguous lrs around its best whose mean is
    within ``tolerance`` of the best (a loss at most ``(1 + tol) * best``, an accuracy at
    least ``(1 - tol) * best``) -- the LR-robustness picture, in decades."""
    by: dict[tuple[str, str], list[Point]] = {}
    for p in points(rows):
        by.setdefault((p.task, p.label), []).append(p)
    out = []
    for (task, label), ps in by.items():
        ps.sort(key=lambda p: p.lr)
        best_i = min(range(len(ps)), key=lambda i: _score(ps[i]))
        best = statistics.fmean(ps[best_i].values)
        if not math.isfinite(best):
            continue

        lo = hi = best_i
        while lo > 0 and _near(ps[lo - 1], best, tolerance):
            lo -= 1
        while hi < len(ps) - 1 and _near(ps[hi + 1], best, tolerance):
            hi += 1
        out.append(Window(label, task, ps[best_i].lr, best, ps[lo].lr, ps[hi].lr))
    return out


def _near(p: Point, best: float, tolerance: float) -> bool:
    m = statistics.fmean(p.values)
    if direction(p.first.metric) == "minimize":
        return math.isfinite(m) and m <= best + tolerance * abs(best)
    return m >= best - tolerance * abs(best)


def default_targets(rows: Sequence[Row], tolerance: float = WINDOW) -> dict[str, float]:
    """The targets of time-to-result when none is given, per task: within ``tolerance``
    of the best seed-mean metric any configuration of the task reached."""
    out: dict[str, float] = {}
    finite = [p for p in points(rows) if all(map(math.isfinite, p.values))]
    for task in dict.fromkeys(r.task for r in current(rows)):
        ps = [p for p in finite if p.task == task]
        if not ps:
            continue
        means = [statistics.fmean(p.values) for p in ps]
        if direction(ps[0].first.metric) == "minimize":
            out[task] = min(means) + tolerance * abs(min(means))
        else:
            out[task] = max(means) - tolerance * abs(max(means))
    return out


def target_of(targets: Targets | None, task: str) -> float | None:
    """``task``'s target in ``targets`` (one number for all tasks, or a mapping)."""
    if targets is None or isinstance(targets, (int, float)):
        return None if targets is None else float(targets)
    value = targets.get(task)
    return None if value is None else float(value)


@dataclasses.dataclass(frozen=True)
class TimeToTarget:
    label: str
    task: str
    target: float
    metric: str
    lr: float
    reached: int  # seeds that reached the target
    seeds: int
    steps: float | None  # mean over the seeds that reached it
    seconds: float | None


def time_to_target(rows: Sequence[Row], targets: Targets) -> list[TimeToTarget]:
    """Steps and seconds each configuration's seeds needed to reach its task's target
    (AlgoPerf's time-to-result), at the configuration's best lr; tasks without a
    target in ``targets`` are left out."""
    best = {(w.task, w.label): w.best_lr for w in lr_windows(rows)}
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in current(rows):
        if best.get((r.task, r.label)) == r.config_lr:
            groups.setdefault((r.task, r.label), []).append(r)
    out = []
    for (task, label), rs in sorted(groups.items()):
        target = target_of(targets, task)
        if target is None:
            continue
        lower = direction(rs[0].metric) == "minimize"
        hits = []
        for r in rs:
            for step, value, seconds in r.evals:
                if (value <= target) if lower else (value >= target):
                    hits.append((step, seconds))
                    break
        mean_steps = statistics.fmean(h[0] for h in hits) if hits else None
        mean_seconds = statistics.fmean(h[1] for h in hits) if hits else None
        out.append(
            TimeToTarget(
                label,
                task,
                target,
                rs[0].metric,
                rs[0].config_lr,
                len(hits),
                len(rs),
                mean_steps,
                mean_seconds,
            )
        )
    return out


@dataclasses.dataclass(frozen=True)
class Rank:
    label: str
    task: str
    lr: float
    mean: float
    spread: float
    seeds: int
    diverged: int  # over all of the configuration's lrs
    failed: int
    first: Row


def ranking(rows: Sequence[Row]) -> list[Rank]:
    """Each (task, configuration) at its best lr, best first, with its seed spread and
    the diverged and failed trials over all its learning rates."""
    by: dict[tuple[str, str], list[Point]] = {}
    for p in points(rows):
        by.setdefault((p.task, p.label), []).append(p)
    out = []
    for (task, label), ps in by.items():
        best = min(ps, key=_score)
        out.append(
            Rank(
                label,
                task,
                best.lr,
                statistics.fmean(best.values),
                best.spread,
                len(best.values),
                sum(p.diverged for p in ps),
                sum(p.failed for p in ps),
                best.first,
            )
        )

    def order(r: Rank) -> tuple[str, float]:
        sign = 1 if direction(r.first.metric) == "minimize" else -1
        return r.task, sign * r.mean if math.isfinite(r.mean) else math.inf

    return sorted(out, key=order)


def status_counts(rows: Iterable[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


__all__ = [
    "WINDOW",
    "Point",
    "Rank",
    "Row",
    "Targets",
    "TimeToTarget",
    "Window",
    "current",
    "default_targets",
    "direction",
    "load",
    "lr_windows",
    "points",
    "ranking",
    "status_counts",
    "study_name",
    "target_of",
    "time_to_target",
]
