"""One bench trial: build the task, the optimizer and the schedule, train, evaluate.

:func:`run_trial` trains ``steps`` optimizer updates of one
:class:`~lrkit.bench.config.TrialConfig` and returns a :class:`TrialResult`
holding everything the report reads: the training-loss curve, the metric at
every evaluation with the seconds spent so far, the final metric and the
status.

Note [divergence]
~~~~~~~~~~~~~~~~~
A trial *diverged* when a training loss is not finite, or when the loss
smoothed over ``1 / (1 - SMOOTHING)`` steps exceeds ``DIVERGE_FACTOR`` times
the first loss: the run is stopped there (a diverged run says nothing more
by running on), its metric is the worst possible (``inf`` for a loss, 0 for
an accuracy) and its status is ``"diverged"``, so that it ranks last and is
drawn as a failure, never dropped. A trial whose code raised is
``"error"``, with the message.

An ``entry`` (``MODULE:FUNCTION``) is a function returning the protocol of
``lrkit range-test --entry`` -- ``model``, ``loss_fn``, ``data`` (an
iterable of ``(inputs, targets)`` batches; an ``optimizer`` it returns is
ignored, the bench builds its own) -- plus ``evaluate``, a function of the
model returning a dict of metrics (``loss``, ``accuracy``) or the loss. It
takes ``seed`` when its signature has one; either way it runs under
``torch.manual_seed(seed)``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from lrkit.bench.config import METRICS, TrialConfig, task_call

DIVERGE_FACTOR = 4.0
SMOOTHING = 0.9
CURVE_POINTS = 1000  # training-loss points kept per trial (evenly spaced)
Report = Callable[[int, float], bool]  # (step, metric) -> whether to stop (pruned)


@dataclasses.dataclass
class TrialResult:
    """What a trial produced: ``status`` is ``ok``, ``diverged``, ``pruned`` or ``error``."""

    status: str
    value: float | None
    message: str = ""
    loss_steps: list[int] = dataclasses.field(default_factory=list)
    losses: list[float | None] = dataclasses.field(default_factory=list)
    evals: list[list[float]] = dataclasses.field(default_factory=list)  # [step, metric, seconds]
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    steps_done: int = 0


@dataclasses.dataclass
class Setup:
    """What a trial trains: from a built-in task or a user's entry."""

    model: nn.Module
    loss_fn: Callable[[Any, Any], torch.Tensor]
    batches: Iterator[Any]
    evaluate: Callable[[], dict[str, float]]


def setup(cfg: TrialConfig) -> Setup:
    """The model, loss, batches and evaluation of ``cfg``'s task or entry, from its seed."""
    device = _device(cfg.device)
    if cfg.entry:
        return _entry_setup(cfg, device)
    from lrkit.tasks import make_task

    name, options = task_call(cfg.task)
    if cfg.batch_size is not None:
        options["batch_size"] = cfg.batch_size
    if device.type != "cpu":
        options.setdefault("device", device)
    task = make_task(name, seed=cfg.seed, **options)
    return Setup(task.model, task.loss_fn, task.train.forever(), task.evaluate)


def _entry_setup(cfg: TrialConfig, device: torch.device) -> Setup:
    from lrkit.tools.entry import import_entry

    fn = import_entry(cfg.entry or "")
    takes_seed = "seed" in inspect.signature(fn).parameters
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        made = fn(seed=cfg.seed) if takes_seed else fn()
    if not isinstance(made, dict) or not {"model", "loss_fn", "data", "evaluate"} <= set(made):
        raise ValueError(
            f"entry {cfg.entry}: must return a dict with model, loss_fn, data and evaluate, "
            f"got {type(made).__name__}"
        )
    model = made["model"].to(device)
    evaluate = made["evaluate"]

    def metrics() -> dict[str, float]:
        was = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = evaluate(model)
        finally:
            model.train(was)
        return {"loss": float(out)} if isinstance(out, (int, float, torch.Tensor)) else dict(out)

    return Setup(model, made["loss_fn"], _cycle(made["data"]), metrics)


def run_trial(cfg: TrialConfig, report: Report | None = None) -> TrialResult:
    """Train ``cfg`` and evaluate it every ``eval_every`` steps and at the end.

    ``report(step, metric)`` is called at each evaluation; when it returns
    True the trial stops as ``"pruned"``. A raised exception is an
    ``"error"`` result (Note [divergence]), never an exception.
    """
    start = time.perf_counter()
    result = TrialResult("ok", None)
    try:
        _train(cfg, result, report, start)
    except Exception as exc:  # the trial's failure is data: the sweep goes on
        result.status, result.value = "error", None
        result.message = f"{type(exc).__name__}: {exc}"[:2000]
    result.seconds = time.perf_counter() - start
    return result


