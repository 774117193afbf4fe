"""Where a plotted curve comes from: a spec, a JSON/YAML file, or another library's scheduler.

:func:`load` turns one source string into a :class:`Curve` (values at steps
``0 .. steps``), so ``lrkit plot`` can put lrkit schedules and the schedulers
they replace on one figure:

* a spec, ``"cosine(steps=1000, end=0.1)"`` (what :func:`lrkit.schedules.parse`
  reads and ``str(schedule)`` writes): values are multiples of the base lr;
* a ``.json``/``.yaml``/``.yml`` file holding a schedule's dict form
  (``Schedule.to_dict()``) or spec string, or a list of them (one curve each);
* ``LIB:NAME`` for a drop-in scheduler of :mod:`lrkit.compat`, with its
  keyword arguments inline (``"torch:OneCycleLR(max_lr=1.0, total_steps=100)"``)
  and/or in ``options`` (the CLI's ``--num-warmup-steps 100`` flags).
  ``LIB`` is ``torch``, ``transformers``, ``timm``, ``keras`` or ``optax``;
  ``NAME`` is any of that module's public names, or a short name:
  Hugging Face's ``get_scheduler`` names (``transformers:cosine``) and timm's
  ``--sched`` names (``timm:cosine``). Torch-style schedulers are stepped on
  an SGD optimizer with lr 1 and momentum 0.9, so their values are absolute
  lrs unless they scale a base lr of 1; the momentum they set is recorded.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.extras import require
from lrkit.schedules import Schedule, parse
from lrkit.spec import Call, SpecError, plain, read
from lrkit.tools.data_files import SUFFIXES as FILE_SUFFIXES
from lrkit.tools.data_files import DataFileError, read_data_file
from lrkit.validation import did_you_mean

LIBRARIES = ("torch", "transformers", "timm", "keras", "optax")
TIMM_NAMES = {
    "cosine": "CosineLRScheduler",
    "tanh": "TanhLRScheduler",
    "poly": "PolyLRScheduler",
    "step": "StepLRScheduler",
    "multistep": "MultiStepLRScheduler",
}
# keyword arguments that say how long a compat scheduler runs (for the default steps)
HORIZON_KEYS = (
    "num_training_steps", "total_steps", "T_max", "T_0", "t_initial", "decay_steps",
    "first_decay_steps", "transition_steps", "total_iters",
)  # fmt: skip


class SourceError(ValueError):
    """A source that cannot be read: unknown name, malformed spec, missing file."""


# Note [sampling limits]: what a command samples is bounded, so that a schedule of
# 10**12 steps draws as fast as one of 1000. A figure or terminal plot evaluates a
# native schedule at most at PLOT_POINTS evenly spaced steps (every step when there
# are fewer), plus both sides of each phase boundary so that jumps stay sharp. A
# table (csv/json) has one row per step, at most TABLE_ROWS; a torch-style compat
# scheduler is stepped once per update, at most STEPPED_STEPS times. Past a limit
# the command fails at once with one line naming it.
PLOT_POINTS = 10_001
TABLE_ROWS = 1_000_001
STEPPED_STEPS = 100_000


@dataclasses.dataclass(frozen=True)
class Curve:
    """Sampled values of one schedule or scheduler, at ``at`` (steps; every step
    ``0 .. len(values) - 1`` when None)."""

    label: str
    values: np.ndarray
    momentum: np.ndarray | None = None  # where the schedule also sets momentum (or beta1)
    breakpoints: tuple[float, ...] = ()
    absolute: bool = False  # values are lrs, not multiples of the base lr
    at: np.ndarray | None = None

    @property
    def steps(self) -> np.ndarray:
        if self.at is not None:
            return self.at
        return np.arange(len(self.values), dtype=np.float64)

    @property
    def last_step(self) -> float:
        return float(self.at[-1]) if self.at is not None else float(len(self.values) - 1)


def sample_steps(
    steps: int, breakpoints: Sequence[float] = (), every_step: bool = False
) -> np.ndarray:
    """The steps at which a curve over ``0 .. steps`` is evaluated (Note [sampling limits])."""
    if every_step or steps + 1 <= PLOT_POINTS:
        if steps + 1 > TABLE_ROWS:
            raise SourceError(
                f"a table has one row per step, at most {TABLE_ROWS - 1:,} steps; "
                f"got {steps:,} (pass --steps N)"
            )
        return np.arange(steps + 1, dtype=np.float64)
    grid = np.linspace(0.0, float(steps), PLOT_POINTS)
    edges = np.asarray([b for b in breakpoints if 0 < b <= steps][:PLOT_POINTS], dtype=np.float64)
    before = np.maximum(edges - max(1e-9 * steps, 1e-6), 0.0)
    return np.unique(np.concatenate([grid, edges, before]))


@dataclasses.dataclass(frozen=True)
class Source:
    """One source, read once: its native schedules (with labels), or the compat
    scheduler it names with its keyword arguments (``factory`` is then set)."""

    text: str
    schedules: tuple[tuple[str, Schedule], ...] = ()
    factory: Any = None
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def native(self) -> bool:
        return self.factory is None


def resolve(source: str, options: Mapping[str, Any] | None = None) -> Source:
    """Parse a spec, read a file or look up a compat name (``options`` go to the latter)."""
    path = Path(source)
    if path.suffix.lower() in FILE_SUFFIXES:
        labelled = [(f"{path.name}[{i}]" if i else path.name, s) for i, s in enumerate(_read(path))]
        return Source(source, tuple(labelled))
    if _compat_parts(source) is not None:
        factory, kwargs = _compat(source, options or {})
        return Source(source, factory=factory, kwargs=kwargs)
    lib, colon, _ = source.partition("(")[0].partition(":")
    if colon and lib.strip().isidentifier():  # a spec has no ':'; this meant LIB:NAME
        raise SourceError(
            f"unknown library {lib.strip()!r} in {source!r}; LIB:NAME takes one of "
            + ", ".join(LIBRARIES)
            + did_you_mean(lib.strip(), LIBRARIES)
        )
    schedule = parse(source)
    return Source(source, ((str(schedule), schedule),))


def steps_past(ends: Sequence[float], fallback: int = 1000) -> int:
    """10% past the last of ``ends`` (phase boundaries, horizons); ``fallback`` without any."""
    return max(1, math.ceil(round(1.1 * max(ends), 6))) if ends else fallback


def default_steps(sources: Sequence[str | Source], options: Mapping[str, Any] | None = None) -> int:
    """10% past the last phase of every source that ends (compat: past its horizon
    argument); a schedule that never settles (restarts without ``cycles``, cyclic) is
    drawn over that span, or over its first three phases when nothing else ends."""
    ends: list[float] = []
    unbounded: list[float] = []
    for source in sources:
        found = resolve(source, options) if isinstance(source, str) else source
        for _, s in found.schedules:
            marks = list(s.breakpoints())
            (ends if s.horizon() is not None else unbounded).extend(
                marks if s.horizon() is not None else marks[:3]
            )
        kwargs = found.kwargs
        ends += [float(kwargs[k]) for k in HORIZON_KEYS if isinstance(kwargs.get(k), (int, float))]
    return steps_past(ends or unbounded)


def load(
    source: str | Source,
    steps: int,
    options: Mapping[str, Any] | None = None,
    *,
    every_step: bool = False,
) -> list[Curve]:
    """The curve(s) of one source over steps ``0 .. steps``; ``options`` go to compat
    sources. Sampled for a figure, or at ``every_step`` for a table (Note [sampling limits])."""
    found = resolve(source, options) if isinstance(source, str) else source
    if found.native:
        return [schedule_curve(s, steps, label, every_step) for label, s in found.schedules]
    return [_compat_curve(found, steps, every_step)]


def schedule_curve(
    schedule: Schedule, steps: int, label: str | None = None, every_step: bool = False
) -> Curve:
    """A native schedule's values; one-cycle schedules also give their momentum companion."""
    marks = tuple(schedule.breakpoints())
    t = sample_steps(steps, marks, every_step)
    companion = getattr(schedule, "momentum", None)
    momentum = companion()(t) if callable(companion) else None
    at = None if len(t) == steps + 1 else t
    return Curve(label or str(schedule), schedule(t), momentum, marks, at=at)


