"""Two-dimensional test functions, where an optimizer's path can be drawn.

Each :class:`Surface` is a torch function of a point ``xy`` (shape ``(2,)``
or ``(..., 2)``), with its standard starting point, minimiser and a window
to draw. As tasks, the model is the point itself and every "batch" is empty:
``loss_fn(model(inputs), targets)`` is the function's value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from lrkit.tasks.base import Batches, Task, register_task


def rosenbrock(xy: Tensor) -> Tensor:
    """``(1 - x)^2 + 100 (y - x^2)^2``: a curved valley, minimum 0 at (1, 1)."""
    x, y = xy[..., 0], xy[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def rastrigin(xy: Tensor) -> Tensor:
    """``20 + sum(x_i^2 - 10 cos(2 pi x_i))``: a bowl covered in local minima, 0 at (0, 0)."""
    return 20 + (xy**2 - 10 * torch.cos(2 * math.pi * xy)).sum(-1)


def beale(xy: Tensor) -> Tensor:
    """Beale's function: flat plateaus and steep walls, minimum 0 at (3, 0.5)."""
    x, y = xy[..., 0], xy[..., 1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


# ill-conditioned quadratic: eigenvalues 1 and 100 along axes rotated by 30 degrees
_C, _S = math.cos(math.pi / 6), math.sin(math.pi / 6)
CONDITION = 100.0


def quadratic(xy: Tensor) -> Tensor:
    """``(u^2 + 100 v^2) / 2`` in axes rotated by 30 degrees: condition number 100, 0 at (0, 0)."""
    x, y = xy[..., 0], xy[..., 1]
    u, v = _C * x + _S * y, -_S * x + _C * y
    return 0.5 * (u**2 + CONDITION * v**2)


@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D test function with where to start, where it ends and what to draw."""

    name: str
    fn: Callable[[Tensor], Tensor]
    start: tuple[float, float]
    minimum: tuple[float, float]
    window: tuple[tuple[float, float], tuple[float, float]]  # (x range, y range)
    log_levels: bool  # contour levels spaced logarithmically (steep valleys)
    description: str

    def __call__(self, xy: Tensor) -> Tensor:
        return self.fn(xy)


SURFACES = {
    s.name: s
    for s in (
        Surface(
            "rosenbrock",
            rosenbrock,
            (-1.2, 1.0),
            (1.0, 1.0),
            ((-2.0, 2.0), (-1.0, 3.0)),
            True,
            "2-D Rosenbrock function: a narrow curved valley, minimum at (1, 1)",
        ),
        Surface(
            "rastrigin",
            rastrigin,
            (-2.2, 3.4),
            (0.0, 0.0),
            ((-4.5, 4.5), (-4.5, 4.5)),
            False,
            "2-D Rastrigin function: a bowl covered in local minima, minimum at (0, 0)",
        ),
        Surface(
            "beale",
            beale,
            (1.0, 1.5),
            (3.0, 0.5),
            ((-4.5, 4.5), (-4.5, 4.5)),
            True,
            "2-D Beale function: flat plateaus and steep walls, minimum at (3, 0.5)",
        ),
        Surface(
            "quadratic",
            quadratic,
            (-4.0, -1.0),
            (0.0, 0.0),
            ((-5.0, 5.0), (-5.0, 5.0)),
            True,
            "2-D quadratic with condition number 100 in rotated axes, where momentum helps",
        ),
    )
}
"""The 2-D test functions of the trajectory tools, by name (each also a task)."""


class Point(nn.Module):
    """A surface task's model: one learnable point; ``forward`` returns the function's value."""

    def __init__(self, surface: Surface, start: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.surface = surface
        self.xy = nn.Parameter(torch.tensor(start or surface.start, dtype=torch.float64))

    def forward(self, inputs: Tensor) -> Tensor:
        """The function's value, once per row of ``inputs`` (an empty batch of any length)."""
        return self.surface(self.xy).expand(len(inputs))


def objective(output: Tensor, targets: Tensor) -> Tensor:
    """The loss of a surface task: the function's value itself."""
    return output.mean()


def value_metrics(output: Tensor, targets: Tensor) -> dict[str, float]:
    return {"loss": float(output.mean())}


def _surface_task(name: str, seed: int, steps_per_epoch: int) -> Task:
    surface = SURFACES[name]
    empty = torch.zeros(steps_per_epoch, 0)
    return Task(
        name=name,
        model=Point(surface),
        loss_fn=objective,
        train=Batches(empty, empty, 1, seed=seed, shuffle=False),
        test=Batches(empty[:1], empty[:1], 1, shuffle=False),
        seed=seed,
        metrics=value_metrics,
    )


def _register(name: str) -> None:
    def build(*, seed: int = 0, steps_per_epoch: int = 100) -> Task:
        return _surface_task(name, seed, steps_per_epoch)

    register_task(name, SURFACES[name].description)(build)


for _name in SURFACES:
    _register(_name)

__all__ = [
    "CONDITION",
    "SURFACES",
    "Point",
    "Surface",
    "beale",
    "objective",
    "quadratic",
    "rastrigin",
    "rosenbrock",
    "value_metrics",
]
