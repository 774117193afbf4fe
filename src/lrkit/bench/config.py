"""A sweep's configuration: the YAML/JSON file of ``lrkit bench run``, checked whole.

Every key is checked when the config is read, before any trial runs: an
unknown key, a bad spec, an empty grid or an lr <= 0 is a ``ValueError``
naming the key (the CLI exits 2). :meth:`Config.configurations` expands the
grid dimensions (optimizers x schedules x seeds x max_grad_norm x
batch_size, and lr when it is a list) into :class:`TrialConfig` values, one
per trial; an lr *range* is searched per group of the other dimensions
(Note [lr ranges] in ``engine.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lrkit.validation import MAX_INT, did_you_mean

VERSION = 1
METRICS = {"test_loss": ("loss", "minimize"), "test_accuracy": ("accuracy", "maximize")}
PRUNERS = ("asha", "median")
SAMPLERS = ("tpe", "qmc")
MEASURES = ("sharpness", "warmup_stats")
SCALING_RULES = ("linear", "sqrt")
KEYS = (
    "version", "study", "task", "entry", "steps", "epochs", "eval_every", "metric", "seeds",
    "optimizers", "schedules", "lr", "max_grad_norm", "batch_size", "lr_scaling", "prune",
    "target", "measure", "device", "description",
)  # fmt: skip
LR_RANGE_KEYS = ("low", "high", "log", "trials", "sampler")


@dataclasses.dataclass(frozen=True)
class LRRange:
    """``lr: {low, high, log, trials, sampler}``: ``trials`` learning rates per group,
    proposed by Optuna's TPE (or QMC) sampler from the group's finished trials."""

    low: float
    high: float
    log: bool = True
    trials: int = 10
    sampler: str = "tpe"


@dataclasses.dataclass(frozen=True)
class TrialConfig:
    """One trial: everything that decides its result (``key()`` names it)."""

    task: str
    optimizer: str
    schedule: str
    lr: float
    seed: int
    steps: int
    eval_every: int
    metric: str
    max_grad_norm: float | None = None
    batch_size: int | None = None
    base_lr: float | None = None  # the lr before lr_scaling, when a rule scaled it
    measure: tuple[str, ...] = ()
    device: str = "cpu"
    entry: str | None = None

    def key(self) -> str:
        """A canonical JSON text of the fields: equal configurations, equal keys."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def group(self) -> tuple[Any, ...]:
        """The configuration without its lr and seed (what an lr range is searched for)."""
        return (self.optimizer, self.schedule, self.max_grad_norm, self.batch_size)

    def to_attrs(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["measure"] = list(self.measure)
        return out

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> TrialConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in attrs.items() if k in names}
        values["measure"] = tuple(values.get("measure", ()))
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Config:
    """A checked sweep configuration (see :func:`read_config` for the keys)."""

    study: str
    task: str | None
    entry: str | None
    steps: int | None
    epochs: float | None
    eval_every: int | None
    metric: str
    seeds: tuple[int, ...]
    optimizers: tuple[str, ...]
    schedules: tuple[str, ...]
    lr: tuple[float, ...] | LRRange
    max_grad_norm: tuple[float | None, ...] = (None,)
    batch_size: tuple[int | None, ...] = (None,)
    lr_scaling: tuple[str, int] | None = None  # (rule, reference batch size)
    prune: str | None = None
    target: float | None = None
    measure: tuple[str, ...] = ()
    device: str = "cpu"
    description: str = ""

    @property
    def direction(self) -> str:
        """``"minimize"`` or ``"maximize"``: what the metric wants."""
        return METRICS[self.metric][1]

    def groups(self) -> list[tuple[str, str, float | None, int | None]]:
        """The grid of everything but lr and seed."""
        return list(
            itertools.product(self.optimizers, self.schedules, self.max_grad_norm, self.batch_size)
        )

    def trial(
        self,
        optimizer: str,
        schedule: str,
        mgn: float | None,
        batch: int | None,
        lr: float,
        seed: int,
    ) -> TrialConfig:
        """The trial of one grid point, with the steps, lr scaling and schedule filled in."""
        steps = self.steps_for(batch)
        base_lr = None
        if self.lr_scaling is not None and batch is not None:
            from lrkit.scaling import scale_lr

            rule, reference = self.lr_scaling
            base_lr, lr = lr, float(scale_lr(lr, reference, batch, rule))
        return TrialConfig(
            task=self.task or "",
            entry=self.entry,
            optimizer=optimizer,
            schedule=schedule.replace("{steps}", str(steps)),
            lr=float(lr),
            seed=int(seed),
            steps=steps,
            eval_every=min(self.eval_every or max(1, steps // 10), steps),
            metric=self.metric,
            max_grad_norm=mgn,
            batch_size=batch,
            base_lr=base_lr,
            measure=self.measure,
            device=self.device,
        )

    def steps_for(self, batch: int | None) -> int:
        """``steps``, or ``epochs`` over the task's training set at this batch size."""
        if self.steps is not None:
            return self.steps
        epochs = self.epochs if self.epochs is not None else 1.0  # read_config requires one
        return max(1, round(epochs * batches_per_epoch(self.task or "", batch)))

    def configurations(self) -> list[TrialConfig]:
        """Every trial of a grid sweep (lr a list); an lr range has none up front."""
        if isinstance(self.lr, LRRange):
            return []
        return [
            self.trial(o, s, m, b, lr, seed)
            for (o, s, m, b) in self.groups()
            for lr in self.lr
            for seed in self.seeds
        ]


def read_config(source: str | Path | Mapping[str, Any], *, study: str | None = None) -> Config:
    """A :class:`Config` from a YAML/JSON file or a dict, every key checked.

    ``study`` overrides the file's; without either, the study is the file's
    stem (``sweep.yaml`` -> ``sweep``), or ``"bench"`` for a dict.
    """
    from lrkit.tools.data_files import read_data_file

    if isinstance(source, Mapping):
        data, stem = dict(source), "bench"
    else:
        path = Path(source)
        data, stem = read_data_file(path), path.stem
    if not isinstance(data, dict):
        raise ValueError(f"a bench config is a mapping of keys, got {type(data).__name__}")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        key = str(unknown[0])
        raise ValueError(
            f"bench config: unknown key {key!r}{did_you_mean(key, KEYS)}; "
            f"valid keys: {', '.join(KEYS)}"
        )
    version = data.get("version", VERSION)
    if version != VERSION or isinstance(version, bool):
        raise ValueError(f"bench config: `version` must be {VERSION}, got {version!r}")
    return _build(data, study or _string(data, "study", stem))


def _build(data: dict[str, Any], study: str) -> Config:
    from lrkit.optim import parse_spec
    from lrkit.schedules import parse

    task, entry = data.get("task"), data.get("entry")
    if (task is None) == (entry is None):
        raise ValueError("bench config: give exactly one of `task` (a built-in task) and `entry`")
    if task is not None:
        task = _string(data, "task")
        _check_task(task)
    if entry is not None:
        entry = _string(data, "entry")
        if ":" not in entry:
            raise ValueError(f"bench config: `entry` must be MODULE:FUNCTION, got {entry!r}")
    steps, epochs = data.get("steps"), data.get("epochs")
    if (steps is None) == (epochs is None):
        raise ValueError("bench config: give exactly one of `steps` and `epochs`")
    if steps is not None:
        steps = _count(data, "steps")
    else:
        epochs = _positive(data, "epochs")
        if entry is not None:
            raise ValueError("bench config: `epochs` needs a built-in `task` (use `steps`)")
    eval_every = _count(data, "eval_every") if data.get("eval_every") is not None else None
    metric = data.get("metric", "test_loss")
    if metric not in METRICS:
        raise ValueError(
            f"bench config: `metric` must be one of {', '.join(METRICS)}, got {metric!r}"
        )
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = list(range(_count({"seeds": seeds}, "seeds")))
    seeds = tuple(_ints(data, "seeds", seeds, lo=0))
    optimizers = tuple(_strings(data, "optimizers", data.get("optimizers", ["adam"])))
    for spec in optimizers:
        try:
            parse_spec(spec)
        except ValueError as exc:
            raise ValueError(f"bench config: `optimizers`: {exc}") from None
    schedules = tuple(_strings(data, "schedules", data.get("schedules", ["constant()"])))
    for spec in schedules:
        try:
            parse(spec.replace("{steps}", "1000"))
        except ValueError as exc:
            raise ValueError(f"bench config: `schedules`: {exc}") from None
    lr = _lr(data.get("lr", [1e-3]))
    mgn = tuple(_optional_list(data, "max_grad_norm", float))
    batch = tuple(_optional_list(data, "batch_size", int))
    return Config(
        study=study,
        task=task,
        entry=entry,
        steps=steps,
        epochs=epochs,
        eval_every=eval_every,
        metric=metric,
        seeds=seeds,
        optimizers=optimizers,
        schedules=schedules,
        lr=lr,
        max_grad_norm=mgn,
        batch_size=batch,
        lr_scaling=_scaling(data.get("lr_scaling")),
        prune=_choice(data, "prune", PRUNERS, nullable=True),
        target=_number(data, "target") if data.get("target") is not None else None,
        measure=tuple(
            _strings(data, "measure", data.get("measure", []), choices=MEASURES, empty=True)
        ),
        device=_string(data, "device", "cpu"),
        description=str(data.get("description") or ""),
    )


def _check_task(task: str) -> None:
    task_call(task)  # unknown names and bad options raise, naming the task


def _lr(value: Any) -> tuple[float, ...] | LRRange:
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in LR_RANGE_KEYS]
        if unknown:
            raise ValueError(
                f"bench config: unknown key {unknown[0]!r} in `lr`; "
                f"valid: {', '.join(LR_RANGE_KEYS)}"
            )
        for key in ("low", "high"):
            if key not in value:
                raise ValueError(f"bench config: an `lr` range needs `{key}`")
        low, high = (_positive(value, k, where="lr.") for k in ("low", "high"))
        if not high > low:
            raise ValueError(
                f"bench config: `lr.high` must be greater than `lr.low` ({low}), got {high}"
            )
        log = value.get("log", True)
        if not isinstance(log, bool):
            raise ValueError(f"bench config: `lr.log` must be true or false, got {log!r}")
        trials = _count(value, "trials", where="lr.") if "trials" in value else 10
        sampler = _choice(value, "sampler", SAMPLERS, default="tpe", where="lr.")
        return LRRange(low, high, log, trials, sampler or "tpe")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("bench config: `lr` is an empty grid; give at least one learning rate")
    return tuple(_positive({"lr": v}, "lr") for v in values)


def _scaling(value: Any) -> tuple[str, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, Mapping)
        or set(value) - {"rule", "batch_size"}
        or "batch_size" not in value
    ):
        raise ValueError(
            "bench config: `lr_scaling` is {rule: linear|sqrt, batch_size: N} (the batch size "
            "at which `lr` holds)"
        )
    rule = _choice(value, "rule", SCALING_RULES, default="linear", where="lr_scaling.")
    return rule or "linear", _count(value, "batch_size", where="lr_scaling.")


