"""Optimizer paths on 2-D functions: exact iterates, tuning, momentum's benefit, pictures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lrkit.tasks.functions import SURFACES, quadratic
from lrkit.tools.trajectories import (
    compare,
    plot_trajectories,
    score,
    trajectories,
    trajectory,
    tune_lr,
)


def test_sgd_path_is_gradient_descent_on_the_quadratic() -> None:
    hessian = torch.autograd.functional.hessian(
        quadratic, torch.zeros(2, dtype=torch.float64)
    ).numpy()
    path = trajectory("quadratic", "sgd", lr=0.01, steps=50)
    x = np.array(SURFACES["quadratic"].start)
    for k in range(51):
        np.testing.assert_allclose(path.points[k], x, rtol=1e-12, atol=1e-14)
        assert path.values[k] == pytest.approx(0.5 * x @ hessian @ x, rel=1e-12)
        x = x - 0.01 * hessian @ x


def test_runs_advanced_together_equal_separate_runs() -> None:
    together = trajectories("rosenbrock", "adam(betas=(0.8, 0.99))", [1e-3, 1e-2, 3.0], steps=40)
    for path in together:
        alone = trajectory("rosenbrock", "adam(betas=(0.8, 0.99))", path.lr, steps=40)
        np.testing.assert_array_equal(path.points, alone.points)


def test_diverging_runs_freeze_and_score_infinity() -> None:
    path = trajectory("quadratic", "sgd", lr=0.5, steps=200)  # lr > 2 / 100: diverges
    assert math.isinf(score(path, "quadratic"))
    assert not np.all(np.isfinite(path.values)) or np.abs(path.points).max() > 10
    good = trajectory("quadratic", "sgd", lr=0.01, steps=200)
    assert math.isfinite(score(good, "quadratic"))


def test_tuning_picks_the_best_lr_and_momentum_wins_on_the_quadratic() -> None:
    lrs = list(np.logspace(-4, 0, 13))
    sgd = tune_lr("quadratic", "sgd", steps=200, lrs=lrs)
    scores = [score(p, "quadratic") for p in trajectories("quadratic", "sgd", lrs, 200)]
    assert sgd.lr == lrs[int(np.argmin(scores))]
    heavy = tune_lr("quadratic", "sgd(momentum=0.9)", steps=200, lrs=lrs)
    assert heavy.final < sgd.final / 1e3  # condition number 100: momentum's benefit shows


def test_compare_checks_every_spec_first() -> None:
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'.*did you mean 'adam'"):
        compare("beale", ["sgd", "adamm"], steps=5)
    with pytest.raises(
        ValueError, match=r"unknown function 'rosenbock'.*did you mean 'rosenbrock'"
    ):
        trajectory("rosenbock", "sgd", 0.1)
    with pytest.raises(ValueError, match="`lrs` must not be empty"):
        tune_lr("beale", "sgd", lrs=[])


def test_plot_png_and_gif(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib import image
    from PIL import Image

    lrs = [1e-3, 1e-2]
    results = [
        (name, compare(name, ["sgd", "adam"], steps=10, lrs=lrs))
        for name in ("beale", "quadratic", "rastrigin")
    ]
    png = plot_trajectories(results, tmp_path / "t.png", gif=tmp_path / "t.gif", frames=3)
    pixels = image.imread(png)
    assert pixels.shape[1] >= 1000 and pixels.std() > 0.05
    with Image.open(tmp_path / "t.gif") as gif:
        assert gif.n_frames == 3 and gif.size[0] >= 800
    with pytest.raises(ValueError, match=r"`gif` must end in \.gif"):
        plot_trajectories(results, tmp_path / "t.png", gif=tmp_path / "t.mp4")
    with pytest.raises(ValueError, match="`results` must not be empty"):
        plot_trajectories([], tmp_path / "t.png")
