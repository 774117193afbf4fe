"""The shared arithmetic of ``optim/updates.py``: ``axpby_`` against ``mul_`` then
``add_``, in place, and where it keeps their semantics."""

from __future__ import annotations

import pytest
import torch

from lrkit.optim.updates import axpby_, foreach_axpby_


def _two_pass(y: torch.Tensor, x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    return y.clone().mul_(a).add_(x, alpha=b)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (4097,), (5, 3), (2, 3, 4, 5)])
def test_axpby_is_a_times_y_plus_b_times_x_in_place(dtype: torch.dtype, shape: tuple) -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(shape, generator=gen).to(dtype)
    x = torch.randn(shape, generator=gen).to(dtype)
    want = _two_pass(y, x, 0.9, 0.37)
    ptr = y.data_ptr()
    axpby_(y, x, 0.9, 0.37)
    assert y.data_ptr() == ptr and y.shape == torch.Size(shape) and y.dtype == dtype
    # the same two products and one sum; a fused multiply-add may round the last bit
    ulp = torch.finfo(dtype).eps
    torch.testing.assert_close(y, want, rtol=2 * ulp, atol=2 * ulp)


def test_axpby_takes_a_strided_x_and_falls_back_for_a_strided_y() -> None:
    gen = torch.Generator().manual_seed(1)
    y = torch.randn(3, 4, dtype=torch.float64, generator=gen)
    x = torch.randn(4, 3, dtype=torch.float64, generator=gen).t()  # strided
    want = _two_pass(y, x, 0.5, -2.0)
    axpby_(y, x, 0.5, -2.0)
    torch.testing.assert_close(y, want, rtol=1e-15, atol=1e-15)
    yt = torch.randn(4, 3, dtype=torch.float64, generator=gen).t()  # no flat view
    want = _two_pass(yt, x, 0.5, -2.0)
    axpby_(yt, x, 0.5, -2.0)
    assert torch.equal(yt, want)  # mul_ then add_ exactly


def test_axpby_with_a_zero_keeps_the_nan_of_y_as_mul_does() -> None:
    y = torch.tensor([float("nan"), 1.0])
    axpby_(y, torch.ones(2), 0.0, 2.0)  # addr_ would drop self at beta=0
    assert y[0].isnan() and y[1] == 2.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n", [7, 4097])  # the scalar and the vectorized loops
def test_axpby_towards_x_is_mul_then_add_to_the_bit(dtype: torch.dtype, n: int) -> None:
    """``a = 0, b = 1`` (one ``add``): the bits of ``mul_(0)`` then ``add_``, signed zeros
    and the NaN of ``0 * inf`` included."""
    special = [float("inf"), -float("inf"), float("nan"), -0.0, 0.0, 1e-45, -2.5, 3.0]
    gen = torch.Generator().manual_seed(3)
    pool = torch.tensor(special, dtype=dtype)
    y = pool[torch.randint(len(special), (n,), generator=gen)]
    x = pool[torch.randint(len(special), (n,), generator=gen)]
    want = _two_pass(y, x, 0.0, 1.0)
    ptr = y.data_ptr()
    axpby_(y, x, 0.0, 1.0)
    bits = torch.int64 if dtype == torch.float64 else torch.int32
    assert y.data_ptr() == ptr
    assert torch.equal(y.isnan(), want.isnan())
    # NaNs zeroed only (nan_to_num would also map inf to the largest float)
    assert torch.equal(
        y.masked_fill(y.isnan(), 0).view(bits), want.masked_fill(want.isnan(), 0).view(bits)
    )


def test_axpby_of_mixed_dtypes_is_mul_then_add() -> None:
    y = torch.randn(6, dtype=torch.float64)
    x = torch.randn(6, dtype=torch.float32)
    want = _two_pass(y, x, 0.25, 3.0)
    axpby_(y, x, 0.25, 3.0)
    assert torch.equal(y, want) and y.dtype == torch.float64


@pytest.mark.parametrize("small", [0, 4, 1 << 16])  # none, some, all under SMALL
def test_foreach_axpby_updates_every_tensor_of_the_list(
    small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [small tensors]: tensors under SMALL elements take the two list ops (mul_
    then add_), the others one ``axpby_`` each."""
    from lrkit.optim import layout, updates

    monkeypatch.setattr(layout, "SMALL", small)
    one_by_one: list[int] = []  # the sizes that took addr_, one call each
    spy = updates.axpby_

    def axpby(y: torch.Tensor, x: torch.Tensor, a: float, b: float, one: torch.Tensor) -> None:
        one_by_one.append(y.numel())
        spy(y, x, a, b, one)

    monkeypatch.setattr(updates, "axpby_", axpby)
    gen = torch.Generator().manual_seed(2)
    ys = [torch.randn(s, dtype=torch.float64, generator=gen) for s in [(3,), (), (2, 5), (9,)]]
    xs = [torch.randn(y.shape, dtype=torch.float64, generator=gen) for y in ys]
    want = [_two_pass(y, x, 0.99, 0.01) for y, x in zip(ys, xs)]
    ptrs = [y.data_ptr() for y in ys]
    foreach_axpby_(ys, xs, 0.99, 0.01)
    assert [y.data_ptr() for y in ys] == ptrs
    assert one_by_one == [y.numel() for y in ys if y.numel() >= small]
    for y, w in zip(ys, want):
        torch.testing.assert_close(y, w, rtol=1e-15, atol=1e-15)
    foreach_axpby_([], [], 0.5, 0.5)  # an empty list: nothing to do
