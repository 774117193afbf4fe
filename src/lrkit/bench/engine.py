"""Running a sweep: the coordinator, its workers, and lr ranges.

:func:`run` is ``lrkit bench run``: it opens (or creates) the Optuna study,
queues the configurations (Note [exactly once] in ``storage.py``), runs
workers until the queue is empty -- in this process, in ``workers`` local
processes, or as Ray tasks -- and returns a :class:`SweepSummary`. Running
it again with the same config finishes what is missing and nothing else.

Note [lr ranges]
~~~~~~~~~~~~~~~~
``lr: {low, high, log, trials}`` searches the learning rate separately for
each group (optimizer x schedule x max_grad_norm x batch size), so that each
optimizer gets the same budget of ``trials`` learning rates -- a comparison,
not a search over which optimizer to run. The coordinator proposes the
learning rates in rounds: Optuna's TPE sampler (or QMC, ``sampler: qmc``),
in a study in memory that holds the group's finished learning rates with
their mean metric over seeds, proposes the next ones; each is queued for
every seed, and the round runs. A round proposes as many learning rates per
group as keep the workers busy. The proposals are trials of the stored
study like any other, so a rerun continues the search where it stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrkit.bench import storage as store
from lrkit.bench.config import METRICS, Config, LRRange, TrialConfig, read_config
from lrkit.bench.trial import TrialResult, run_trial

EXECUTORS = ("local", "ray")
Progress = Callable[[int, int, float | None], None]  # (finished, total, best so far)


@dataclasses.dataclass(frozen=True)
class SweepSummary:
    """What a sweep run left in the study."""

    study: str
    storage: str
    total: int
    counts: dict[str, int]  # by status: ok, diverged, pruned, error
    best: float | None
    seconds: float


def run(
    config: Config | str | Path | dict[str, Any],
    *,
    db: str | Path | None = None,
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> SweepSummary:
    """Run the sweep ``config`` (a :class:`Config`, a YAML/JSON path or a dict) to completion.

    ``db`` is an Optuna storage URL or a path (``lrkit-bench.db`` by default;
    :func:`lrkit.bench.storage.storage_url`). ``workers`` processes (or Ray
    tasks with ``executor="ray"``, on the cluster at ``ray_address`` or a local
    Ray) claim the queued trials; with ``workers=1`` and the local executor the
    trials run in this process.
    """
    optuna = store._optuna()
    cfg = config if isinstance(config, Config) else read_config(config)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"bench run: `workers` must be a positive integer, got {workers!r}")
    if executor not in EXECUTORS:
        raise ValueError(
            f"bench run: `executor` must be one of {', '.join(EXECUTORS)}, got {executor!r}"
        )
    url = store.storage_url(db)
    storage = store.open_storage(db)
    study = optuna.create_study(
        storage=storage, study_name=cfg.study, direction=_direction(cfg), load_if_exists=True
    )
    sid = store.study_id(storage, cfg.study)
    store.set_study_config(storage, sid, config_dict(cfg))
    start = time.perf_counter()
    while True:
        store.recover(study, storage)
        queued = store.enqueue(storage, sid, _expected(cfg, storage, sid), distributions(cfg))
        if isinstance(cfg.lr, LRRange):
            queued += _propose(cfg, storage, sid, workers)
        waiting = store.trials(storage, sid, ["WAITING"])
        if not waiting:
            running = store.trials(storage, sid, ["RUNNING"])
            if not running:
                break
            time.sleep(1.0)  # another coordinator's workers, or stale ones not yet past grace
            continue
        total = _total(cfg, storage, sid)
        _run_workers(url, cfg.study, workers, executor, ray_address, storage, sid, total, progress)
    return summarize(storage, sid, cfg, url, time.perf_counter() - start)


def _direction(cfg: Config) -> Any:
    from optuna.study import StudyDirection

    return StudyDirection.MINIMIZE if cfg.direction == "minimize" else StudyDirection.MAXIMIZE


def config_dict(cfg: Config) -> dict[str, Any]:
    """``cfg`` as the JSON-safe dict stored with the study."""
    out = dataclasses.asdict(cfg)
    if isinstance(cfg.lr, LRRange):
        out["lr"] = dataclasses.asdict(cfg.lr)
    return dict(json.loads(json.dumps(out, default=list)))


def distributions(cfg: Config) -> dict[str, Any]:
    """The Optuna distributions of a sweep's params (so Optuna's own tools read it)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    ends = (cfg.lr.low, cfg.lr.high) if isinstance(cfg.lr, LRRange) else (min(cfg.lr), max(cfg.lr))
    scaled = [c.lr for end in ends for c in _any_trials(cfg, end)]  # lr_scaling moves them
    log = cfg.lr.log if isinstance(cfg.lr, LRRange) else True
    lr = FloatDistribution(min(scaled), max(scaled), log=log)
    return {
        "optimizer": CategoricalDistribution(cfg.optimizers),
        "schedule": CategoricalDistribution(sorted({c.schedule for c in _any_trials(cfg)})),
        "lr": lr,
        "seed": CategoricalDistribution(cfg.seeds),
        "max_grad_norm": CategoricalDistribution(cfg.max_grad_norm),
        "batch_size": CategoricalDistribution(cfg.batch_size),
    }


