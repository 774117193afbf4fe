"""The random number generators a training step draws from, saved per rank.

Note [bit-exact resume]
~~~~~~~~~~~~~~~~~~~~~~~
Resuming from a checkpoint continues the run that saved it bit for bit when
the run's randomness comes from the generators saved here -- torch's CPU
generator and every CUDA device's, NumPy's global generator, Python's
``random`` -- or from objects passed as stateful extras (a data loader or
sampler with ``state_dict``/``load_state_dict``), and the world size and
hardware are the same. Each rank saves and restores its own generators. Not
covered: generators a program creates itself (``torch.Generator()``,
``np.random.default_rng()``: pass their state as an extra), data-loader
worker processes that are not stateful, and nondeterministic kernels.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from lrkit.checkpoint.encoding import decode, encode


def _cuda_started() -> bool:
    """Whether this process uses CUDA (a process that never did has no CUDA state)."""
    return bool(torch.cuda.is_initialized())  # type: ignore[no-untyped-call]


def capture() -> dict[str, Any]:
    """This process's generator states, as plain data (Note [checkpoint encoding])."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys, int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if _cuda_started() else [],
    }
    return encode(state, "rng")  # type: ignore[no-any-return]


def restore(data: Any, where: str) -> None:
    """Set this process's generators from :func:`capture`'s data, all or none."""
    state = decode(data, where)
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda_saved = torch.cuda.get_rng_state_all() if _cuda_started() else []
    try:
        version, internal, gauss = state["python"]
        name, keys, pos, has_gauss, cached = state["numpy"]
        cpu, cuda = state["torch"], state["cuda"]
        if not isinstance(cpu, torch.Tensor) or cpu.dtype != torch.uint8:
            raise TypeError("torch's state must be a uint8 tensor")
        if cuda and len(cuda) != torch.cuda.device_count():
            raise ValueError(
                f"it has {len(cuda)} CUDA generators, this process sees "
                f"{torch.cuda.device_count()} devices"
            )
        random.setstate((version, tuple(internal), gauss))
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(cpu)
        if cuda:
            torch.cuda.set_rng_state_all(cuda)
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
        if cuda_saved:
            torch.cuda.set_rng_state_all(cuda_saved)
        raise ValueError(
            f"load_checkpoint: {where} holds no valid generator state: {exc}"
        ) from None


__all__ = ["capture", "restore"]
