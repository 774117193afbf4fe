"""ReduceOnPlateau: a metric-driven controller whose factor multiplies a schedule."""

from __future__ import annotations

import math
from typing import Any

from lrkit.validation import Param, normalize

_STATE_KEYS = ("scale", "best", "num_bad", "cooldown_left", "last_metric", "steps")


class ReduceOnPlateau:
    """Multiply the learning rate by ``factor`` when a metric stops improving.

    Not a schedule: it is driven by metrics, not by the step, and its state
    lives in :meth:`state_dict`. ``scale`` starts at 1 and is what the
    adapter multiplies the schedule's value by. The rule is torch's
    ``ReduceLROnPlateau``: a metric ``m`` improves on ``best`` when

    * ``mode="min"``: ``m < best * (1 - threshold)`` (``rel``) or ``m < best - threshold`` (``abs``)
    * ``mode="max"``: ``m > best * (1 + threshold)`` (``rel``) or ``m > best + threshold`` (``abs``)

    After more than ``patience`` non-improving steps (not counting the
    ``cooldown`` steps that follow a reduction) ``scale`` becomes
    ``max(scale * factor, min_scale)``, unless that changes it by ``eps``
    or less. A NaN metric never improves.

    >>> p = ReduceOnPlateau(patience=1, factor=0.5)
    >>> [p.step(m) for m in (1.0, 1.0, 1.0, 0.5, 0.5, 0.5)]
    [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_scale: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        def check(name: str, value: Any, **spec: Any) -> Any:
            return normalize("ReduceOnPlateau", name, Param(**spec), value)

        self.mode: str = check("mode", mode, kind="str", choices=("min", "max"))
        self.factor: float = check(
            "factor", factor, kind="float", lo=0.0, hi=1.0, lo_open=True, hi_open=True
        )
        self.patience: int = check("patience", patience, kind="int", lo=0)
        self.threshold: float = check("threshold", threshold, kind="float", lo=0.0)
        self.threshold_mode: str = check(
            "threshold_mode", threshold_mode, kind="str", choices=("rel", "abs")
        )
        self.cooldown: int = check("cooldown", cooldown, kind="int", lo=0)
        self.min_scale: float = check("min_scale", min_scale, kind="float", lo=0.0, hi=1.0)
        self.eps: float = check("eps", eps, kind="float", lo=0.0)
        self.reset()

    def reset(self) -> None:
        """Forget the metric history and restore ``scale = 1``."""
        self.scale = 1.0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad = 0
        self.cooldown_left = 0
        self.last_metric: float | None = None
        self.steps = 0

    def improves(self, metric: float) -> bool:
        """Whether ``metric`` counts as an improvement on the best so far."""
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            target = self.best * (1.0 - self.threshold) if rel else self.best - self.threshold
            return metric < target
        target = self.best * (1.0 + self.threshold) if rel else self.best + self.threshold
        return metric > target

    def record(self, metric: Any) -> bool:
        """Record one metric value (a number or 0-d tensor) without changing
        ``scale``; return whether a reduction is due now (the adapter that
        reduces something other than ``scale``, like torch's per-group
        ``min_lr``, acts on it)."""
        if hasattr(metric, "item"):
            metric = metric.item()
        if isinstance(metric, bool) or not isinstance(metric, (int, float)):
            raise TypeError(f"ReduceOnPlateau.step: `metric` must be a number, got {metric!r}")
        metric = float(metric)
        self.steps += 1
        self.last_metric = metric
        if self.improves(metric):
            self.best, self.num_bad = metric, 0
        else:
            self.num_bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:
            self.cooldown_left = self.cooldown
            self.num_bad = 0
            return True
        return False

    def step(self, metric: Any) -> float:
        """Record one metric value (a number or 0-d tensor); return the new ``scale``."""
        if self.record(metric):
            reduced = max(self.scale * self.factor, self.min_scale)
            if self.scale - reduced > self.eps:
                self.scale = reduced
        return self.scale

    def config(self) -> dict[str, Any]:
        keys = (
            "mode",
            "factor",
            "patience",
            "threshold",
            "threshold_mode",
            "cooldown",
            "min_scale",
            "eps",
        )
        return {k: getattr(self, k) for k in keys}

    def state_dict(self) -> dict[str, Any]:
        """The controller's configuration and state, with explicit keys."""
        return {"config": self.config(), **{k: getattr(self, k) for k in _STATE_KEYS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`; every value is checked before any is set."""
        if not isinstance(state, dict):
            raise TypeError(
                f"ReduceOnPlateau.load_state_dict: expected a dict, got {type(state).__name__}"
            )
        missing = [k for k in ("config", *_STATE_KEYS) if k not in state]
        if missing:
            raise ValueError(f"ReduceOnPlateau.load_state_dict: missing keys {missing}")
        if state["config"] != self.config():
            raise ValueError(
                "ReduceOnPlateau.load_state_dict: the saved configuration "
                f"{state['config']} differs from this controller's {self.config()}"
            )
        where = "ReduceOnPlateau.load_state_dict"
        count = Param(kind="int", lo=0)
        checked = {
            "scale": normalize(where, "scale", Param(kind="float", lo=0.0, hi=1.0), state["scale"]),
            "best": _number(where, "best", state["best"]),
            "num_bad": normalize(where, "num_bad", count, state["num_bad"]),
            "cooldown_left": normalize(where, "cooldown_left", count, state["cooldown_left"]),
            "last_metric": None
            if state["last_metric"] is None
            else _number(where, "last_metric", state["last_metric"]),
            "steps": normalize(where, "steps", count, state["steps"]),
        }
        for k, v in checked.items():  # all checked before any is set
            setattr(self, k, v)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"ReduceOnPlateau({args}; scale={self.scale!r})"


def _number(owner: str, name: str, value: Any) -> float:
    """A real number; ``inf`` and NaN are metrics' values too (the initial best is inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: `{name}` must be a number, got {value!r}")
    return float(value)


__all__ = ["ReduceOnPlateau"]
