"""Optional dependencies: import them lazily, and say what to install when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

# module -> extra of lrkit that installs it
EXTRAS = {
    "matplotlib": "plot",
    "yaml": "plot",
    "torch": "torch",
    "sklearn": "tasks",
    "mnist1d": "tasks",
    "optuna": "bench",
    "ray": "ray",
}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` naming the lrkit extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module} is needed for this feature: {install_hint(module)}") from exc


def install_hint(module: str) -> str:
    """What to install for ``module``: ``pip install 'lrkit[tasks]'`` for ``sklearn``, say."""
    top = module.split(".", maxsplit=1)[0]
    extra = EXTRAS.get(top)
    return f"pip install 'lrkit[{extra}]'" if extra else f"pip install {top}"


__all__ = ["EXTRAS", "install_hint", "require"]
