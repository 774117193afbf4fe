"""Pure, closed-form, composable, serialisable learning-rate schedules.

Every schedule is a frozen dataclass and a function of the step ``t`` (the
number of optimizer updates already applied, Note [step convention] in
:mod:`lrkit.schedules.base`). Values are dimensionless (peak 1) unless a
family says otherwise. No torch import is needed here.

>>> from lrkit.schedules import WarmupCosine, parse
>>> s = WarmupCosine(steps=1000, warmup=100)
>>> str(s)
'warmup_cosine(steps=1000, warmup=100)'
>>> parse(str(s)) == s
True
"""

from lrkit.schedules.base import SCHEMA_VERSION, Schedule, get, list_schedules, register
from lrkit.schedules.compose import Clip, Join, Maximum, Minimum, Product, Repeat, Scale, Shift, Sum
from lrkit.schedules.cosine import Cosine, CosineRestarts, Restarts, Tanh
from lrkit.schedules.cyclic import Cyclic
from lrkit.schedules.decay import (
    REX,
    Constant,
    Exponential,
    InverseTime,
    Linear,
    MultiStep,
    Polynomial,
    StepDecay,
    TimeBased,
)
from lrkit.schedules.inverse_sqrt import InverseSqrt, Noam
from lrkit.schedules.piecewise import Multiplicative, Piecewise
from lrkit.schedules.plateau import ReduceOnPlateau
from lrkit.schedules.recipes import WSD, OneCycle, WarmupCosine
from lrkit.schedules.spec import SpecError, parse
from lrkit.schedules.warmup import RAdamWarmup, UntunedWarmup, Warmup


def describe(name: str) -> str:
    """The one-line description of the schedule registered as ``name``."""
    return get(name).summary


__all__ = [
    "REX",
    "SCHEMA_VERSION",
    "WSD",
    "Clip",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Cyclic",
    "Exponential",
    "InverseSqrt",
    "InverseTime",
    "Join",
    "Linear",
    "Maximum",
    "Minimum",
    "MultiStep",
    "Multiplicative",
    "Noam",
    "OneCycle",
    "Piecewise",
    "Polynomial",
    "Product",
    "RAdamWarmup",
    "ReduceOnPlateau",
    "Repeat",
    "Restarts",
    "Scale",
    "Schedule",
    "Shift",
    "SpecError",
    "StepDecay",
    "Sum",
    "Tanh",
    "TimeBased",
    "UntunedWarmup",
    "Warmup",
    "WarmupCosine",
    "describe",
    "get",
    "list_schedules",
    "parse",
    "register",
]
