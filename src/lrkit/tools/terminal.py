"""Plots drawn with text: Unicode braille dots (2 x 4 per character) on a framed canvas.

>>> import numpy as np
>>> text = render([("line", np.arange(5.0), np.arange(5.0))], width=20, height=5, color=False)
>>> len(text.splitlines())
8
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# dot bit of the braille cell for sub-pixel (column 0..1, row 0..3)
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_COLORS = (34, 31, 32, 35, 36, 33)  # ANSI: blue, red, green, magenta, cyan, yellow

Series = tuple[str, np.ndarray, np.ndarray]  # (label, x, y)


def render(
    series: Sequence[Series],
    *,
    width: int = 72,
    height: int = 18,
    log: bool = False,
    color: bool = True,
    title: str = "",
    xlabel: str = "step",
) -> str:
    """Draw each ``(label, x, y)`` as dots on one canvas; a legend follows the x axis.

    ``width`` and ``height`` count characters of the plotting area. With
    ``log``, the y axis is logarithmic (non-positive values are dropped).
    Where series overlap, the later one's colour wins the character.
    """
    if not series:
        raise ValueError("render: `series` must not be empty")
    if width < 8 or height < 2:
        raise ValueError(
            f"render: the canvas must be at least 8 x 2 characters, got {width} x {height}"
        )
    xs = np.concatenate([np.asarray(x, float) for _, x, _ in series])
    ys = np.concatenate([_y(y, log) for _, _, y in series])
    ys = ys[np.isfinite(ys)]
    x0, x1 = float(np.nanmin(xs)), float(np.nanmax(xs))
    y0, y1 = (float(ys.min()), float(ys.max())) if ys.size else (0.0, 1.0)
    if y1 - y0 < 1e-12 * max(1.0, abs(y1)):
        y0, y1 = y0 - 0.5, y1 + 0.5
    if x1 == x0:
        x1 = x0 + 1
    cols, rows = 2 * width, 4 * height
    bits = np.zeros((height, width), dtype=np.int64)
    owner = np.full((height, width), -1)
    for i, (_, x, y) in enumerate(series):
        xf, yf = np.asarray(x, float), _y(y, log)
        keep = np.isfinite(xf) & np.isfinite(yf)
        cx = np.rint((xf[keep] - x0) / (x1 - x0) * (cols - 1)).astype(int)
        cy = np.rint((y1 - yf[keep]) / (y1 - y0) * (rows - 1)).astype(int)
        cx, cy = _join(cx, cy)
        for px, py in zip(cx, cy):
            bits[py // 4, px // 2] |= _DOTS[py % 4][px % 2]
            owner[py // 4, px // 2] = i
    lines = [title] if title else []
    top, bottom = _tick(y1, log), _tick(y0, log)
    margin = max(len(top), len(bottom))
    for r in range(height):
        label = top if r == 0 else bottom if r == height - 1 else ""
        cells = "".join(_cell(bits[r, c], owner[r, c], color) for c in range(width))
        lines.append(f"{label:>{margin}} ┤{cells}")
    lines.append(" " * margin + " └" + "─" * width)
    left, right = f"{x0:g}", f"{x1:g}"
    middle = xlabel.center(max(0, width - len(left) - len(right)))
    lines.append(" " * (margin + 2) + left + middle + right)
    for i, (label, _, _) in enumerate(series):
        mark = _paint("⣿", i, color)
        lines.append(" " * (margin + 2) + f"{mark} {label}")
    return "\n".join(lines)


def _y(y: np.ndarray, log: bool) -> np.ndarray:
    y = np.asarray(y, float)
    if not log:
        return y
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)


def _tick(v: float, log: bool) -> str:
    return f"{10**v:.3g}" if log else f"{v:.3g}"


def _join(cx: np.ndarray, cy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill vertical gaps between consecutive dots so steep segments stay connected."""
    if len(cx) < 2:
        return cx, cy
    out_x, out_y = [cx[:1]], [cy[:1]]
    for k in range(1, len(cx)):
        n = max(abs(int(cy[k]) - int(cy[k - 1])), abs(int(cx[k]) - int(cx[k - 1])), 1)
        t = np.arange(1, n + 1) / n
        out_x.append(np.rint(cx[k - 1] + t * (cx[k] - cx[k - 1])).astype(int))
        out_y.append(np.rint(cy[k - 1] + t * (cy[k] - cy[k - 1])).astype(int))
    return np.concatenate(out_x), np.concatenate(out_y)


def _cell(bits: int, owner: int, color: bool) -> str:
    if not bits:
        return " "
    return _paint(chr(0x2800 + int(bits)), int(owner), color)


def _paint(text: str, index: int, color: bool) -> str:
    if not color:
        return text
    return f"\x1b[{_COLORS[index % len(_COLORS)]}m{text}\x1b[0m"


__all__ = ["Series", "render"]