def _any_trials(cfg: Config, lr: float | None = None) -> list[TrialConfig]:
    """One trial per group (at ``lr``, the first seed): what varies across groups."""
    if lr is None:
        lr = cfg.lr.low if isinstance(cfg.lr, LRRange) else cfg.lr[0]
    return [cfg.trial(o, s, m, b, lr, cfg.seeds[0]) for (o, s, m, b) in cfg.groups()]


def _expected(cfg: Config, storage: Any, sid: int) -> list[TrialConfig]:
    """Every configuration the sweep has so far: the grid, or each group's proposed
    lrs (Note [lr ranges]) for every seed."""
    if not isinstance(cfg.lr, LRRange):
        return cfg.configurations()
    out = []
    for group, lrs in _proposed(cfg, storage, sid).items():
        optimizer, schedule, mgn, batch = group
        for lr in lrs:
            out += [cfg.trial(optimizer, schedule, mgn, batch, lr, seed) for seed in cfg.seeds]
    return out


def _proposed(cfg: Config, storage: Any, sid: int) -> dict[tuple[Any, ...], list[float]]:
    """Each group's learning rates proposed so far, in order (the base lr, before scaling)."""
    out: dict[tuple[Any, ...], list[float]] = {tuple(g): [] for g in cfg.groups()}
    for t in store.trials(storage, sid):
        attrs = t.user_attrs.get("config")
        if not attrs:
            continue
        tc = TrialConfig.from_attrs(attrs)
        base = tc.base_lr if tc.base_lr is not None else tc.lr
        if tc.group() in out and base not in out[tc.group()]:
            out[tc.group()].append(base)
    return out


def _propose(cfg: Config, storage: Any, sid: int, workers: int) -> int:
    """Queue the next round of lrs for groups whose earlier proposals have all finished."""
    if not isinstance(cfg.lr, LRRange):
        return 0
    proposed = _proposed(cfg, storage, sid)
    busy = {
        TrialConfig.from_attrs(t.user_attrs["config"]).group()
        for t in store.trials(storage, sid, ["WAITING", "RUNNING"])
        if t.user_attrs.get("config")
    }
    open_groups = [g for g, lrs in proposed.items() if len(lrs) < cfg.lr.trials and g not in busy]
    if not open_groups:
        return 0
    per_round = max(1, math.ceil(workers / (len(cfg.groups()) * len(cfg.seeds))))
    configs = []
    for group in open_groups:
        n = min(per_round, cfg.lr.trials - len(proposed[group]))
        optimizer, schedule, mgn, batch = group
        for lr in _suggest(cfg, storage, sid, group, proposed[group], n):
            configs += [cfg.trial(optimizer, schedule, mgn, batch, lr, seed) for seed in cfg.seeds]
    return store.enqueue(storage, sid, configs, distributions(cfg))