def _string(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise ValueError(f"bench config: `{key}` must be a non-empty string, got {value!r}")
    return value


def _strings(
    data: Mapping[str, Any],
    key: str,
    value: Any,
    choices: Sequence[str] | None = None,
    empty: bool = False,
) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"bench config: `{key}` must be a list of strings, got {value!r}")
    if not values and not empty:
        raise ValueError(f"bench config: `{key}` is an empty list")
    if len(set(values)) != len(values):
        raise ValueError(f"bench config: `{key}` lists a value twice: {values}")
    for v in values:
        if choices is not None and v not in choices:
            raise ValueError(
                f"bench config: `{key}` takes {', '.join(choices)}, got {v!r}"
                + did_you_mean(v, choices)
            )
    return values


def _number(data: Mapping[str, Any], key: str, where: str = "") -> float:
    value = data.get(key)
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"bench config: `{where}{key}` must be a finite number, got {value!r}")
    return float(value)


def _positive(data: Mapping[str, Any], key: str, where: str = "") -> float:
    value = _number(data, key, where)
    if not value > 0:
        raise ValueError(f"bench config: `{where}{key}` must be > 0, got {data.get(key)!r}")
    return value


def _count(data: Mapping[str, Any], key: str, where: str = "") -> int:
    value = data.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise ValueError(f"bench config: `{where}{key}` must be a positive integer, got {value!r}")
    return value


