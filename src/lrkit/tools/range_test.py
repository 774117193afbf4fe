"""The LR range test (Smith, 2017; fastai's ``lr_find``): sweep the lr, watch the loss.

The lr grows from ``start_lr`` to ``end_lr`` over ``num_steps`` updates along
lrkit's own schedules -- an :class:`~lrkit.schedules.Exponential` (default) or
a :class:`~lrkit.schedules.Linear` -- so update ``k`` runs at ``sweep(k)``
and records the loss of its batch, computed before the update (as fastai and
torch-lr-finder do), or with ``val_data`` the mean loss on held-out batches
after it. The sweep stops early when the bias-corrected exponential average
of the loss exceeds ``diverge_factor`` times its best value, or when a loss
is not finite. The suggestion is a method of :mod:`lrkit.tools.suggestions`
applied to the recorded curve (Note [suggestion smoothing]); the default was
chosen on the built-in tasks (``docs/tools.md``).

Batches are ``(inputs, targets)`` with ``loss = loss_fn(model(inputs),
targets)``; a dict batch with no ``loss_fn`` is passed as ``model(**batch)``
and its ``.loss`` is used (a Hugging Face model); ``batch_fn(model, batch)``
computes the loss of any other batch. Model and optimizer state (weights,
buffers, moments, lrs, train/eval mode, device) are restored afterwards,
whatever happened in between.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrkit.schedules import Exponential, Linear, Scale, Schedule
from lrkit.tools import suggestions
from lrkit.tools.suggestions import SUGGESTIONS, Suggestion, ema
from lrkit.validation import Param, normalize

ARGUMENTS = {
    "start_lr": Param(kind="float", lo=0.0, lo_open=True),
    "end_lr": Param(kind="float", lo=0.0, lo_open=True),
    "num_steps": Param(kind="int", lo=2),
    "mode": Param(kind="str", choices=("exp", "linear")),
    "smoothing": Param(kind="float", lo=0.0, hi=1.0, hi_open=True),
    "diverge_factor": Param(kind="float", lo=1.0, lo_open=True),
    "accumulation_steps": Param(kind="int", lo=1),
    "val_batches": Param(kind="int", lo=1, nullable=True),
    "amp": Param(kind="str", choices=("bf16", "fp16"), nullable=True),
}
Progress = Callable[[Iterable[int], int], Iterable[int]]
BatchFn = Callable[[nn.Module, Any], Tensor]


@dataclasses.dataclass(frozen=True)
class RangeTestResult:
    """What a range test saw: the lr of each update, its loss (raw and smoothed), suggestions."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]  # Note [suggestion smoothing]: the centered curve
    suggested_lr: float | None  # by `method`; None when too few points were recorded
    method: str
    suggestions: dict[str, float | None]  # every method of lrkit.tools.suggestions
    stop_reason: str  # "completed", "diverged" or "non-finite loss"
    num_steps: int  # the updates asked for; len(lrs) were recorded

    @property
    def valley_lr(self) -> float | None:
        return self.suggestions.get("valley")

    @property
    def steepest_lr(self) -> float | None:
        return self.suggestions.get("steepest")

    @property
    def minimum_lr(self) -> float | None:
        return self.suggestions.get("minimum")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(
            valley_lr=self.valley_lr, steepest_lr=self.steepest_lr, minimum_lr=self.minimum_lr
        )
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def plot(
        self, output: str | Path | None = None, *, ax: Any = None, title: str = "LR range test"
    ) -> Any:
        """Draw loss against lr, suggestions marked: into ``ax`` (a notebook's matplotlib
        Axes, returned), or into a new figure written to ``output`` (its path returned)."""
        from lrkit.tools.range_plot import plot_range_test

        return plot_range_test(self, output, ax=ax, title=title)

    def apply(self, optimizer: torch.optim.Optimizer, lr: float | None = None) -> float:
        """Set ``optimizer``'s lr to ``lr`` (default: the suggestion), keeping each group's
        ratio to the first; ``initial_lr`` too, so a scheduler built next starts from it."""
        target = self.suggested_lr if lr is None else lr
        if target is None:
            raise ValueError("RangeTestResult.apply: no lr was suggested (too few steps)")
        target = float(normalize("RangeTestResult.apply", "lr", ARGUMENTS["end_lr"], target))
        ratios = _lr_ratios(optimizer)
        _set_lr(optimizer, target, ratios)
        for group, ratio in zip(optimizer.param_groups, ratios):
            if "initial_lr" in group:
                group["initial_lr"] = target * ratio
        return target


