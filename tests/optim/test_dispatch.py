"""optim/dispatch.py: which path a group's step runs, and why, in one function."""

from __future__ import annotations

import pytest
import torch

import lrkit.optim as lo
from lrkit.optim.base import REGISTRY
from lrkit.optim.dispatch import PATHS, resolve


def _param(*shape: int) -> torch.nn.Parameter:
    p = torch.nn.Parameter(torch.randn(*shape))
    p.grad = torch.randn(*shape)
    return p


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("impl", ["auto", "foreach", "reference", "fused"])
def test_every_optimizer_resolves_to_a_path_with_a_reason(name: str, impl: str) -> None:
    cls = REGISTRY[name].cls
    if impl == "fused" and not cls.fused_on("cpu"):
        pytest.skip("no fused path on the CPU")
    opt = cls([_param(4, 3)], lr=1e-3, impl=impl)
    path = resolve(opt, opt.param_groups[0], opt.param_groups[0]["params"], scaled=False)
    assert path.name in PATHS and f"impl={impl!r}" in path.reason
    if impl in ("foreach", "reference"):
        assert path.name == impl
    if impl == "fused":
        assert path.name == ("fused" if cls.fused_kernels else "torch")


def test_what_keeps_torchs_kernel_from_running_is_said() -> None:
    p = _param(4, 3)
    opt = lo.Adam([p], lr=0.1)
    assert resolve(opt, opt.param_groups[0], [p], scaled=False).name == "torch"
    scaled = resolve(opt, opt.param_groups[0], [p], scaled=True)
    assert scaled.name == "foreach" and "max_grad_norm" in scaled.reason
    q = torch.nn.Parameter(torch.randn(3, 4))
    q.grad = torch.randn(4, 3).t()  # a strided grad: torch 2.14's kernel mis-updates it
    strided = resolve(opt, opt.param_groups[0], [q], scaled=False)
    assert strided.name == "foreach" and "contiguous" in strided.reason


def test_explain_prints_every_group() -> None:
    a, b = _param(3), _param(2, 2)
    opt = lo.SGD([{"params": [a]}, {"params": [b], "impl": "reference"}], lr=0.1, momentum=0.9)
    lines = opt.explain().splitlines()
    assert lines[0].startswith("group 0 (1 tensor): torch -- impl='auto'")
    assert lines[1] == "group 1 (1 tensor): reference -- impl='reference': the per-tensor update"
    clipped = lo.Adam([a], lr=0.1, max_grad_norm=1.0).explain()
    assert "foreach" in clipped and "max_grad_norm" in clipped


def test_the_path_the_step_runs_is_the_one_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    for method, path in [("_torch_step", "torch"), ("_foreach", "foreach")]:
        original = getattr(lo.Adam, method)

        def spy(self, *args, _original=original, _path=path):  # type: ignore[no-untyped-def]
            ran.append(_path)
            return _original(self, *args)

        monkeypatch.setattr(lo.Adam, method, spy)
    p = _param(5)
    for opt in (lo.Adam([p], lr=0.1), lo.Adam([p], lr=0.1, max_grad_norm=1.0)):
        expected = resolve(opt, opt.param_groups[0], [p], opt.max_grad_norm is not None).name
        ran.clear()
        opt.step()
        assert ran == [expected]


def test_group_bookkeeping_runs_for_groups_without_grads() -> None:
    """Lamb counts steps per group as timm does, even when no param has a grad."""
    p = _param(3)
    idle = torch.nn.Parameter(torch.zeros(2))
    opt = lo.Lamb([{"params": [p]}, {"params": [idle]}], lr=0.1)
    opt.step()
    opt.step()
    assert [float(g["step"]) for g in opt.param_groups] == [2.0, 2.0]
    sf = lo.SGDScheduleFree([{"params": [p]}, {"params": [idle]}], lr=0.1)
    sf.train()
    sf.step()
    assert [g["k"] for g in sf.param_groups] == [1, 1]
