from __future__ import annotations

import numpy as np
import pytest

from lrkit.tools.terminal import render


def test_render_draws_each_series_in_a_frame() -> None:
    t = np.arange(101.0)
    text = render(
        [("up", t, t / 100), ("down", t, 1 - t / 100)],
        width=40,
        height=10,
        color=False,
        title="two",
    )
    lines = text.splitlines()
    assert lines[0] == "two" and len(lines) == 1 + 10 + 2 + 2
    canvas = [line.split("┤", 1)[1] for line in lines[1:11]]
    assert all(len(row) == 40 for row in canvas)
    assert (
        canvas[0][0] != " " and canvas[0][-1] != " "
    )  # "down" starts top-left, "up" ends top-right
    assert canvas[-1][0] != " " and canvas[-1][-1] != " "
    assert lines[1].startswith("1 ") and lines[10].startswith("0 ")
    assert lines[-2].endswith("up") and lines[-1].endswith("down")
    colored = render([("up", t, t / 100)], width=40, height=10, color=True)
    assert "\x1b[34m" in colored


def test_render_log_axis_and_flat_lines() -> None:
    t = np.arange(10.0)
    text = render([("decay", t, 10.0**-t)], width=20, height=5, log=True, color=False)
    assert text.splitlines()[0].lstrip().startswith("1 ┤") and "1e-09 ┤" in text
    flat = render([("flat", t, np.ones(10))], width=20, height=5, color=False)
    assert "⣀" in flat or "⠤" in flat or "⠒" in flat or "⠉" in flat
    with pytest.raises(ValueError, match="`series` must not be empty"):
        render([])
    with pytest.raises(ValueError, match="at least 8 x 2 characters"):
        render([("x", t, t)], width=4)
