"""Prodigy and D-Adaptation with sharded (DTensor) parameters, in one process: the
numbers of plain parameters, the state kept sharded, and what is refused by name.
The numbers under FSDP2 on 2 ranks are in tests/distributed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is needed", allow_module_level=True)

from torch.distributed.device_mesh import init_device_mesh  # noqa: E402
from torch.distributed.tensor import DTensor, Replicate, Shard, distribute_tensor  # noqa: E402

from lrkit.optim import DAdaptAdam, DAdaptSGD, Prodigy  # noqa: E402


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[object]:
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


def _param(mesh: object, placement: object) -> torch.nn.Parameter:
    torch.manual_seed(0)
    return torch.nn.Parameter(distribute_tensor(torch.randn(4, 3), mesh, [placement]))


@pytest.mark.parametrize("cls", [DAdaptAdam, DAdaptSGD, Prodigy])
def test_sharded_params_step_with_sharded_state_and_the_plain_numbers(mesh, cls) -> None:
    p = _param(mesh, Shard(0))
    q = torch.nn.Parameter(p.full_tensor().detach().clone())
    sharded, plain = cls([p], lr=1.0), cls([q], lr=1.0)
    for step in range(4):
        g = torch.randn(4, 3, generator=torch.Generator().manual_seed(step))
        p.grad, q.grad = distribute_tensor(g, mesh, [Shard(0)]), g
        sharded.step()
        plain.step()
    state = sharded.state[p]
    assert all(isinstance(v, DTensor) for v in state.values() if torch.is_tensor(v))
    if cls is Prodigy:  # s and p0 keep p's shape when sharded (flat in one process)
        assert state["s"].shape == state["p0"].shape == p.shape
        assert plain.state[q]["s"].shape == (p.numel(),)
    assert sharded.param_groups[0]["d"] == plain.param_groups[0]["d"]
    torch.testing.assert_close(p.full_tensor(), q.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("cls", [DAdaptAdam, DAdaptSGD, Prodigy])
def test_a_replicated_param_is_refused_by_name(mesh, cls) -> None:
    with pytest.raises(ValueError, match=rf"{cls.__name__}: sharded parameters must be sharded"):
        cls([_param(mesh, Replicate())])


def test_prodigy_needs_every_element_of_a_sharded_param(mesh) -> None:
    with pytest.raises(ValueError, match="Prodigy: sharded parameters need slice_p=1"):
        Prodigy([_param(mesh, Shard(0))], slice_p=2)


@pytest.mark.parametrize("cls", [DAdaptAdam, Prodigy])
def test_sharded_and_plain_params_cannot_be_mixed(mesh, cls) -> None:
    plain = torch.nn.Parameter(torch.randn(3))
    with pytest.raises(ValueError, match="sharded and plain parameters cannot be mixed"):
        cls([_param(mesh, Shard(0)), plain])
    opt = cls([plain])
    with pytest.raises(ValueError, match="sharded and plain parameters cannot be mixed"):
        opt.add_param_group({"params": [_param(mesh, Shard(0))]})


def test_an_algorithm_that_needs_whole_tensors_can_refuse_sharded_params(mesh) -> None:
    """``Optimizer.sharded = False`` is the hook for an update that cannot run on shards
    (every registered optimizer takes them now): a ValueError by name at construction."""
    from lrkit.optim import Lion

    class WholeTensors(Lion):
        sharded = False

    with pytest.raises(ValueError, match=r"WholeTensors: sharded parameters \(DTensor"):
        WholeTensors([_param(mesh, Shard(0))])
    WholeTensors([torch.nn.Parameter(torch.randn(3))])  # plain ones are fine
