"""ScheduledLR: the one torch adapter, for every schedule and hyperparameter.

Note [scheduler clock]
~~~~~~~~~~~~~~~~~~~~~~
``t`` is ScheduledLR's own count of ``step()`` calls (``last_epoch``; 0 at
construction): call ``step()`` once after every optimizer update and update
``k`` uses ``schedule(k)``, as Note [step convention] defines it. Nothing is
read back from the optimizer, so the value at ``t`` is the same however the
run got there, and resuming is exact.

* Gradient accumulation: step the scheduler once per optimizer update, not
  per micro-batch.
* AMP: when ``GradScaler`` skips an update (inf/NaN gradients), the
  scheduler still advances if you call it, as with every torch scheduler; to
  keep the clock on real updates, call ``step()`` only when
  ``scaler.get_scale()`` did not drop.
* Per epoch: with ``steps_per_epoch=n`` the schedule is read in epochs at
  ``t / n``, fractional epochs included, so a schedule written in epochs
  gives the curve it describes whether you step per batch (``n`` = batches
  per epoch) or per epoch (leave it None).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrkit.horizon import check_horizon
from lrkit.param_groups import as_float, group_key, lrs, read, write
from lrkit.schedules import ReduceOnPlateau, Schedule
from lrkit.validation import Param, normalize

KEYS = ("lr", "momentum", "weight_decay", "betas[0]", "betas[1]")
MISMATCH = ("error", "saved", "current")
_STATE_KEYS = ("step", "schedules", "base_values", "absolute", "steps_per_epoch", "plateau")


class ScheduledLR(LRScheduler):
    """Drive an optimizer's hyperparameters with closed-form schedules.

    ``schedule`` is a :class:`~lrkit.schedules.Schedule` (drives ``lr`` of
    every param group), a list of Schedules (one per group), or a dict from
    group keys (``lr``, ``momentum``, ``weight_decay``, ``betas[0]``,
    ``betas[1]``) to either. Each value is

    ``value = base * schedule(t) [* lr_scale * plateau.scale for lr]``

    where ``base`` is the group's value at construction (its ``initial_lr``
    for ``lr`` if a scheduler set one before), recorded and kept in the state
    dict; with ``absolute=True`` (or the keys listed in ``absolute``) the
    schedule's value is used as is. ``lr_scale`` is the group's ``"lr_scale"``
    entry (timm's), 1 if absent. ``t`` is this scheduler's count of
    ``step()`` calls (Note [scheduler clock]), read in epochs when
    ``steps_per_epoch`` is given. ``plateau`` attaches a
    :class:`~lrkit.schedules.ReduceOnPlateau` whose scale multiplies the lr;
    ``step(metric)`` feeds it and advances the clock, ``observe(metric)``
    only feeds it. ``total_steps``, when given, warns
    (:class:`~lrkit.horizon.HorizonWarning`) if the lr schedule was built for
    another horizon. ``on_mismatch`` says what ``load_state_dict`` does when
    the saved schedules differ from these: ``"error"``, keep the ``"saved"``
    ones, or keep the ``"current"`` ones (to extend a run).

    Tensor hyperparameters (a tensor ``lr``, tensor ``betas``) are filled in
    place, so a compiled ``optimizer.step`` does not recompile as they change.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule | Sequence[Schedule] | Mapping[str, Schedule | Sequence[Schedule]],
        *,
        absolute: bool | Collection[str] = False,
        steps_per_epoch: int | None = None,
        plateau: ReduceOnPlateau | None = None,
        total_steps: int | None = None,
        on_mismatch: str = "error",
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "ScheduledLR: `optimizer` must be a torch.optim.Optimizer, "
                f"got {type(optimizer).__name__}"
            )
        self.schedules = self._per_key(optimizer, schedule)
        self.absolute = self._absolute_keys(absolute)
        self.steps_per_epoch: int | None = normalize(
            "ScheduledLR",
            "steps_per_epoch",
            Param(kind="int", lo=1, nullable=True),
            steps_per_epoch,
        )
        if plateau is not None and not isinstance(plateau, ReduceOnPlateau):
            raise TypeError(f"ScheduledLR: `plateau` must be a ReduceOnPlateau, got {plateau!r}")
        self.plateau = plateau
        self.on_mismatch: str = normalize(
            "ScheduledLR", "on_mismatch", Param(kind="str", choices=MISMATCH), on_mismatch
        )
        self.base_values = self._record_bases(optimizer)
        if total_steps is not None and "lr" in self.schedules:
            total = normalize("ScheduledLR", "total_steps", Param(kind="int", lo=1), total_steps)
            clock = total / self.steps_per_epoch if self.steps_per_epoch else total
            for s in dict.fromkeys(self.schedules["lr"]):
                check_horizon(s, clock)
        super().__init__(optimizer)

    # -- construction ----------------------------------------------------
    @staticmethod
    def _per_key(optimizer: torch.optim.Optimizer, schedule: Any) -> dict[str, list[Schedule]]:
        groups = optimizer.param_groups
        spec = dict(schedule) if isinstance(schedule, Mapping) else {"lr": schedule}
        out: dict[str, list[Schedule]] = {}
        for key, value in spec.items():
            if key not in KEYS:
                raise ValueError(
                    f"ScheduledLR: unknown hyperparameter key {key!r}; use one of {', '.join(KEYS)}"
                )
            per_group = list(value) if isinstance(value, (list, tuple)) else [value] * len(groups)
            if len(per_group) != len(groups):
                raise ValueError(
                    f"ScheduledLR: `schedule[{key!r}]` has {len(per_group)} entries but the "
                    f"optimizer has {len(groups)} param groups"
                )
            for s in per_group:
                if not isinstance(s, Schedule):
                    raise TypeError(
                        f"ScheduledLR: schedules must be lrkit Schedules, got {type(s).__name__} "
                        f"for {key!r} (parse a spec with lrkit.schedules.parse)"
                    )
            name, index = group_key(key)
            for i, group in enumerate(groups):
                if name not in group or (
                    index is not None and not isinstance(group[name], (tuple, list))
                ):
                    raise ValueError(
                        f"ScheduledLR: {type(optimizer).__name__} param group {i} has no {key!r} "
                        f"(it has: {', '.join(k for k in group if k != 'params')})"
                    )
            out[key] = per_group
        return out

    def _absolute_keys(self, absolute: bool | Collection[str]) -> frozenset[str]:
        if isinstance(absolute, bool):
            return frozenset(self.schedules) if absolute else frozenset()
        if isinstance(absolute, str) or not isinstance(absolute, Collection):
            raise TypeError(
                f"ScheduledLR: `absolute` must be a bool or a set of keys, got {absolute!r}"
            )
        unknown = set(absolute) - set(self.schedules)
        if unknown:
            raise ValueError(
                f"ScheduledLR: `absolute` names keys with no schedule: {sorted(unknown)}"
            )
        return frozenset(absolute)

    def _record_bases(self, optimizer: torch.optim.Optimizer) -> dict[str, list[float]]:
        bases: dict[str, list[float]] = {}
        for key in self.schedules:
            values = []
            for i, group in enumerate(optimizer.param_groups):
                raw = group.get("initial_lr", group["lr"]) if key == "lr" else read(group, key)
                base = as_float(raw)
                if base == 0.0 and key not in self.absolute:
                    raise ValueError(
                        f"ScheduledLR: param group {i} has {key} = 0, so a relative schedule "
                        f"would keep it 0; pass absolute=True (or absolute={{{key!r}}})"
                    )
                values.append(base)
            bases[key] = values
        return bases

    # -- stepping --------------------------------------------------------
    def clock(self) -> float:
        """The step at which the schedules are read (in epochs with ``steps_per_epoch``)."""
        t = float(self.last_epoch)
        return t / self.steps_per_epoch if self.steps_per_epoch else t

    def values(self) -> dict[str, list[float]]:
        """Every scheduled hyperparameter of every group at the current step."""
        x = self.clock()
        scale = self.plateau.scale if self.plateau is not None else 1.0
        out: dict[str, list[float]] = {}
        for key, per_group in self.schedules.items():
            row = []
            for i, (s, group) in enumerate(zip(per_group, self.optimizer.param_groups)):
                v = s(x) if key in self.absolute else self.base_values[key][i] * s(x)
                if key == "lr":
                    v *= group.get("lr_scale", 1.0) * scale
                row.append(v)
            out[key] = row
        return out

    def observe(self, metric: Any) -> None:
        """Feed a metric to the plateau controller without advancing the clock."""
        if self.plateau is None:
            raise ValueError(
                "ScheduledLR: a metric was given but no `plateau` controller is attached"
            )
        self.plateau.step(metric)
        self._apply()

    def step(self, metric: Any = None) -> None:
        """Advance the clock by one update (feeding ``metric`` to the plateau first)."""
        if metric is not None:
            if self.plateau is None:
                raise ValueError(
                    "ScheduledLR: step(metric) needs a `plateau` controller; call step() without it"
                )
            self.plateau.step(metric)
        self._step_count += 1
        self.last_epoch += 1
        self._apply()

    def _apply(self) -> None:
        for key, row in self.values().items():
            for group, value in zip(self.optimizer.param_groups, row):
                write(group, key, value)
        self._last_lr = lrs(self.optimizer)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The lr of every group at the current step (torch's LRScheduler API)."""
        return self.values().get("lr", [g["lr"] for g in self.optimizer.param_groups])

    # -- checkpoints -----------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``step``, ``schedules`` (as dicts), ``base_values``, ``absolute``,
        ``steps_per_epoch`` and ``plateau``: nothing else is kept."""
        return {
            "step": self.last_epoch,
            "schedules": {k: [s.to_dict() for s in v] for k, v in self.schedules.items()},
            "base_values": {k: list(v) for k, v in self.base_values.items()},
            "absolute": sorted(self.absolute),
            "steps_per_epoch": self.steps_per_epoch,
            "plateau": self.plateau.state_dict() if self.plateau is not None else None,
        }

    def load_state_dict(
        self, state_dict: dict[str, Any], *, on_mismatch: str | None = None
    ) -> None:
        """Resume at the saved step with the saved base values.

        Saved schedules that differ from this scheduler's are an error unless
        ``on_mismatch`` (here, or at construction) says which win: ``"saved"``
        or ``"current"`` (e.g. a longer run: construct with the new schedule
        and resume with ``on_mismatch="current"``).
        """
        where = "ScheduledLR.load_state_dict"
        choice = normalize(
            where,
            "on_mismatch",
            Param(kind="str", choices=MISMATCH),
            on_mismatch if on_mismatch is not None else self.on_mismatch,
        )
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected a dict, got {type(state_dict).__name__}")
        missing = [k for k in _STATE_KEYS if k not in state_dict]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}")
        # Everything is checked before anything changes: a bad state leaves the
        # scheduler as it was.
        saved = self._saved_schedules(state_dict["schedules"])
        schedules = self.schedules
        if saved != self.schedules:
            if choice == "error":
                raise ValueError(
                    f"{where}: the saved schedules differ from this scheduler's:\n"
                    f"  saved:   {_describe(saved)}\n  current: {_describe(self.schedules)}\n"
                    "pass on_mismatch='current' to keep the current ones (e.g. to extend training) "
                    "or 'saved' to resume the saved ones"
                )
            if choice == "saved":
                schedules = saved
        base_values = self._saved_bases(state_dict["base_values"], schedules)
        absolute = state_dict["absolute"]
        if isinstance(absolute, (str, bytes)) or not isinstance(absolute, (list, tuple)):
            raise TypeError(f"{where}: 'absolute' must be a list of keys, got {absolute!r}")
        if not set(absolute) <= set(schedules):
            raise ValueError(
                f"{where}: 'absolute' names keys with no schedule: "
                f"{sorted(set(map(str, absolute)) - set(schedules))}"
            )
        steps_per_epoch = normalize(
            where,
            "steps_per_epoch",
            Param(kind="int", lo=1, nullable=True),
            state_dict["steps_per_epoch"],
        )
        step = normalize(where, "step", Param(kind="int", lo=0), state_dict["step"])
        if (state_dict["plateau"] is None) != (self.plateau is None):
            raise ValueError(f"{where}: a plateau controller is attached on one side only")
        if self.plateau is not None:
            self.plateau.load_state_dict(state_dict["plateau"])  # checks, then sets
        self.schedules, self.base_values = schedules, base_values
        self.absolute = frozenset(absolute)
        self.steps_per_epoch = steps_per_epoch
        self.last_epoch = step
        self._apply()

    def _saved_schedules(self, saved: Any) -> dict[str, list[Schedule]]:
        where = "ScheduledLR.load_state_dict"
        groups = len(self.optimizer.param_groups)
        if not isinstance(saved, Mapping):
            raise TypeError(f"{where}: 'schedules' must be a dict, got {type(saved).__name__}")
        out: dict[str, list[Schedule]] = {}
        for key, dicts in saved.items():
            if key not in KEYS:
                raise ValueError(f"{where}: unknown hyperparameter key {key!r} in 'schedules'")
            if not isinstance(dicts, list) or len(dicts) != groups:
                size = len(dicts) if isinstance(dicts, list) else type(dicts).__name__
                raise ValueError(
                    f"{where}: 'schedules'[{key!r}] must list one schedule per param group "
                    f"({groups}), got {size}"
                )
            out[key] = [Schedule.from_dict(d) for d in dicts]
        return out

    def _saved_bases(self, saved: Any, schedules: Mapping[str, Any]) -> dict[str, list[float]]:
        where = "ScheduledLR.load_state_dict"
        groups = len(self.optimizer.param_groups)
        if not isinstance(saved, Mapping):
            raise TypeError(f"{where}: 'base_values' must be a dict, got {type(saved).__name__}")
        if set(saved) != set(schedules):
            raise ValueError(
                f"{where}: the saved state schedules the keys {sorted(map(str, saved))}, "
                f"this scheduler {sorted(schedules)}"
            )
        out: dict[str, list[float]] = {}
        for key, values in saved.items():
            if not isinstance(values, list) or len(values) != groups:
                size = len(values) if isinstance(values, list) else type(values).__name__
                raise ValueError(
                    f"{where}: 'base_values'[{key!r}] must hold one number per param group "
                    f"({groups}), got {size}"
                )
            number = Param(kind="float")
            out[key] = [normalize(where, f"base_values[{key!r}]", number, v) for v in values]
        return out


def _describe(schedules: dict[str, list[Schedule]]) -> str:
    return "; ".join(
        f"{k}: {', '.join(str(s) for s in dict.fromkeys(v))}" for k, v in schedules.items()
    )


__all__ = ["KEYS", "MISMATCH", "ScheduledLR"]