def _suggest(
    cfg: Config, storage: Any, sid: int, group: tuple[Any, ...], done: list[float], n: int
) -> list[float]:
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    if not isinstance(cfg.lr, LRRange):
        return []
    low, high, log = cfg.lr.low, cfg.lr.high, cfg.lr.log
    dist = FloatDistribution(low, high, log=log)
    seed = int.from_bytes(json.dumps(group).encode()[:8].ljust(8, b"\0"), "little") % 2**31
    if cfg.lr.sampler == "qmc":  # the i-th point of one seeded sequence, whatever the round
        with warnings.catch_warnings():  # "experimental" in Optuna's words
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler: Any = optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
        memory = optuna.create_study(sampler=sampler, direction=_direction(cfg))
        points = [memory.ask({"lr": dist}).params["lr"] for _ in range(len(done) + n)]
        return [p for p in points if p not in done][:n]
    values = _group_values(cfg, storage, sid, group)
    memory = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed + len(done)), direction=_direction(cfg)
    )
    for lr, value in values.items():
        memory.add_trial(create_trial(params={"lr": lr}, distributions={"lr": dist}, value=value))
    out: list[float] = []
    while len(out) < n:
        lr = memory.ask({"lr": dist}).params["lr"]
        if lr not in done and lr not in out:
            out.append(float(lr))
    return out


def _group_values(
    cfg: Config, storage: Any, sid: int, group: tuple[Any, ...]
) -> dict[float, float]:
    by_lr: dict[float, list[float]] = {}
    for t in store.trials(storage, sid, ["COMPLETE"]):
        attrs = t.user_attrs.get("config")
        if not attrs or t.value is None:
            continue
        tc = TrialConfig.from_attrs(attrs)
        if tc.group() == group:
            base = tc.base_lr if tc.base_lr is not None else tc.lr
            worst = 1e300 if cfg.direction == "minimize" else 0.0
            by_lr.setdefault(base, []).append(t.value if math.isfinite(t.value) else worst)
    return {lr: sum(v) / len(v) for lr, v in by_lr.items()}


def _total(cfg: Config, storage: Any, sid: int) -> int:
    if isinstance(cfg.lr, LRRange):
        return len(cfg.groups()) * cfg.lr.trials * len(cfg.seeds)
    return len(cfg.configurations())


# -- workers -------------------------------------------------------------------


def work(url: str, study_name: str, threads: int | None = None) -> int:
    """A worker: claim and run queued trials of ``study_name`` until none is left;
    returns how many it ran. Local processes and Ray tasks run this."""
    optuna = store._optuna()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    storage = store.open_storage(url)
    study = optuna.load_study(study_name=study_name, storage=storage)
    study.pruner = _pruner(storage, study_name)
    sid = store.study_id(storage, study_name)
    done = 0
    while True:
        claimed = store.claim(storage, sid)
        if claimed is None:
            return done
        tid, frozen = claimed
        _run_one(study, storage, tid, frozen)
        done += 1


def _pruner(storage: Any, study_name: str) -> Any:
    import optuna

    sid = store.study_id(storage, study_name)
    kind = storage.get_study_user_attrs(sid).get("config", {}).get("prune")
    if kind == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4)
    return optuna.pruners.NopPruner()


def _run_one(study: Any, storage: Any, tid: int, frozen: Any) -> None:
    from optuna.trial import TrialState

    cfg = TrialConfig.from_attrs(frozen.user_attrs["config"])

    def report(step: int, value: float) -> bool:
        storage.set_trial_intermediate_value(tid, step, value)
        return bool(study.pruner.prune(study, storage.get_trial(tid)))

    try:
        with store.heartbeat(storage, tid):
            result = run_trial(cfg, report=report)
    except BaseException:  # Ctrl-C or a kill signal: give the configuration back (stale)
        with contextlib.suppress(Exception):
            storage.set_trial_state_values(tid, TrialState.FAIL)
        raise
    for key, value in result_attrs(cfg, result).items():
        storage.set_trial_user_attr(tid, key, value)
    if result.status == "error":
        storage.set_trial_state_values(tid, TrialState.FAIL)
    elif result.status == "pruned":
        storage.set_trial_state_values(tid, TrialState.PRUNED)
    else:
        storage.set_trial_state_values(tid, TrialState.COMPLETE, [float(result.value or 0.0)])


