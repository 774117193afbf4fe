"""torch's schedulers (``torch.optim.lr_scheduler`` and ``swa_utils.SWALR``), same names,
arguments and numbers.

Every class subclasses torch's ``LRScheduler``, takes the anchor's
arguments, keeps its state-dict keys (``last_epoch``, ``base_lrs``,
``_last_lr``, ``_step_count`` and each class's own), loads state dicts the
anchor wrote, and computes its values from native schedules: ``schedules``
gives each param group's lr as a :class:`~lrkit.schedules.Schedule` to plot,
print or serialise.

The chainable schedulers follow torch's recursion where it matters: Note
[chained schedulers] in ``compat/torch_chainable.py``.

Deliberate differences (``ValueError`` at construction where torch crashes
later or silently misbehaves): non-positive ``gamma``, ``step_size`` or
``T_max``; ``total_iters < 1``; ``ConstantLR(factor=0)`` (torch divides by
zero at ``total_iters``); a OneCycleLR whose phases are empty or out of
order (``pct_start * total_steps <= 1``, ``pct_start = 1``, or a
three-phase cycle whose second phase ends after the third);
``ReduceLROnPlateau(factor <= 0)``; a CyclicLR ``exp_range`` with
``gamma > 1``. One-element tensors are taken for lrs and momenta, as torch
takes them, and read as floats: torch's CyclicLR given a tensor ``base_lr``
over float lrs makes each group's lr that very tensor and then updates it in
place, so its base drifts; lrkit's keeps the base. Callables (``LambdaLR``'s
and ``MultiplicativeLR``'s ``lr_lambda``, ``CyclicLR``'s ``scale_fn``) are
accepted as torch accepts them; like torch, a state dict keeps only a
callable object's ``__dict__`` (a function or lambda is not saved), except a
native Schedule given as ``lr_lambda``, which is saved whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import ChainedScheduler as _TorchChained
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.lr_scheduler import SequentialLR as _TorchSequential

from lrkit.compat.arguments import (
    NativeSchedules,
    check,
    check_last_epoch,
    check_optimizer,
    delegated,
    load_callable,
    per_group,
    save_callable,
)
from lrkit.compat.torch_chainable import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from lrkit.compat.torch_cycles import CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from lrkit.param_groups import as_float, lrs, write
from lrkit.schedules import (
    Join,
    Piecewise,
    ReduceOnPlateau,
    Scale,
    Schedule,
)


class _Lambdas(NativeSchedules, LRScheduler):
    """torch's schedulers of user callables: one ``lr_lambda`` or one per group.

    State dicts as torch's: of a callable object only its ``__dict__`` is
    saved, of a function nothing; a native Schedule is saved whole.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        owner = type(self).__name__
        check_optimizer(owner, optimizer)
        self.lr_lambdas = _lambdas(owner, optimizer, lr_lambda)
        super().__init__(optimizer, check_last_epoch(owner, last_epoch))

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [save_callable(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas")
        self.__dict__.update(state)
        self.lr_lambdas = [load_callable(fn, s) for fn, s in zip(self.lr_lambdas, saved)]


class LambdaLR(_Lambdas):
    """``lr = base * lr_lambda(t)`` (torch's ``LambdaLR``).

    ``lr_lambda`` is any callable of the step, one or one per param group; a
    native :class:`~lrkit.schedules.Schedule` is the serialisable choice (it
    is saved whole in the state dict; of other callables, as in torch, only a
    callable object's ``__dict__`` is saved and a function is not).
    """

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native schedule (only when every ``lr_lambda`` is one)."""
        out: list[Schedule] = []
        for i, (fn, base) in enumerate(zip(self.lr_lambdas, self.base_lrs)):
            if not isinstance(fn, Schedule):
                raise TypeError(
                    f"{type(self).__name__}: lr_lambda {i} is a {type(fn).__name__}, not a "
                    "native Schedule, so it has no closed form to show"
                )
            out.append(Scale(fn, as_float(base)))
        return out

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return [
            as_float(base) * float(fn(self.last_epoch))
            for fn, base in zip(self.lr_lambdas, self.base_lrs)
        ]


class MultiplicativeLR(_Lambdas):
    """``lr <- lr * lr_lambda(t)`` at every step after the first (torch's).

    Recursive by definition: it multiplies whatever lr the group holds. Its
    closed form, when ``lr_lambda`` is a native Schedule, is
    :class:`~lrkit.schedules.Multiplicative`. State dicts: as ``LambdaLR``.
    """

    def get_lr(self) -> list[float]:  # type: ignore[override]
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [as_float(g["lr"]) for g in groups]
        return [
            as_float(g["lr"]) * float(fn(self.last_epoch)) for fn, g in zip(self.lr_lambdas, groups)
        ]


def _lambdas(owner: str, optimizer: torch.optim.Optimizer, lr_lambda: Any) -> list[Any]:
    n = len(optimizer.param_groups)
    fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
    if len(fns) != n:  # torch's wording, which users match on
        raise ValueError(f"{owner}: Expected {n} lr_lambdas, but got {len(fns)}")
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{owner}: lr_lambda should be a function, but got {type(fn).__name__}")
    return fns


class ReduceLROnPlateau(LRScheduler):
    """torch's ``ReduceLROnPlateau``: when the metric stops improving, each
    group's lr becomes ``max(lr * factor, min_lr)`` (kept unchanged if that
    moves it by ``eps`` or less).

    The decision (``mode``, ``threshold``, ``patience``, ``cooldown``) is
    the native :class:`~lrkit.schedules.ReduceOnPlateau` controller
    (``controller``); the reduction acts on the lr the group holds, as
    torch's does. State dicts keep torch's keys (``best``,
    ``num_bad_epochs``, ``cooldown_counter``, ``min_lrs``, ...).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        self.optimizer = check_optimizer(owner, optimizer)
        try:
            self.controller = ReduceOnPlateau(
                mode=mode, factor=factor, patience=patience, threshold=threshold,
                threshold_mode=threshold_mode, cooldown=cooldown, eps=eps,
            )  # fmt: skip
        except (TypeError, ValueError) as err:
            raise type(err)(str(err).replace("ReduceOnPlateau", owner, 1)) from None
        self.default_min_lr = (
            None if isinstance(min_lr, (list, tuple))
            else check(owner, "min_lr", min_lr, kind="float", lo=0.0)
        )  # fmt: skip
        if isinstance(min_lr, (list, tuple)) and len(min_lr) != len(optimizer.param_groups):
            raise ValueError(  # torch's wording, which users match on
                f"{owner}: expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}"
            )
        self.min_lrs = per_group(owner, "min_lr", optimizer, min_lr, kind="float", lo=0.0)
        self.last_epoch = 0
        self._last_lr = lrs(optimizer)

    # torch's attribute names over the controller's state
    mode = delegated("controller", "mode")
    factor = delegated("controller", "factor")
    patience = delegated("controller", "patience")
    threshold = delegated("controller", "threshold")
    threshold_mode = delegated("controller", "threshold_mode")
    cooldown = delegated("controller", "cooldown")
    eps = delegated("controller", "eps")
    best = delegated("controller", "best")
    num_bad_epochs = delegated("controller", "num_bad")
    cooldown_counter = delegated("controller", "cooldown_left")

    @property
    def in_cooldown(self) -> bool:
        return bool(self.controller.cooldown_left > 0)

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record one metric value; reduce the lrs when it has stopped improving."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self.controller.record(metrics):
            groups = self.optimizer.param_groups
            if len(groups) != len(self.min_lrs):
                if self.default_min_lr is None:
                    raise RuntimeError(
                        f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups, "
                        f"but {len(self.min_lrs)} min_lrs were given (a group was added); "
                        "set `min_lrs` to match"
                    )
                self.min_lrs = [self.default_min_lr] * len(groups)
            for group, low in zip(groups, self.min_lrs):
                old = as_float(group["lr"])
                new = max(old * self.factor, low)
                if old - new > self.eps:
                    write(group, "lr", new)
        self._last_lr = lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        """torch's keys."""
        c = self.controller
        return {
            "factor": c.factor, "min_lrs": list(self.min_lrs),
            "default_min_lr": self.default_min_lr, "patience": c.patience,
            "cooldown": c.cooldown, "eps": c.eps,
            "last_epoch": self.last_epoch, "_last_lr": list(self._last_lr), "mode": c.mode,
            "threshold": c.threshold, "threshold_mode": c.threshold_mode,
            "mode_worse": math.inf if c.mode == "min" else -math.inf,
            "best": c.best, "num_bad_epochs": c.num_bad, "cooldown_counter": c.cooldown_left,
        }  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by torch's."""
        s = state_dict
        self.controller = ReduceOnPlateau(
            mode=s["mode"], factor=s["factor"], patience=s["patience"], threshold=s["threshold"],
            threshold_mode=s["threshold_mode"], cooldown=s["cooldown"], eps=s["eps"],
        )  # fmt: skip
        self.controller.best = s["best"]
        self.controller.num_bad = s["num_bad_epochs"]
        self.controller.cooldown_left = s["cooldown_counter"]
        self.min_lrs = list(s["min_lrs"])
        self.default_min_lr = s.get("default_min_lr")
        self.last_epoch = s["last_epoch"]
        self._last_lr = list(s["_last_lr"])


class SequentialLR(NativeSchedules, _TorchSequential):
    """torch's ``SequentialLR`` over compat (or torch) schedulers: scheduler ``i``
    runs from ``milestones[i-1]``, restarted at its step 0 there."""

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr as a native :class:`~lrkit.schedules.Join` of the parts'
        schedules: the run as long as no lr is changed from outside (each part
        starts in closed form at its milestone)."""
        parts = []
        for s in self._schedulers:
            if not hasattr(s, "lr_schedules"):
                raise TypeError(f"SequentialLR: {type(s).__name__} has no native schedule")
            parts.append(s.lr_schedules)
        return [
            Join(tuple(p[i] for p in parts), tuple(self._milestones)) for i in range(len(parts[0]))
        ]


class ChainedScheduler(_TorchChained):
    """torch's ``ChainedScheduler``: every scheduler steps, in order, on the lr
    the previous one left (Note [chained schedulers])."""


class SWALR(NativeSchedules, LRScheduler):
    """torch's ``torch.optim.swa_utils.SWALR``: anneal each group's lr to ``swa_lr``
    over ``anneal_epochs`` steps (``"cos"`` or ``"linear"``), then hold it.

    With ``a(k)`` the anneal weight at step ``k`` (the native
    :attr:`weight`, 0 at the start and 1 from ``anneal_epochs`` on)::

        lr_k = swa_lr * a(k) + L * (1 - a(k))

    where ``L`` is the lr the group had when the annealing started. As torch
    does, ``L`` is recovered at each step from the lr found in the group
    (``L = (lr - a(k-1) swa_lr) / (1 - a(k-1))``), so another scheduler that
    ran before (the usual SWA recipe) sets where the annealing starts. The
    clock is the count of ``step()`` calls; ``anneal_epochs=0`` jumps to
    ``swa_lr`` at construction.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        swa_lr: float | list[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        owner = "SWALR"
        check_optimizer(owner, optimizer)
        swa_lrs = per_group(owner, "swa_lr", optimizer, swa_lr, kind="float", lo=0.0)
        self._anneal_strategy = check(
            owner, "anneal_strategy", anneal_strategy, kind="str", choices=("cos", "linear")
        )
        self.anneal_epochs = int(check(owner, "anneal_epochs", anneal_epochs, kind="int", lo=0))
        for value, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = value
        super().__init__(optimizer, check_last_epoch(owner, last_epoch))

    @property
    def weight(self) -> Schedule:
        """``a``: the anneal weight as a native schedule of the step count."""
        shape = "cosine" if self._anneal_strategy == "cos" else "linear"
        return Piecewise((0.0, float(max(1, self.anneal_epochs))), (0.0, 1.0), shape)

    @property
    def lr_schedules(self) -> list[Schedule]:
        """Each group's lr from the current start: ``L`` to ``swa_lr`` along the weight."""
        shape = "cosine" if self._anneal_strategy == "cos" else "linear"
        steps = (0.0, float(max(1, self.anneal_epochs)))
        return [
            Piecewise(steps, (start, float(group["swa_lr"])), shape)
            for start, group in zip(self._starts(), self.optimizer.param_groups, strict=True)
        ]

    def _step(self) -> int:
        step = self._step_count - 1
        return max(1, step) if self.anneal_epochs == 0 else step

    def _starts(self) -> list[float]:
        """``L`` of every group, from the lr in the group (torch's inversion)."""
        before = float(self.weight(max(0, self._step() - 1)))
        return [
            float(g["swa_lr"])
            if before == 1.0
            else (as_float(g["lr"]) - before * float(g["swa_lr"])) / (1.0 - before)
            for g in self.optimizer.param_groups
        ]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        now = float(self.weight(max(0, self._step())))
        return [
            float(g["swa_lr"]) * now + start * (1.0 - now)
            for g, start in zip(self.optimizer.param_groups, self._starts(), strict=True)
        ]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict written by this class or by torch's."""
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "anneal_func"})


__all__ = [
    "SWALR",
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