def range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], Tensor] | None,
    data: Iterable[Any],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    accumulation_steps: int = 1,
    method: str | Suggestion = suggestions.DEFAULT,
    device: str | torch.device | None = None,
    batch_fn: BatchFn | None = None,
    val_data: Iterable[Any] | None = None,
    val_batches: int | None = None,
    amp: str | None = None,
    progress: Progress | None = None,
) -> RangeTestResult:
    """Run an LR range test and restore ``model`` and ``optimizer`` afterwards.

    ``data`` yields batches (cycled when exhausted; see the module docstring
    for their forms). Every param group keeps its lr ratio to the first group,
    whose lr is swept. Each update averages the gradients of
    ``accumulation_steps`` batches. ``device`` moves the model there for the
    test (and back) and each batch's tensors with it; ``amp`` runs the forward
    pass under ``torch.autocast`` in ``"bf16"`` or ``"fp16"`` (with a
    GradScaler); ``val_data`` records the mean loss of ``val_batches`` of its
    batches (all when None) after each update instead of the training loss.
    ``method`` names a suggestion (:data:`lrkit.tools.suggestions.SUGGESTIONS`)
    or is a function ``(lrs, losses) -> lr``.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "range_test: `optimizer` must be a torch.optim.Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    given = {k: v for k, v in locals().items() if k in ARGUMENTS}
    checked = check_arguments(**given, method=method, device=device)
    name, suggest_fn = _method(method)
    sweep = sweep_schedule(checked["start_lr"], checked["end_lr"], num_steps, checked["mode"])
    run = _Run(model, loss_fn, batch_fn, _device(device), checked["amp"])
    saved = _snapshot(model, optimizer)
    try:
        lrs, losses, reason = run.sweep(
            optimizer,
            _cycle(data),
            sweep(np.arange(checked["num_steps"], dtype=np.float64)),
            checked,
            val_data,
            progress,
        )
    finally:
        _restore(model, optimizer, saved)
    curve = (np.asarray(lrs), np.asarray(losses))
    picks = {k: fn(*curve) if len(lrs) else None for k, fn in SUGGESTIONS.items()}
    if name not in picks:
        picks[name] = suggest_fn(*curve) if len(lrs) >= 3 else None
    smoothed = suggestions.centered(*curve) if len(lrs) else np.empty(0)
    return RangeTestResult(
        lrs=tuple(lrs),
        losses=tuple(losses),
        smoothed=tuple(float(v) for v in smoothed),
        suggested_lr=picks[name],
        method=name,
        suggestions=picks,
        stop_reason=reason,
        num_steps=checked["num_steps"],
    )


def check_arguments(**given: Any) -> dict[str, Any]:
    """:func:`range_test`'s sweep arguments (``ARGUMENTS``; defaults for those not
    given), checked as it checks them: a ``ValueError``/``TypeError`` naming the
    argument, before any work (the CLI reads its flags with it)."""
    unknown = sorted(set(given) - {*ARGUMENTS, "method", "device"})
    if unknown:
        raise TypeError(f"range_test: unknown argument(s) {unknown}")
    defaults = inspect.signature(range_test).parameters
    checked = _checked({k: given.get(k, defaults[k].default) for k in ARGUMENTS})
    if not checked["end_lr"] > checked["start_lr"]:
        raise ValueError(
            f"range_test: `end_lr` must be greater than `start_lr` ({checked['start_lr']}), "
            f"got {checked['end_lr']}"
        )
    _method(given.get("method", suggestions.DEFAULT))
    _device(given.get("device"))
    return checked


def sweep_schedule(start_lr: float, end_lr: float, num_steps: int, mode: str) -> Schedule:
    """The lr of update ``k`` as a native schedule: geometric (``exp``) or arithmetic
    (``linear``) from ``start_lr`` at ``k = 0`` to ``end_lr`` at ``k = num_steps - 1``."""
    if mode == "exp":
        gamma = (end_lr / start_lr) ** (1.0 / (num_steps - 1))
        return Scale(Exponential(gamma), start_lr)
    return Linear(num_steps - 1, start=start_lr, end=end_lr)


def sweep_lrs(start_lr: float, end_lr: float, num_steps: int, mode: str) -> np.ndarray:
    """The lr of each update (:func:`sweep_schedule` at ``0 .. num_steps - 1``)."""
    schedule = sweep_schedule(start_lr, end_lr, num_steps, mode)
    lrs: np.ndarray = schedule(np.arange(num_steps, dtype=np.float64))
    return lrs


def smooth(losses: Iterable[float], beta: float) -> np.ndarray:
    """Exponential moving average with bias correction (what the sweep stops on)."""
    return ema(list(losses), beta)


def _checked(given: Mapping[str, Any]) -> dict[str, Any]:
    return {k: normalize("range_test", k, spec, given[k]) for k, spec in ARGUMENTS.items()}


def _method(method: Any) -> tuple[str, Suggestion]:
    if callable(method):
        return getattr(method, "__name__", "custom"), method
    if not isinstance(method, str) or method not in SUGGESTIONS:
        names = ", ".join(map(repr, SUGGESTIONS))
        raise ValueError(
            f"range_test: `method` must be one of {names} or a function (lrs, losses) -> lr, "
            f"got {method!r}"
        )
    return method, SUGGESTIONS[method]


def _device(device: Any) -> torch.device | None:
    if device is None:
        return None
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"range_test: `device` must name a torch device, got {device!r}") from None


def _to(batch: Any, device: torch.device | None) -> Any:
    """``batch`` with every tensor in it (tuples, lists, dicts) moved to ``device``."""
    if device is None:
        return batch
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return type(batch)({k: _to(v, device) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(v, device) for v in batch)
    return batch


class _Run:
    """One range test's loop: the loss of a batch, autocast, the sweep."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[Any, Any], Tensor] | None,
        batch_fn: BatchFn | None,
        device: torch.device | None,
        amp: str | None,
    ) -> None:
        self.model, self.loss_fn, self.batch_fn, self.device = model, loss_fn, batch_fn, device
        self.amp = amp
        kind = device.type if device is not None else _model_device(model).type
        self.autocast_device = kind
        self.scaler = torch.amp.GradScaler(kind) if amp == "fp16" else None

    def loss(self, batch: Any) -> Tensor:
        batch = _to(batch, self.device)
        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        with torch.autocast(self.autocast_device, dtype=dtype, enabled=self.amp is not None):
            if self.batch_fn is not None:
                return self.batch_fn(self.model, batch)
            if isinstance(batch, Mapping) and self.loss_fn is None:
                out = self.model(**batch)
                loss = getattr(out, "loss", None)
                if loss is None and isinstance(out, Mapping):
                    loss = out.get("loss")
                if not isinstance(loss, Tensor):
                    raise TypeError(
                        "range_test: a dict batch needs a model whose output has a `loss` "
                        "(as Hugging Face models do with labels), or pass batch_fn"
                    )
                return loss
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2) or self.loss_fn is None:
                raise TypeError(
                    "range_test: a batch must be (inputs, targets) with a `loss_fn`, a dict for "
                    "a model that returns .loss, or anything with "
                    f"batch_fn(model, batch) -> loss; got a {type(batch).__name__}"
                )
            inputs, targets = batch
            return self.loss_fn(self.model(inputs), targets)

    def sweep(
        self,
        optimizer: torch.optim.Optimizer,
        batches: Iterator[Any],
        lrs: np.ndarray,
        checked: dict[str, Any],
        val_data: Iterable[Any] | None,
        progress: Progress | None,
    ) -> tuple[list[float], list[float], str]:
        if self.device is not None:
            self.model.to(self.device)
        ratios = _lr_ratios(optimizer)
        self.model.train()
        seen_lrs: list[float] = []
        losses: list[float] = []
        beta, avg, best = checked["smoothing"], 0.0, math.inf
        steps: Iterable[int] = range(len(lrs))
        for k in progress(steps, len(lrs)) if progress else steps:
            _set_lr(optimizer, float(lrs[k]), ratios)
            loss = self.update(optimizer, batches, checked["accumulation_steps"])
            if val_data is not None and math.isfinite(loss):
                loss = self.validate(val_data, checked["val_batches"])
            if not math.isfinite(loss):
                return seen_lrs, losses, "non-finite loss"
            seen_lrs.append(float(lrs[k]))
            losses.append(loss)
            avg = beta * avg + (1 - beta) * loss
            smoothed = avg / (1 - beta ** (k + 1))
            best = min(best, smoothed)
            if smoothed > checked["diverge_factor"] * best:
                return seen_lrs, losses, "diverged"
        return seen_lrs, losses, "completed"

    def update(self, optimizer: torch.optim.Optimizer, batches: Iterator[Any], accum: int) -> float:
        optimizer.zero_grad()
        total = 0.0
        for _ in range(accum):
            loss = self.loss(next(batches)) / accum
            (self.scaler.scale(loss) if self.scaler else loss).backward()  # type: ignore[no-untyped-call]
            total += float(loss.detach())
        if not math.isfinite(total):
            return total
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()
        return total

    @torch.no_grad()
    def validate(self, val_data: Iterable[Any], limit: int | None) -> float:
        self.model.eval()
        try:
            values = [float(self.loss(b)) for b in itertools.islice(val_data, limit)]
        finally:
            self.model.train()
        if not values:
            raise ValueError("range_test: `val_data` yielded no batches")
        return float(np.mean(values))