def result_attrs(cfg: TrialConfig, result: TrialResult) -> dict[str, Any]:
    """The user attributes a finished trial records (what ``lrkit.bench.load`` returns)."""
    import torch

    from lrkit import __version__

    return {
        "task": cfg.task or cfg.entry,
        "optimizer": cfg.optimizer,
        "schedule": cfg.schedule,
        "lr": cfg.lr,
        "seed": cfg.seed,
        "steps": cfg.steps,
        "status": result.status,
        "message": result.message,
        "wall_time": result.seconds,
        "device": cfg.device,
        "versions": {"lrkit": __version__, "torch": torch.__version__},
        "metric": cfg.metric,
        "metrics": result.metrics,
        "loss_steps": result.loss_steps,
        "train_loss": result.losses,
        "evals": result.evals,
        "steps_done": result.steps_done,
        "extras": result.extras,
    }


def _run_workers(
    url: str,
    study_name: str,
    workers: int,
    executor: str,
    ray_address: str | None,
    storage: Any,
    sid: int,
    total: int,
    progress: Progress | None,
) -> None:
    threads = max(1, (os.cpu_count() or 1) // workers)
    if executor == "local" and workers == 1:
        optuna = store._optuna()
        study = optuna.load_study(study_name=study_name, storage=storage)
        study.pruner = _pruner(storage, study_name)
        while True:
            _report(storage, sid, total, progress)
            claimed = store.claim(storage, sid)
            if claimed is None:
                break
            _run_one(study, storage, *claimed)
        _report(storage, sid, total, progress)
        return
    if executor == "ray":
        _run_ray(url, study_name, workers, ray_address, threads, storage, sid, total, progress)
        return
    command = [sys.executable, "-m", "lrkit.bench.worker", url, study_name, str(threads)]
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(workers)]
    try:
        while any(p.poll() is None for p in procs):
            _report(storage, sid, total, progress)
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
            p.wait()
    _report(storage, sid, total, progress)
    failed = [p.returncode for p in procs if p.returncode not in (0, -signal.SIGTERM)]
    if failed:
        raise RuntimeError(f"bench run: {len(failed)} worker process(es) exited with {failed}")


def _run_ray(
    url: str,
    study_name: str,
    workers: int,
    address: str | None,
    threads: int,
    storage: Any,
    sid: int,
    total: int,
    progress: Progress | None,
) -> None:
    from lrkit.extras import require

    ray = require("ray")
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(work)
    pending = [remote.remote(url, study_name, threads) for _ in range(workers)]
    while pending:
        _report(storage, sid, total, progress)
        _, pending = ray.wait(pending, timeout=0.5)
    _report(storage, sid, total, progress)


def _report(storage: Any, sid: int, total: int, progress: Progress | None) -> None:
    if progress is None:
        return
    finished = store.trials(storage, sid, ["COMPLETE", "PRUNED", "FAIL"])
    done = [t for t in finished if t.user_attrs.get("status")]
    values = [t.value for t in done if t.value is not None and math.isfinite(t.value)]
    direction = storage.get_study_directions(sid)[0].name.lower()
    best = (min(values) if direction == "minimize" else max(values)) if values else None
    progress(len(done), total, best)


def summarize(storage: Any, sid: int, cfg: Config, url: str, seconds: float) -> SweepSummary:
    counts: dict[str, int] = {}
    values = []
    for t in store.trials(storage, sid):
        status = t.user_attrs.get("status")
        if status is None:
            continue
        counts[status] = counts.get(status, 0) + 1
        if t.value is not None and math.isfinite(t.value) and status == "ok":
            values.append(t.value)
    direction = METRICS[cfg.metric][1]
    best = (min(values) if direction == "minimize" else max(values)) if values else None
    return SweepSummary(cfg.study, url, sum(counts.values()), counts, best, seconds)


__all__ = [
    "EXECUTORS",
    "SweepSummary",
    "config_dict",
    "distributions",
    "result_attrs",
    "run",
    "summarize",
    "work",
]
