"""lrkit.optim: optimizers with a readable reference path and a foreach path.

Every class is a :class:`torch.optim.Optimizer` with its reference
implementation's name, signature, defaults, hyperparameter names and state
keys, plus ``impl="auto" | "reference" | "foreach" | "fused"`` and
``max_grad_norm``. See ``docs/optimizers.md``.
"""

from __future__ import annotations

from lrkit.optim.adafactor import Adafactor
from lrkit.optim.adagrad import Adagrad
from lrkit.optim.adam import Adam, AdamW
from lrkit.optim.adamp import AdamP
from lrkit.optim.base import Optimizer, OptimizerInfo, list_optimizers
from lrkit.optim.dadapt import DAdaptAdam, DAdaptSGD
from lrkit.optim.factory import create_optimizer, parse_spec
from lrkit.optim.lamb import Lamb
from lrkit.optim.lion import Lion
from lrkit.optim.muon import Muon
from lrkit.optim.nadam import NAdam
from lrkit.optim.prodigy import Prodigy
from lrkit.optim.radam import RAdam
from lrkit.optim.rmsprop import RMSprop
from lrkit.optim.schedulefree import AdamWScheduleFree, SGDScheduleFree
from lrkit.optim.sgd import SGD
from lrkit.optim.sgdp import SGDP

__all__ = [
    "SGD",
    "SGDP",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamP",
    "AdamW",
    "AdamWScheduleFree",
    "DAdaptAdam",
    "DAdaptSGD",
    "Lamb",
    "Lion",
    "Muon",
    "NAdam",
    "Optimizer",
    "OptimizerInfo",
    "Prodigy",
    "RAdam",
    "RMSprop",
    "SGDScheduleFree",
    "create_optimizer",
    "list_optimizers",
    "parse_spec",
]