def _read(path: Path) -> list[Schedule]:
    if not path.is_file():
        raise SourceError(f"no such schedule file: {path}")
    try:
        data = read_data_file(path)
    except DataFileError as exc:
        raise SourceError(str(exc)) from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise SourceError(f"{path}: holds no schedule")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(parse(item))
        elif isinstance(item, dict):
            out.append(Schedule.from_dict(item))
        else:
            raise SourceError(
                f"{path}: expected a schedule dict or spec string (or a list of them), "
                f"got {type(item).__name__}"
            )
    return out


def _compat_parts(source: str) -> tuple[str, str] | None:
    head = source.partition("(")[0]
    lib, colon, name = head.partition(":")
    if not colon or lib.strip() not in LIBRARIES:
        return None
    return lib.strip(), name.strip()


def _compat(source: str, options: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The compat callable a source names, and its keyword arguments."""
    parts = _compat_parts(source)
    if parts is None:
        raise SourceError(f"{source!r} names no compat library (lib:Name)")
    lib, name = parts
    kwargs = {**_inline_kwargs(source), **options}
    module = importlib.import_module(f"lrkit.compat.{lib}")
    if lib == "transformers" and not hasattr(module, name):
        if name not in module._FUNCTIONS:
            raise SourceError(
                f"unknown scheduler {source!r}: Hugging Face names are "
                + ", ".join(sorted(module._FUNCTIONS))
                + did_you_mean(name, list(module._FUNCTIONS))
            )
        kwargs = _hf_kwargs(kwargs)
        return (lambda opt, **kw: module.get_scheduler(name, opt, **kw)), kwargs
    name = TIMM_NAMES.get(name, name) if lib == "timm" else name
    public = [n for n in module.__all__ if callable(getattr(module, n))]
    if name not in public:
        raise SourceError(f"unknown scheduler {source!r}" + did_you_mean(name, public))
    return getattr(module, name), kwargs


def _hf_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = ("num_warmup_steps", "num_training_steps")
    top: dict[str, Any] = {k: kwargs.pop(k) for k in names if k in kwargs}
    return {**top, "scheduler_specific_kwargs": kwargs} if kwargs else top


def _inline_kwargs(source: str) -> dict[str, Any]:
    """``lib:Name(key=value, ...)``'s keywords, read with lrkit's one call syntax."""
    text = source.partition(":")[2].strip()
    if "(" not in text:
        return {}
    try:
        call = read(text, what="scheduler call")
    except SpecError as exc:
        raise SourceError(f"malformed scheduler arguments in {source!r}: {exc}") from None
    if not isinstance(call, Call):
        raise SourceError(f"malformed scheduler arguments in {source!r}: expected Name(key=value)")
    if any(arg.key is None for arg in call.args):
        raise SourceError(f"{source!r}: give arguments by keyword, e.g. name(steps=100)")
    try:
        kwargs = call.keywords(repr(source), text)
    except SpecError as exc:
        raise SourceError(f"malformed scheduler arguments in {source!r}: {exc}") from None
    for key, value in kwargs.items():
        if isinstance(value, Call):
            raise SourceError(f"{source!r}: `{key}` must be a literal, got a call")
    return {k: plain(v) for k, v in kwargs.items()}


def _compat_curve(source: Source, steps: int, every_step: bool) -> Curve:
    factory, kwargs, label = source.factory, source.kwargs, source.text
    params = inspect.signature(factory).parameters
    if "optimizer" not in params and "opt" not in params:
        made = factory(**kwargs)  # keras / optax: a function of the step
        marks = tuple(made.breakpoints()) if isinstance(made, Schedule) else ()
        grid = sample_steps(steps, marks, every_step)
        values = np.asarray(made(grid), dtype=np.float64)
        at = None if len(grid) == steps + 1 else grid
        return Curve(label, values, None, marks, absolute=True, at=at)
    if steps > STEPPED_STEPS:
        raise SourceError(
            f"{label!r} is stepped once per update, at most {STEPPED_STEPS:,} times; "
            f"got {steps:,} steps (pass --steps N)"
        )
    torch = require("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0, momentum=0.9)
    scheduler = factory(optimizer, **kwargs)
    if type(scheduler).__name__ in ("ReduceLROnPlateau", "PlateauLRScheduler", "GreedyLR"):
        raise SourceError(f"{label!r} follows a metric, so it has no curve to plot")
    group = optimizer.param_groups[0]
    lrs, momenta = np.full(steps + 1, np.nan), np.full(steps + 1, np.nan)
    timm_epochs = getattr(scheduler, "t_in_epochs", None)
    for t in range(steps + 1):
        if timm_epochs is not None:  # timm: the step is passed in
            (scheduler.step if timm_epochs else scheduler.step_update)(t)
        lrs[t], momenta[t] = float(group["lr"]), float(group["momentum"])
        if t == steps or timm_epochs is not None:
            continue
        optimizer.step()
        try:
            scheduler.step()
        except ValueError:  # OneCycleLR refuses to step past total_steps: the curve ends
            break
    moving = momenta if np.nanmax(momenta) > np.nanmin(momenta) else None
    return Curve(label, lrs, moving, (), absolute=True)


__all__ = [
    "HORIZON_KEYS",
    "LIBRARIES",
    "PLOT_POINTS",
    "STEPPED_STEPS",
    "TABLE_ROWS",
    "TIMM_NAMES",
    "Curve",
    "Source",
    "SourceError",
    "default_steps",
    "load",
    "resolve",
    "sample_steps",
    "schedule_curve",
    "steps_past",
]
