"""``lrkit env``: versions, devices, Triton, CUDA, lrkit's kernels and the path
``impl="auto"`` takes for each optimizer, for a bug report.

``--build-kernels`` compiles lrkit's fused CPU kernels once for this machine
(Note [auto fused]: ``impl="auto"`` uses them from then on).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys
from typing import Any

from lrkit.cli.output import Output, add_output_args

PACKAGES = (
    "numpy", "torch", "triton", "matplotlib", "transformers", "timm", "accelerate",
    "lightning", "keras", "optax", "jax", "mnist1d", "scikit-learn", "rich",
)  # fmt: skip


def add_parser(sub: Any) -> None:
    p = sub.add_parser("env", help="versions, devices, Triton and CUDA for bug reports")
    p.add_argument(
        "--build-kernels",
        action="store_true",
        help="compile lrkit's fused CPU kernels now (once per machine; impl='auto' uses them)",
    )
    add_output_args(p)
    p.set_defaults(run=run)


def report() -> dict[str, Any]:
    """What ``lrkit env`` prints, as a dict (packages not installed are None)."""
    from lrkit import __version__

    info: dict[str, Any] = {
        "lrkit": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
    info.update(_torch())
    if info.get("torch_threads") is not None:
        info["auto_paths"] = auto_paths()
    return info


def auto_paths() -> dict[str, str]:
    """What ``impl="auto"`` runs on this machine for a float32 CPU parameter, by
    optimizer (``opt.explain()`` says it for a real model's groups)."""
    import torch

    from lrkit.optim import dispatch, list_optimizers

    param = torch.zeros(4, 4, requires_grad=True)
    param.grad = torch.zeros(4, 4)
    out = {}
    for info in list_optimizers():
        opt = info.cls([param], lr=1e-3)  # type: ignore[call-arg]
        group = opt.param_groups[0]
        out[info.name] = dispatch.resolve(opt, group, [param], scaled=False).name
    return out


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch() -> dict[str, Any]:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return {"cuda": None, "devices": []}
    cuda = torch.cuda.is_available()
    devices = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    )
    from lrkit.optim import fused_cpu

    problem = fused_cpu.compiler_problem()
    return {
        "cuda": torch.version.cuda,
        "cuda_available": cuda,
        "devices": devices,
        "torch_threads": torch.get_num_threads(),
        "fused_cpu_kernels": "built"
        if fused_cpu.built()
        else f"not built ({problem})"
        if problem
        else "not built (lrkit env --build-kernels)",
    }


def run(args: argparse.Namespace, out: Output) -> int:
    if args.build_kernels:
        from lrkit.optim import fused_cpu

        out.info("compiling lrkit's fused CPU kernels (about a minute on two cores) ...")
        fused_cpu.kernels()
        out.info(f"built in {fused_cpu.build_directory()}")
    info = report()
    out.result(info, lambda: _human(info))
    return 0


def _human(info: dict[str, Any]) -> str:
    width = 2 + max(len(k) for k in [*info, *info["packages"]])
    lines = [f"{k:<{width}}{v}" for k, v in info.items() if k not in ("packages", "auto_paths")]
    lines += [f"{k:<{width}}{v or '-'}" for k, v in info["packages"].items()]
    paths = info.get("auto_paths", {})
    if paths:
        lines.append("impl='auto' on a float32 CPU parameter:")
        pad = 2 + max(len(k) for k in paths)
        lines += [f"  {k:<{pad}}{v}" for k, v in paths.items()]
    return "\n".join(lines)


__all__ = ["PACKAGES", "add_parser", "report", "run"]
