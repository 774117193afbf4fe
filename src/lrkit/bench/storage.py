"""Where sweeps live: Optuna storage, and how trials are queued, claimed and recovered.

Note [exactly once]
~~~~~~~~~~~~~~~~~~~
Every configuration of a sweep is one Optuna trial, identified by the
``key`` user attribute (:meth:`TrialConfig.key`). The process that runs
``lrkit bench run`` (the coordinator) queues the configurations as WAITING
trials, each with its Optuna params and its config as user attributes.
Workers -- local processes, Ray tasks, on any machine that reaches the
storage -- claim a WAITING trial by moving it to RUNNING with Optuna's
``set_trial_state_values``, which changes a trial only if it is still
WAITING, in one transaction: two workers never claim the same trial. A
worker records a heartbeat while it trains and finishes the trial as
COMPLETE (``ok``, ``diverged``), PRUNED or FAIL (``error``).

A worker that dies leaves its trial RUNNING. Such a trial is *stale* when
its heartbeat is older than ``GRACE_SECONDS`` (Optuna's
``fail_stale_trials``), or at once when it ran on this machine in a process
that no longer exists. :func:`recover` fails stale trials (a FAIL without a
``status``), and the coordinator queues again every configuration that has
no live or finished trial -- WAITING, RUNNING, COMPLETE, PRUNED, or FAIL
with ``status: error`` (a configuration that raised raises again). So a
sweep killed at any point, by SIGKILL or Ctrl-C, and started again with the
same command completes every configuration exactly once; the stale trials
stay in the study, marked, and the report leaves them out.

The database is written only in transactions (SQLite's journal, or the RDB
server's), so a kill cannot corrupt it. SQLite suits one machine, with any
number of local workers; for many machines use an RDB server URL
(``postgresql://``, ``mysql://``) or Optuna's journal file on a shared file
system (``--db path.journal``); run one coordinator per study.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

DEFAULT_DB = "lrkit-bench.db"
HEARTBEAT_SECONDS = 5
GRACE_SECONDS = 30
ALIVE = ("WAITING", "RUNNING", "COMPLETE", "PRUNED")


def storage_url(db: str | Path | None = None) -> str:
    """The Optuna storage URL of ``--db``: a URL as it is, a ``.journal`` file as
    Optuna's journal storage, any other path as an SQLite file (``DEFAULT_DB`` in
    the current directory when None)."""
    if db is None:
        db = DEFAULT_DB
    text = str(db)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    if path.suffix == ".journal":
        return f"journal:///{path}"
    return f"sqlite:///{path}"


def open_storage(db: str | Path | None = None) -> Any:
    """The Optuna storage for ``db`` (see :func:`storage_url`), with heartbeats."""
    optuna = _optuna()
    url = storage_url(db)
    if url.startswith("journal:///"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:///")))
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    # Optuna creates the schema of a new file with check-then-CREATE, outside a
    # transaction: two processes opening a fresh file at once (a sweep starting
    # and a `bench status`) both CREATE, and one fails. The file lock orders them.
    with _file_lock(url), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS, **kwargs
        )


def _optuna() -> Any:
    from lrkit.extras import require

    optuna = require("optuna")
    optuna.logging.set_verbosity(logging.WARNING)
    return optuna


def worker_name() -> str:
    """``host:boot:pid``: which process on which machine (and boot) runs a trial."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = "-"
    return f"{socket.gethostname()}:{boot}:{os.getpid()}"


def _dead(worker: str) -> bool:
    """Whether ``worker`` ran on this machine, in this boot, in a process that is gone."""
    host, boot, pid = [*worker.split(":"), "", "", ""][:3]
    here_host, here_boot, _ = worker_name().split(":")
    if host != here_host or boot != here_boot or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def study_id(storage: Any, name: str) -> int:
    return int(storage.get_study_id_from_name(name))


def trials(storage: Any, sid: int, states: Sequence[str] | None = None) -> list[Any]:
    """The study's trials (as Optuna FrozenTrials), optionally of some states only."""
    from optuna.trial import TrialState

    wanted = None if states is None else tuple(TrialState[s] for s in states)
    return list(storage.get_all_trials(sid, deepcopy=False, states=wanted))


def trial_id(storage: Any, sid: int, trial: Any) -> int:
    return int(storage.get_trial_id_from_study_id_trial_number(sid, trial.number))


