"""Figures written to files: the output check and matplotlib's lifecycle, in one place."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from lrkit.extras import require

FORMATS = (".png", ".svg", ".pdf")


def check_output(
    owner: str, output: str | Path, suffixes: Sequence[str] = FORMATS, name: str = "output"
) -> Path:
    """``output`` as a Path, after checking its suffix and that it can be written.

    Checked before any work, so a long run does not fail at its last line:
    the folder must exist (a typo in it is an error, not a new folder) and the
    file is opened for appending (a file created by the check is removed
    again).
    """
    path = Path(output)
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{owner}: `{name}` must end in {', '.join(suffixes)}, got {path}")
    if not path.parent.is_dir():
        raise ValueError(f"{owner}: cannot write `{name}` {path}: no folder {path.parent}")
    try:
        existed = path.exists()
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise ValueError(f"{owner}: cannot write `{name}` {path}: {exc}") from exc
    return path


@contextlib.contextmanager
def saved_figure(
    owner: str, output: str | Path, *, after: Callable[[Any], None] | None = None, **subplots: Any
) -> Iterator[tuple[Any, Any]]:
    """``plt.subplots(**subplots)`` on the Agg backend, saved to ``output`` when the block ends.

    ``after(fig)`` runs once the file is written (an animation, say); the
    figure is closed whatever happens.
    """
    path = check_output(owner, output)
    require("matplotlib").use("Agg")
    plt = require("matplotlib.pyplot")
    fig, axes = plt.subplots(**subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(path)
        if after is not None:
            after(fig)
    finally:
        plt.close(fig)


__all__ = ["FORMATS", "check_output", "saved_figure"]
