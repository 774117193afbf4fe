from __future__ import annotations

import math

import pytest

import lrkit
from lrkit.scaling import scale_lr


def test_linear_and_sqrt_rules() -> None:
    assert scale_lr(0.1, 256, 8192) == pytest.approx(3.2)  # Goyal et al.: 0.1 per 256
    assert scale_lr(1e-3, 1024, 256, "sqrt") == pytest.approx(5e-4)
    assert scale_lr(0.3, 64, 64) == 0.3
    assert lrkit.scale_lr(2.0, 2, 8, rule="sqrt") == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": -1.0}, ValueError, "`lr` must be a positive"),
        ({"lr": math.nan}, ValueError, "`lr` must be a positive"),
        ({"from_batch": 0}, ValueError, "`from_batch` must be a positive integer"),
        ({"to_batch": 2.5}, TypeError, "`to_batch` must be a positive integer"),
        ({"rule": "cube"}, ValueError, "`rule` must be one of 'linear', 'sqrt'"),
    ],
)
def test_bad_arguments(kwargs, error, message) -> None:
    args = {"lr": 0.1, "from_batch": 256, "to_batch": 512, **kwargs}
    with pytest.raises(error, match=f"scale_lr: {message}"):
        scale_lr(**args)
