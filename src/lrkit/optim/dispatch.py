"""Which implementation a param group's step runs, and why: :func:`resolve`.

Every lrkit optimizer has up to four paths for one update (``Path.name``):
``torch``, torch's own fused CPU kernel (``_torch_step``); ``fused``, lrkit's
kernels (``_fused``: C++ on the CPU, Triton on CUDA); ``foreach``, batched
``torch._foreach_*`` ops (``_foreach``); ``reference``, the per-tensor update
that reads like the docstring (``_reference``). Each is a method of explicit
arguments: the group (its hyperparameters as floats), the tensors, and a
:class:`StepContext`. ``opt.explain()`` prints the choice for every group.

Note [auto fused]
~~~~~~~~~~~~~~~~~
``impl="auto"`` runs, per group, the fastest path that is correct and ready:
torch's fused CPU kernel where the algorithm has one (Adam, AdamW, SGD,
Adagrad; not with ``max_grad_norm`` or an amp scale, which that kernel does not
take, nor for strided or non-CPU tensors); lrkit's fused CPU kernels (AdamP,
SGDP, LAMB, and Prodigy and D-Adaptation in their own two-pass step,
``optim/distance.py``) once they are built (``fused_cpu.built()``: the first explicit
``impl="fused"``, or ``lrkit env --build-kernels``, compiles them once per
machine), decided when the optimizer is built so that a run never switches
paths midway; otherwise the foreach path. Since the paths round differently,
pin ``impl=`` for bitwise equal runs on machines with and without the build.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

from torch import Tensor

from lrkit.optim.layout import DTYPES, PLAIN, TensorList, torch_fused_ok


@dataclasses.dataclass(frozen=True)
class StepContext:
    """What one group's step hands every path besides the group and its tensors.

    ``fresh``: ids of the tensors whose state this step created (torch's SGD
    takes the first gradient undampened); ``coef``: the factor on every
    gradient (Note [gradients]), None for 1; ``now``: what the algorithm's
    ``_begin_group`` computed for this step (schedule-free's lr and weight).
    """

    fresh: frozenset[int] = frozenset()
    coef: Tensor | None = None
    now: Any = None


@dataclasses.dataclass(frozen=True)
class Path:
    """The implementation a group's step runs (``name``, one of ``PATHS``) and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} -- {self.reason}"


PATHS = ("torch", "fused", "foreach", "reference")


def resolve(opt: Any, group: dict[str, Any], params: TensorList, scaled: bool) -> Path:
    """Which path runs ``group``'s step, and why (Note [auto fused]).

    ``torch``: torch's own fused CPU kernel (``_torch_step``); ``fused``:
    lrkit's kernels (``_fused``; tensors they do not take run ``_foreach``);
    ``foreach``: batched ``torch._foreach_*`` ops (``_foreach``);
    ``reference``: the per-tensor update (``_reference``). ``scaled``: the
    gradients carry a factor (``max_grad_norm``, a GradScaler's scale).
    """
    impl, name = group["impl"], type(opt).__name__
    if impl == "reference":
        return Path("reference", "impl='reference': the per-tensor update")
    why_not = ""
    if impl in ("auto", "fused") and opt._torch_kernel(group):
        if scaled:
            why_not = "torch's fused kernel takes no factor on the gradients (max_grad_norm, amp)"
        elif not torch_fused_ok(params):
            why_not = "torch's fused kernel takes contiguous real CPU tensors and grads"
        else:
            return Path("torch", f"impl={impl!r}: torch's fused CPU kernel for {name}")
    if opt.fused_kernels and impl == "fused":
        return Path("fused", "impl='fused': lrkit's kernels (C++ on CPU, Triton on CUDA)")
    if opt.fused_kernels and impl == "auto":
        if opt._auto_kernels:
            return Path("fused", "impl='auto': lrkit's CPU kernels are built; CUDA runs foreach")
        why_not = "lrkit's fused CPU kernels are not built: lrkit env --build-kernels"
    return Path(
        "foreach", f"impl={impl!r}: torch._foreach_* ops" + (f"; {why_not}" if why_not else "")
    )


def check_fused(opt: Any, tensors: list[Tensor], classes: list[Any]) -> None:
    """``impl="fused"`` takes plain CPU or CUDA tensors, in the dtypes its kernels have;
    ``classes`` (the registered optimizers) are named where it is available."""
    owner = type(opt).__name__
    for p in tensors:
        device = p.device.type
        if device not in DTYPES:
            raise ValueError(
                f"{owner}: `impl='fused'` runs on CPU and CUDA tensors, got one on {device}; "
                "use impl='auto', 'foreach' or 'reference'"
            )
        if type(p) not in PLAIN:
            raise ValueError(
                f"{owner}: `impl='fused'` takes plain tensors, got a {type(p).__name__} "
                "(sharded parameters run with impl='auto' or 'foreach')"
            )
        if not opt.fused_on(device):
            classes = sorted(classes, key=lambda c: c.__name__)
            ours = [c.__name__ for c in classes if c.fused_kernels]
            theirs = [c.__name__ for c in classes if c.fused_on("cpu") and not c.fused_kernels]
            raise ValueError(
                f"{owner}: `impl='fused'` is available for {_words(ours)} (lrkit's "
                f"kernels) and, on the CPU, for {_words(theirs)} (torch's); use "
                "impl='auto' or 'foreach'"
            )
        if opt.fused_kernels and p.dtype not in DTYPES[device]:
            names = " or ".join(str(d).removeprefix("torch.") for d in DTYPES[device])
            raise ValueError(
                f"{owner}: `impl='fused'` on {device} takes {names} params, got {p.dtype}; "
                "use impl='auto' or 'foreach'"
            )
    cuda = any(p.device.type == "cuda" for p in tensors)
    if cuda and importlib.util.find_spec("triton") is None:
        raise ValueError(f"{owner}: `impl='fused'` on CUDA needs triton (pip install triton)")


def _words(names: list[str]) -> str:
    """``a, b and c``."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


__all__ = ["PATHS", "Path", "StepContext", "check_fused", "resolve"]
