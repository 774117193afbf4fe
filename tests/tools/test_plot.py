from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrkit.schedules import WSD, Cosine, WarmupCosine
from lrkit.tools.plot import default_steps, plot_schedules, sample


def test_plot_writes_a_wide_png_and_svg(tmp_path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    from matplotlib import image

    path = plot_schedules([WarmupCosine(1000, 100), WSD(1000, 200)], tmp_path / "s.png", log=True)
    pixels = image.imread(path)
    assert pixels.shape[1] >= 1000
    assert pixels.std() > 0.01  # something was drawn
    svg = plot_schedules([Cosine(10)], tmp_path / "s.svg", steps=20)
    assert svg.read_text().lstrip().startswith("<?xml")
    assert matplotlib.get_backend().lower() == "agg"


def test_plot_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`schedules` must not be empty"):
        plot_schedules([], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"`output` must end in .png, .svg, .pdf"):
        plot_schedules([Cosine(10)], tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="one entry per schedule"):
        plot_schedules([Cosine(10)], tmp_path / "x.png", labels=["a", "b"])


def test_sample_and_default_steps() -> None:
    t, v = sample(Cosine(10), 10)
    assert t.tolist() == list(range(11))
    np.testing.assert_allclose(v, Cosine(10)(np.arange(11)))
    assert default_steps([WarmupCosine(1000, 100)]) == 1100
    with pytest.raises(ValueError, match="`steps` must be a positive integer"):
        sample(Cosine(10), 0)
