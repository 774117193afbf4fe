"""Moving a tuned learning rate to another batch size.

Torch-free. Two rules people look up every time:

* ``linear`` (Goyal et al., 2017, "Accurate, Large Minibatch SGD"): multiply
  the lr by the batch-size ratio. Use it for SGD, with a warmup of a few
  epochs when the new lr is large (their recipe: 5 epochs, linear).
* ``sqrt`` (Krizhevsky, 2014; Malladi et al., 2022, for Adam's SDE): multiply
  by the square root of the ratio. Use it for Adam-family optimizers.

Both are starting points to confirm with a short run or an LR range test,
not guarantees; neither holds past the critical batch size.
"""

from __future__ import annotations

import math

from lrkit.validation import Param, normalize

RULES = ("linear", "sqrt")


def scale_lr(lr: float, from_batch: int, to_batch: int, rule: str = "linear") -> float:
    """The lr for batch size ``to_batch``, given ``lr`` tuned at ``from_batch``.

    >>> scale_lr(0.1, 256, 1024)                  # SGD: linear
    0.4
    >>> round(scale_lr(3e-4, 256, 1024, "sqrt"), 10)   # Adam: square root
    0.0006
    """
    owner = "scale_lr"
    lr = normalize(owner, "lr", Param(kind="float", lo=0.0, lo_open=True), lr)
    source = normalize(owner, "from_batch", Param(kind="int", lo=1), from_batch)
    target = normalize(owner, "to_batch", Param(kind="int", lo=1), to_batch)
    rule = normalize(owner, "rule", Param(kind="str", choices=RULES), rule)
    ratio = target / source
    return float(lr * (ratio if rule == "linear" else math.sqrt(ratio)))


__all__ = ["RULES", "scale_lr"]