def _model_device(model: nn.Module) -> torch.device:
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return first.device if first is not None else torch.device("cpu")


def _cycle(data: Iterable[Any]) -> Iterator[Any]:
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError("range_test: `data` yielded no batches")


def _lr_ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    base = [float(g["lr"]) for g in optimizer.param_groups]
    if base[0] == 0:
        return [1.0] * len(base)
    return [b / base[0] for b in base]


def _set_lr(optimizer: torch.optim.Optimizer, lr: float, ratios: list[float]) -> None:
    for group, ratio in zip(optimizer.param_groups, ratios):
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(lr * ratio)
        else:
            group["lr"] = lr * ratio


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[Any, ...]:
    modes = {name: m.training for name, m in model.named_modules()}
    return (
        copy.deepcopy(model.state_dict()),
        copy.deepcopy(optimizer.state_dict()),
        modes,
        _model_device(model),
    )


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, saved: tuple[Any, ...]) -> None:
    weights, opt_state, modes, device = saved
    model.to(device)
    model.load_state_dict(weights)
    optimizer.load_state_dict(opt_state)
    if not opt_state["state"]:
        optimizer.state.clear()  # load_state_dict keeps state it has no entry for
    for name, m in model.named_modules():
        m.training = modes[name]


__all__ = [
    "ARGUMENTS",
    "BatchFn",
    "Progress",
    "RangeTestResult",
    "check_arguments",
    "range_test",
    "smooth",
    "sweep_lrs",
    "sweep_schedule",
]
