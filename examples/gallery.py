"""Draw every registered schedule's ``example()`` on one grid.

Run: ``python examples/gallery.py [-o gallery.png]`` (the docs' picture:
``-o docs/gallery.png``).
"""

from __future__ import annotations

import argparse
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lrkit.schedules import get, list_schedules
from lrkit.tools.plot import default_steps, sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="gallery.png")
    args = parser.parse_args()
    names = list_schedules()
    cols = 5
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), dpi=100)
    for ax, name in zip(axes.flat, names):
        schedule = get(name).example()
        t, v = sample(schedule, default_steps([schedule], fallback=300))
        ax.plot(t, v, linewidth=1.5)
        for b in schedule.breakpoints():
            if 0 < b < t[-1]:
                ax.axvline(b, color="gray", linestyle=":", linewidth=0.8)
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle("lrkit schedules: each family's example() (dotted: phase boundaries)")
    fig.tight_layout()
    fig.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
