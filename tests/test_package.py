"""The package imports without torch and matplotlib; lazy names fail helpfully."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import lrkit


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True
    )


def test_import_without_torch_or_matplotlib() -> None:
    result = _run(
        """
        import sys
        sys.modules["torch"] = None          # any import of torch now fails
        sys.modules["matplotlib"] = None
        import lrkit, lrkit.schedules
        from lrkit.schedules import WarmupCosine, parse
        s = WarmupCosine(steps=100, warmup=10)
        assert parse(str(s)) == s and s(10) == 1.0
        import numpy as np
        assert s(np.arange(3)).shape == (3,)
        assert "torch" not in {k for k, v in sys.modules.items() if v is not None}
        try:
            lrkit.plot_schedules([s], "x.png")
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'lrkit[plot]'" in result.stdout


def test_lazy_attributes() -> None:
    assert callable(lrkit.plot_schedules)
    assert issubclass(lrkit.ScheduledLR, __import__("torch").optim.lr_scheduler.LRScheduler)
    assert "plot_schedules" in dir(lrkit)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        lrkit.nope  # noqa: B018
    assert lrkit.__version__


def test_every_module_declares_its_public_names() -> None:
    """``__all__`` on every module of the package, naming only what the module has."""
    import importlib
    import pkgutil

    missing = []
    for info in pkgutil.walk_packages(lrkit.__path__, "lrkit."):
        if info.name.endswith("fused_triton"):
            continue  # imports triton at module level
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", None)
        if names is None:
            missing.append(info.name)
            continue
        assert all(hasattr(module, n) for n in names), info.name
    assert missing == []