def present_keys(storage: Any, sid: int) -> set[str]:
    """Keys of the configurations with a live or finished trial (Note [exactly once])."""
    out = set()
    for t in trials(storage, sid):
        key = t.user_attrs.get("key")
        if key is None:
            continue
        if t.state.name in ALIVE or t.user_attrs.get("status") == "error":
            out.add(key)
    return out


def enqueue(storage: Any, sid: int, configs: Sequence[Any], distributions: dict[str, Any]) -> int:
    """Queue the configurations that have no live or finished trial; how many were queued."""
    from optuna.trial import TrialState, create_trial

    present = present_keys(storage, sid)
    queued = 0
    for cfg in configs:
        key = cfg.key()
        if key in present:
            continue
        params = {k: getattr(cfg, k) for k in distributions}
        template = create_trial(
            state=TrialState.WAITING,
            params=params,
            distributions=distributions,
            user_attrs={"key": key, "config": cfg.to_attrs()},
        )
        storage.create_new_trial(sid, template_trial=template)
        present.add(key)
        queued += 1
    return queued


def recover(study: Any, storage: Any) -> int:
    """Fail the stale RUNNING trials of ``study`` (on ``storage``; Note [exactly once])."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    sid = study_id(storage, study.study_name)
    before = {t.number for t in trials(storage, sid, ["RUNNING"])}
    if not before:
        return 0
    with contextlib.suppress(Exception), warnings.catch_warnings():  # journal: no heartbeats
        warnings.simplefilter("ignore")
        _optuna().storages.fail_stale_trials(study)
    now = datetime.datetime.now()
    for t in trials(storage, sid, ["RUNNING"]):
        worker = t.user_attrs.get("worker")
        if worker is None:  # died between its claim and naming itself
            started = t.datetime_start or now
            if (now - started).total_seconds() < GRACE_SECONDS:
                continue
        elif not _dead(str(worker)):
            continue
        with contextlib.suppress(UpdateFinishedTrialError):
            storage.set_trial_state_values(trial_id(storage, sid, t), TrialState.FAIL)
    now_running = {t.number for t in trials(storage, sid, ["RUNNING"])}
    return len(before - now_running)


def claim(storage: Any, sid: int) -> tuple[int, Any] | None:
    """Move one WAITING trial to RUNNING for this process: ``(trial_id, frozen)``, or None.

    Note [sqlite claims]: Optuna reads a trial's state before its UPDATE, and
    on SQLite that read is outside the write transaction, so two processes
    can both see WAITING and both "claim" it (a server's ``SELECT ... FOR
    UPDATE`` does lock the row). On an SQLite file the claim therefore holds
    an exclusive lock on ``<db>.lock`` (``fcntl.flock``; one machine, as SQLite
    is anyway), which makes read-and-update one step.
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    with _file_lock(str(getattr(storage, "url", "") or "")):
        for t in trials(storage, sid, ["WAITING"]):
            tid = trial_id(storage, sid, t)
            try:
                if not storage.set_trial_state_values(tid, TrialState.RUNNING):
                    continue
            except UpdateFinishedTrialError:
                continue
            storage.set_trial_user_attr(tid, "worker", worker_name())
            beat(storage, tid)
            return tid, storage.get_trial(tid)
    return None


@contextlib.contextmanager
def _file_lock(url: str) -> Iterator[None]:
    """An exclusive lock on ``<db>.lock`` beside an SQLite file (nothing for servers)."""
    if not url.startswith("sqlite:///"):
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no flock; one worker per SQLite file there
        yield
        return
    with open(url.removeprefix("sqlite:///") + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def beat(storage: Any, tid: int) -> None:
    if hasattr(storage, "record_heartbeat") and getattr(storage, "heartbeat_interval", None):
        storage.record_heartbeat(tid)


@contextlib.contextmanager
def heartbeat(storage: Any, tid: int) -> Iterator[None]:
    """Record the trial's heartbeat every ``HEARTBEAT_SECONDS`` while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):
                beat(storage, tid)

    thread = threading.Thread(target=loop, name=f"lrkit-heartbeat-{tid}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def set_study_config(storage: Any, sid: int, raw: dict[str, Any]) -> None:
    storage.set_study_user_attr(sid, "config", json.loads(json.dumps(raw)))


__all__ = [
    "ALIVE",
    "DEFAULT_DB",
    "GRACE_SECONDS",
    "HEARTBEAT_SECONDS",
    "beat",
    "claim",
    "enqueue",
    "heartbeat",
    "open_storage",
    "present_keys",
    "recover",
    "storage_url",
    "study_id",
    "trial_id",
    "trials",
    "worker_name",
]