def _train(cfg: TrialConfig, result: TrialResult, report: Report | None, start: float) -> None:
    from lrkit.lr_scheduler import ScheduledLR
    from lrkit.optim import create_optimizer, parse_spec
    from lrkit.schedules import parse

    worst = math.inf if METRICS[cfg.metric][1] == "minimize" else 0.0
    made = setup(cfg)
    name, kwargs = parse_spec(cfg.optimizer)
    if cfg.max_grad_norm is not None:
        kwargs["max_grad_norm"] = cfg.max_grad_norm
    optimizer = create_optimizer(made.model, name, lr=cfg.lr, **kwargs)
    modes = _Modes(optimizer)
    modes.train()
    scheduler = ScheduledLR(optimizer, parse(cfg.schedule))
    start = time.perf_counter()  # time to a result counts training, not the data's setup
    watch = _measures(cfg, made.model, optimizer)
    every = max(1, cfg.steps // CURVE_POINTS)
    first, smooth = None, None
    for step in range(cfg.steps):
        inputs, targets = _on(next(made.batches), next(made.model.parameters()).device)
        loss = made.loss_fn(made.model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        value = float(loss.detach())
        if watch is not None:
            watch.before_step(step)
        optimizer.step()
        scheduler.step()
        if watch is not None:
            watch.after_step(step)
        result.steps_done = step + 1
        if step % every == 0 or step == cfg.steps - 1:
            result.loss_steps.append(step)
            result.losses.append(value if math.isfinite(value) else None)
        first = value if first is None else first
        smooth = value if smooth is None else SMOOTHING * smooth + (1 - SMOOTHING) * value
        if not math.isfinite(value) or smooth > DIVERGE_FACTOR * max(first, 1e-12):
            result.status, result.value = "diverged", worst
            result.message = f"training loss {value:.4g} at step {step} (first {first:.4g})"
            _finish(result, watch, optimizer)
            return
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            modes.eval()
            stop = _evaluate(cfg, made, result, report, start, worst)
            modes.train()
            if stop:
                _finish(result, watch, optimizer)
                return
    modes.eval()  # the weights a schedule-free run is evaluated and measured at
    if "sharpness" in cfg.measure:
        result.extras["sharpness"] = sharpness(made.model, made.loss_fn, made.batches)
    _finish(result, watch, optimizer)


@dataclasses.dataclass
class _Modes:
    """Schedule-free optimizers' ``train()``/``eval()`` (they step in train mode and
    are evaluated at their averaged weights in eval mode); nothing for the others."""

    optimizer: Any

    def train(self) -> None:
        if callable(getattr(self.optimizer, "train", None)):
            self.optimizer.train()

    def eval(self) -> None:
        if callable(getattr(self.optimizer, "eval", None)):
            self.optimizer.eval()


def _evaluate(
    cfg: TrialConfig,
    made: Setup,
    result: TrialResult,
    report: Report | None,
    start: float,
    worst: float,
) -> bool:
    """Evaluate after ``result.steps_done`` steps; True when the trial stops here."""
    key = METRICS[cfg.metric][0]
    done = result.steps_done
    metrics = made.evaluate()
    metric = float(metrics[key])
    result.evals.append([done, metric, time.perf_counter() - start])
    result.metrics = {k: float(v) for k, v in metrics.items()}
    if not math.isfinite(metric):
        result.status, result.value = "diverged", worst
        result.message = f"test {key} is {metric} at step {done}"
        return True
    result.value = metric
    stop = report(done, metric) if report is not None else False
    if stop and done < cfg.steps:
        result.status = "pruned"
        return True
    return False


def _finish(result: TrialResult, watch: Any, optimizer: Any) -> None:
    if watch is not None:
        result.extras.update(watch.summary())
    result.extras["state_bytes"] = sum(  # the optimizer's memory beside the model's
        t.numel() * t.element_size()
        for state in optimizer.state.values()
        for t in state.values()
        if isinstance(t, torch.Tensor)
    )


def _measures(cfg: TrialConfig, model: nn.Module, optimizer: Any) -> Any:
    if "warmup_stats" not in cfg.measure:
        return None
    from lrkit.bench.diagnostics import EarlySteps

    return EarlySteps(model, optimizer)


def sharpness(
    model: nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    batches: Iterator[Any],
    *,
    radius: float = 0.05,
    draws: int = 8,
    num_batches: int = 4,
    seed: int = 0,
) -> float:
    """Mean increase of the loss on ``num_batches`` batches when the weights move by a
    random direction of relative norm ``radius`` (each tensor by ``radius * |w|``),
    averaged over ``draws`` directions: flat minima barely change, sharp ones rise."""
    data = [next(batches) for _ in range(num_batches)]
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    gen = torch.Generator().manual_seed(seed)

    def loss() -> float:
        total = 0.0
        with torch.no_grad():
            for batch in data:
                inputs, targets = _on(batch, params[0].device)
                total += float(loss_fn(model(inputs), targets))
        return total / len(data)

    was = model.training
    model.eval()
    try:
        base = loss()
        rises = []
        for _ in range(draws):
            with torch.no_grad():
                for p, w in zip(params, saved):
                    d = torch.randn(w.shape, generator=gen, dtype=w.dtype).to(w.device)
                    p.copy_(w + d * (radius * w.norm() / d.norm().clamp_min(1e-12)))
            rises.append(loss() - base)
    finally:
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)
        model.train(was)
    return float(sum(rises) / len(rises))


def _on(batch: Any, device: torch.device) -> tuple[Any, Any]:
    inputs, targets = batch
    if isinstance(inputs, torch.Tensor) and inputs.device != device:
        inputs, targets = inputs.to(device), targets.to(device)
    return inputs, targets


def _cycle(data: Iterable[Any]) -> Iterator[Any]:
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError("the entry's `data` yielded no batches")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


__all__ = [
    "CURVE_POINTS",
    "DIVERGE_FACTOR",
    "SMOOTHING",
    "Setup",
    "TrialResult",
    "run_trial",
    "setup",
    "sharpness",
]
