"""The fused CPU kernels (``impl="fused"`` on CPU tensors) and their loader.

Note [fused cpu]: on the CPU the foreach path of an optimizer with per-tensor
reductions (AdamP, SGDP, LAMB) is a chain of a dozen torch ops, each one pass
over every tensor plus its dispatch. ``csrc/fused_cpu.cpp`` does the same
update in two passes: phase 1 updates the moments and writes per-row sums in
double (the dot products and norms the algorithm needs, with the update
``u`` computed on the fly); the per-tensor decisions (AdamP's projection,
LAMB's trust ratio) are then a few small torch ops over the stacked sums of
all tensors at once; phase 2 recomputes ``u`` from the new moments and
applies ``p <- p d - s (u - k p)`` with per-row ``d``, ``k`` and per-tensor
``s``. That is 40 bytes moved per fp32 parameter for AdamP and LAMB, the floor
of a two-pass update (storing ``u`` instead would move as many and allocate).
``csrc/distance_cpu.cpp`` does the same for the two passes of Prodigy and
D-Adaptation (Note [distance estimation]): phase 1 writes the per-row terms
of their global sums, phase 2 the update with the new ``d`` (D-Adaptation's
one-pass kernels also apply it in phase 1, row by row: Note [update in pass
1]); ``csrc/rows.h`` holds the row layout and checks both files share.

The extension is compiled with ``torch.utils.cpp_extension.load`` the first
time a fused CPU step runs (a C++ compiler and ninja are needed; about 45 s
on two cores, announced by a warning) and cached under ``TORCH_EXTENSIONS_DIR``
(default ``~/.cache/lrkit``); later processes load it in well under a second,
and ``impl="auto"`` uses it once it is there (Note [auto fused]).
``lrkit env --build-kernels`` builds it ahead of a run.
It takes float32 and float64 tensors whose rows (``size(0)``) are contiguous
blocks of memory with grads and state of the same strides — which includes
contiguous and channels_last parameters (``fused.takes``); any other tensor
of a fused group takes the foreach path in the same step.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import torch

SOURCE = Path(__file__).with_name("csrc") / "fused_cpu.cpp"
# every file of the extension: the module's source, the distance estimators' and their header
SOURCES = (SOURCE, SOURCE.with_name("distance_cpu.cpp"), SOURCE.with_name("rows.h"))


def compiler_problem() -> str | None:
    """Why the extension cannot be built here, or None if it can."""
    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None:
        return f"no C++ compiler ({cxx!r} is not on PATH; set CXX or install g++)"
    with _quiet_import():
        from torch.utils.cpp_extension import is_ninja_available

    if not is_ninja_available():
        return "ninja is not installed (pip install 'lrkit[fused-cpu]', or pip install ninja)"
    return None


def _flags() -> list[str]:
    """-fopenmp for ATen's parallel_for; without trapping math and errno (as torch
    builds itself) GCC vectorizes the row loops, which are 2-3x slower otherwise."""
    flags = ["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math"]
    capability = torch.backends.cpu.get_cpu_capability()
    if capability.startswith("AVX"):  # what torch itself dispatched to on this CPU
        flags += ["-mavx2", "-mfma"]
    return flags


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    """Importing torch.utils.cpp_extension warns when no CUDA toolkit is found;
    the CPU kernels need none."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _name() -> str:
    flags = _flags()
    text = b"".join(path.read_bytes() for path in SOURCES) + " ".join(flags).encode()
    digest = hashlib.sha256(text).hexdigest()[:12]
    return f"lrkit_fused_cpu_{digest}"


def build_directory() -> Path:
    """Where the extension is built and cached: ``TORCH_EXTENSIONS_DIR`` if set, else
    ``$XDG_CACHE_HOME/lrkit`` (``~/.cache/lrkit``), per Python and torch version."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR")
    if root is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        tag = f"py{sys.version_info.major}{sys.version_info.minor}-torch{torch.__version__}"
        root = os.path.join(cache, "lrkit", f"kernels-{tag}")
    return Path(root) / _name()


def built() -> bool:
    """Whether the compiled extension is already on disk, so loading it takes well
    under a second (Note [auto fused] in ``dispatch``: ``auto`` uses it then)."""
    return (build_directory() / f"{_name()}.so").is_file()


@functools.cache
def kernels() -> ModuleType:
    """The compiled extension (built on the first call, then cached on disk)."""
    problem = compiler_problem()
    if problem is not None:
        raise RuntimeError(
            f"impl='fused' on the CPU compiles a small C++ extension, but {problem}; "
            "use impl='foreach' instead"
        )
    with _quiet_import():
        from torch.utils.cpp_extension import load

    if not built():
        warnings.warn(
            "lrkit: compiling the fused CPU kernels once (about a minute on two cores); "
            f"later processes load them from {build_directory()}",
            stacklevel=3,
        )
    folder = build_directory()
    folder.mkdir(parents=True, exist_ok=True)
    module: ModuleType = load(
        name=_name(),
        sources=[str(path) for path in SOURCES if path.suffix == ".cpp"],
        extra_cflags=_flags(),
        extra_ldflags=["-fopenmp"],
        build_directory=str(folder),
        verbose=False,
    )
    return module


__all__ = ["SOURCE", "SOURCES", "build_directory", "built", "compiler_problem", "kernels"]
