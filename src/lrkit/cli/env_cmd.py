"""``lrkit env``: versions, devices, Triton and CUDA, to paste into a bug report."""

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
    return info


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
    return {
        "cuda": torch.version.cuda,
        "cuda_available": cuda,
        "devices": devices,
        "torch_threads": torch.get_num_threads(),
    }


def run(args: argparse.Namespace, out: Output) -> int:
    info = report()
    out.result(info, lambda: _human(info))
    return 0


def _human(info: dict[str, Any]) -> str:
    lines = [f"{k:<16}{v}" for k, v in info.items() if k != "packages"]
    lines += [f"{k:<16}{v or '-'}" for k, v in info["packages"].items()]
    return "\n".join(lines)