def _ints(data: Mapping[str, Any], key: str, value: Any, lo: int) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ValueError(
            f"bench config: `{key}` must be a non-empty list of integers, got {value!r}"
        )
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= MAX_INT:
            raise ValueError(f"bench config: `{key}` must hold integers >= {lo}, got {v!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"bench config: `{key}` lists a value twice: {value}")
    return value


def _optional_list(data: Mapping[str, Any], key: str, kind: type) -> list[Any]:
    value = data.get(key)
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"bench config: `{key}` is an empty list")
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(None)
        elif kind is int:
            out.append(_count({key: v}, key))
        else:
            out.append(_positive({key: v}, key))
    return out


def _choice(
    data: Mapping[str, Any],
    key: str,
    choices: Sequence[str],
    *,
    default: str | None = None,
    nullable: bool = False,
    where: str = "",
) -> str | None:
    value = data.get(key, default)
    if value is None and nullable:
        return None
    if value not in choices:
        raise ValueError(
            f"bench config: `{where}{key}` must be one of {', '.join(choices)}, got {value!r}"
        )
    return str(value)


def task_call(task: str) -> tuple[str, dict[str, Any]]:
    """``"char_lm(layers=2, norm=post)"`` -> ``("char_lm", {...})``, the name checked."""
    from lrkit.spec import Call, Word, plain, read
    from lrkit.tasks.base import TASKS

    value = read(task, what="task")
    if isinstance(value, Word):
        TASKS.get_or_raise(str(value))
        return str(value), {}
    if not isinstance(value, Call):
        raise ValueError(f"a task is a name or name(key=value, ...), got {task!r}")
    info = TASKS.get_or_raise(value.name)
    kwargs = plain(value.keywords(f"task {value.name}", task))
    accepted = set(inspect.signature(info.build).parameters) - {"seed"}
    for key in kwargs:
        if key not in accepted:
            raise ValueError(
                f"task {value.name}: unknown option {key!r}; it takes {sorted(accepted)}"
            )
    return value.name, kwargs


def batches_per_epoch(task: str, batch_size: int | None) -> int:
    """How many batches one pass over ``task``'s training set has at ``batch_size``."""
    from lrkit.tasks import make_task

    name, options = task_call(task)
    if batch_size is not None:
        options["batch_size"] = batch_size
    return len(make_task(name, seed=0, **options).train)


__all__ = [
    "KEYS",
    "METRICS",
    "VERSION",
    "Config",
    "LRRange",
    "TrialConfig",
    "batches_per_epoch",
    "read_config",
    "task_call",
]
