"""The two-pass step of the optimizers that estimate their own step size (Prodigy,
D-Adaptation).

Note [distance estimation]
~~~~~~~~~~~~~~~~~~~~~~~~~~
Prodigy and D-Adaptation learn ``d``, an estimate of the distance to the
solution, from sums over every parameter of every group (an inner product
with the gradients and a norm of their running sum). A step is therefore two
passes over all groups -- the sums, then the update with the new ``d`` --
rather than the per-group step of ``optim/base.py``. The class supplies:

* ``_begin(work, lr)``: the step's scalars before any sum (``dlr``, ...);
* ``_decay(group, begin)``: the coupled weight decay on the gradients, which
  every pass adds as it reads them (``g + decay * p``): the reference path up
  front, as the references do; the foreach batches into a reused buffer
  (``Scratch``), so that no step holds a second copy of every gradient; the
  fused kernels in their loop;
* ``_sums(...)``: one group's terms of the sums, as floats;
* ``_estimate(begin, sums, lr)``: the new ``d`` and the group keys to store,
  or None when there is nothing to do (all gradients zero), as the
  references return;
* ``_update(...)``: the second pass.

Note [update in pass 1]
~~~~~~~~~~~~~~~~~~~~~~~
D-Adaptation's update reads the step's ``dlr`` and the buffers pass 1 wrote,
not the new ``d``; the references skip it only when the norm (a sum of
non-negative terms) is 0. So its foreach pass 1 applies the update batch by
batch while the batch is in cache (``Early``): from the first batch whose norm
term is positive, when the step is sure to happen; batches before it at the
end of the group's pass. A group whose terms are all 0 is left to the second
pass (another group or rank may still make the step happen), which skips the
state lists in ``begin["updated"]``. The fused CPU kernels do the same row by
row (``*_one_pass``, then ``*_rest`` for the rows whose terms were 0). The
same ops on the same values, so the same numbers, without the second pass's
reads of the buffers from DRAM: on
ResNet-50 shapes (2-core AMD EPYC, 60 rounds in one process) 0.96-0.98x of the
two-pass time for DAdaptAdam, 0.94x for DAdaptSGD. Prodigy's update divides by
``sqrt(v) + d eps`` with the new ``d``, so it keeps two passes.

``d`` and the sums stay in every param group under the references' keys, so
they can be logged and plotted, a state dict moves between lrkit and the
reference, and a ScheduledLR on ``lr`` multiplies ``d`` (the references'
documented use with a schedule). Groups may differ in ``lr`` only by 0 (a
frozen group), as in the references.

Under DDP every rank holds the same parameters and gradients, so the sums
agree with no communication. Under FSDP2 each rank holds a shard of every
parameter (a DTensor, ``Shard`` on a 1-D mesh): the passes run on the local
shards (``to_local()`` shares their storage, so the state stays sharded
DTensors for DCP) and each sum is one ``all_reduce`` of the ranks' partial
sums per step (``_global``), which every term of these sums allows (inner
products, L1 norms and squared norms add over a partition of the elements).
No flag is needed, unlike the references' ``fsdp_in_use``. Sharded and
plain parameters cannot be mixed: a plain tensor is whole on every rank, so
its terms would be counted once per rank. Prodigy's ``s``
and ``p0`` are flattened in the reference; a flattened shard would not chunk
as DCP reshards a 1-D tensor (and DTensor cannot flatten an unevenly sharded
one), so for sharded parameters they keep the parameter's shape
(``flat_when_sharded``: the passes see flat views of the local shards) and
``slice_p`` must be 1. A checkpoint therefore holds them flat from one
process and shaped like the parameter from FSDP2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import Tensor

from lrkit.optim import fused, layout
from lrkit.optim.base import Optimizer, prepare_grad
from lrkit.optim.dispatch import resolve
from lrkit.optim.layout import PLAIN, cache_batches
from lrkit.optim.state_dicts import check_buffer_sizes
from lrkit.validation import Param

# the estimate's group keys, which a state dict restores (checked as hyperparameters)
ESTIMATE = Param("float", lo=0.0, lo_open=True)  # d, d_max
SUM = Param("float")  # the running numerators

Work = tuple[dict[str, Any], list[Tensor], list[Tensor], list[dict[str, Any]]]


class DistanceEstimating(Optimizer):
    """Base of the optimizers of Note [distance estimation]."""

    steps_in_state = False  # the references keep ``step`` as an int; kept as it is
    int_steps = True  # ... and checked on load where there is one
    sharded = True  # FSDP2: local passes, all-reduced sums (Note [distance estimation])
    flat_when_sharded: tuple[str, ...] = ()  # state kept in p's shape, seen flat by the passes
    sums = 2  # how many floats ``_sums`` returns
    fused_kernels = True  # csrc/distance_cpu.cpp, distance_triton (fused.distance_kernels)

    @property
    def _step_supports_amp_scaling(self) -> bool:
        """GradScaler unscales the gradients before the step (Note [amp] in ``base``)."""
        return False

    def _fused_takes(
        self, group: dict[str, Any], p: Tensor, g: Tensor, state: dict[str, Any]
    ) -> bool:
        """Whether the fused kernels take ``p`` with its grad and state (``fused.takes``:
        its grad and buffers of the same layout), on a device they run on here."""
        buffers = [v for v in state.values() if isinstance(v, Tensor)]
        return fused.runs_on(p, group["impl"]) and fused.takes(p, g, *buffers)

    def _parts(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
               states: list[dict[str, Any]]) -> list[tuple[str, list[int]]]:  # fmt: skip
        """The group's tensors by path: all on the one :func:`resolve` picks (what
        ``explain()`` prints; Note [auto fused]), except that on the fused path the
        tensors the kernels do not take (``_fused_takes``) run foreach (the sums add up
        either way)."""
        path = resolve(self, group, params, self.max_grad_norm is not None).name
        if path != "fused":
            return [(path, list(range(len(params))))] if params else []
        taken = [self._fused_takes(group, *row) for row in zip(params, grads, states)]
        parts = [("fused", [i for i, t in enumerate(taken) if t])]
        parts.append(("foreach", [i for i, t in enumerate(taken) if not t]))
        return [(name, idx) for name, idx in parts if idx]

    def _check_params(self, tensors: list[Tensor], group: dict[str, Any]) -> None:
        """Sharded parameters: FSDP2's, a ``Shard`` placement on one 1-D mesh for all,
        and no plain parameter beside them (in this group or another)."""
        owner = type(self).__name__
        for p in tensors:
            if type(p) in PLAIN:
                continue
            mesh, placements = getattr(p, "device_mesh", None), tuple(getattr(p, "placements", ()))
            if mesh is None or mesh.ndim != 1 or not placements or not placements[0].is_shard():
                raise ValueError(
                    f"{owner}: sharded parameters must be sharded on a 1-D device mesh "
                    f"(FSDP2's fully_shard), got {type(p).__name__} with placements {placements}"
                )
        every = [p for g in getattr(self, "param_groups", []) for p in g["params"]] + tensors
        meshes = {id(p.device_mesh) for p in every if type(p) not in PLAIN}
        if len(meshes) > 1:
            raise ValueError(
                f"{owner}: every sharded parameter must be on one device mesh (its sums are "
                f"all-reduced over it), got {len(meshes)}"
            )
        if meshes and any(type(p) in PLAIN for p in every):
            # a plain tensor is whole on every rank: its terms would count once per rank
            raise ValueError(
                f"{owner}: sharded and plain parameters cannot be mixed (the step-size sums "
                "add the ranks' shards); shard every parameter or none"
            )

    def _global(self, values: list[float]) -> list[float]:
        """The sums over every rank's shard (Note [distance estimation]), all-reduced over
        the sharded parameters' mesh; unchanged when the parameters are whole tensors."""
        sharded = (p for g in self.param_groups for p in g["params"] if type(p) not in PLAIN)
        first = next(sharded, None)
        if first is None:
            return values
        summed = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(summed, group=first.device_mesh.get_group())
        return cast(list[float], summed.tolist())

    def _check_growth_rate(self, group: dict[str, Any]) -> None:
        """``growth_rate`` >= 1 (inf: no limit; the other keys are ``hyper``'s)."""
        rate = group.get("growth_rate")
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate >= 1
        ):
            raise ValueError(
                f"{type(self).__name__}: `growth_rate` must be a number >= 1 (inf: no limit), "
                f"got {rate!r}"
            )

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One step: the sums over every group, ``d``, then the update (Note
        [distance estimation])."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        owner = type(self).__name__
        coef = self._clip_coef(getattr(self, "grad_scale", None))
        lr = max(float(g["lr"]) for g in self.param_groups)
        work: list[Work] = []
        for group in self.param_groups:
            if float(group["lr"]) not in (lr, 0.0):
                raise RuntimeError(
                    f"{owner}: param groups may differ in lr only by 0 (a frozen group), got "
                    f"{sorted({float(g['lr']) for g in self.param_groups})}"
                )
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if cast(Tensor, p.grad).is_sparse:
                    raise RuntimeError(f"{owner} does not support sparse gradients")
            grads = [prepare_grad(cast(Tensor, p.grad), group["maximize"], coef) for p in params]
            states = [self.state[p] for p in params]
            for p, state in zip(params, states):
                if not state:
                    state.update(self._init_state(p, group))
            work.append((group, params, grads, states))
        work, shared = _local_work(work, self.flat_when_sharded)
        for group, params, _, states in work:  # state edited by hand: before any pass
            check_buffer_sizes(owner, group, params, states, self._buffer_shapes)
        begin = self._begin(work, lr)
        begin["updated"] = []  # Note [update in pass 1]
        total = [0.0] * self.sums
        parts: list[list[tuple[str, Work]]] = []
        for work_row in work:
            group = work_row[0]
            parts.append([(path, subset(work_row, idx)) for path, idx in self._parts(*work_row)])
            decay = self._decay(group, begin)
            for path, (_, ps, gs, _) in parts[-1]:
                if path == "reference" and decay != 0:  # the others add it as they read g
                    gs[:] = [g.add(p, alpha=decay) for g, p in zip(gs, ps)]
            if float(group["lr"]) > 0.0:
                for path, (_, ps, gs, sts) in parts[-1]:
                    part = self._sums(group, ps, gs, sts, begin, path)
                    total = [a + b for a, b in zip(total, part)]
        found = self._estimate(begin, self._global(total), lr)
        if found is None:
            self._skipped(begin)
        else:
            for (group, *_), group_parts in zip(work, parts):
                group.update(found)
                for path, (_, ps, gs, sts) in group_parts:
                    self._update(group, ps, gs, sts, begin, found, path)
                group["k"] = group["k"] + 1
        for view, state in shared:  # the step counters the passes advanced on the views
            state.update({k: v for k, v in view.items() if not isinstance(v, Tensor)})
        return loss

    def _begin(self, work: list[Work], lr: float) -> dict[str, Any]:
        raise NotImplementedError

    def _decay(self, group: dict[str, Any], begin: dict[str, Any]) -> float:
        """The coupled weight decay on this group's gradients (0: none)."""
        return 0.0

    def _skipped(self, begin: dict[str, Any]) -> None:
        """What a step the estimate skips (``_estimate`` gave None) still does of pass 1's
        work that a class put off to pass 2; nothing by default."""

    def _sums(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        begin: dict[str, Any],
        path: str,
    ) -> tuple[float, ...]:
        """Pass 1 for one group's tensors on ``path`` (``_parts``): the moments, and the
        tensors' terms of the sums."""
        raise NotImplementedError

    def _estimate(
        self, begin: dict[str, Any], sums: list[float], lr: float
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    def _update(
        self,
        group: dict[str, Any],
        params: list[Tensor],
        grads: list[Tensor],
        states: list[dict[str, Any]],
        begin: dict[str, Any],
        found: dict[str, Any],
        path: str,
    ) -> None:
        """Pass 2 for one group's tensors on ``path``: the update with the new ``d``."""
        raise NotImplementedError


class Early:
    """Note [update in pass 1]: ``update(small, *rows)`` of one group's foreach batches
    in pass 1, once a batch's norm terms show that the step will happen."""

    def __init__(self, update: Callable[..., None]) -> None:
        self.update = update
        self.sure = False
        self.waiting: list[tuple[bool, list[list[Tensor]]]] = []

    def after(self, small: bool, rows: list[list[Tensor]], terms: list[Tensor]) -> None:
        """The batch's update, after its sums (``terms``: its norm terms, >= 0)."""
        if not self.sure:  # a host read per batch until one is positive (NaN is not)
            self.sure = any(float(t) > 0 for t in terms)
        if self.sure:
            self.update(small, *rows)
        else:
            self.waiting.append((small, rows))

    def finish(self, begin: dict[str, Any], states: list[dict[str, Any]]) -> None:
        """The batches that waited, and ``states`` marked updated; none if no term was
        positive (the second pass decides)."""
        if self.sure:
            for small, rows in self.waiting:
                self.update(small, *rows)
            begin["updated"].append(states)


def second_pass(
    begin: dict[str, Any],
    states: list[dict[str, Any]],
    whole: Callable[[], None],
    rest: Callable[[Tensor], None] | None = None,
) -> None:
    """The second pass of these tensors (Note [update in pass 1]): ``whole()`` unless
    pass 1 applied their update; ``rest(flags)`` for the rows a fused one-pass kernel
    left (its sums, the last column flagging the rows it updated)."""
    done = updated(begin, states)
    if done is False:
        whole()
    elif isinstance(done, Tensor) and rest is not None and not bool(done[:, 2].all()):
        rest(done)


def updated(begin: dict[str, Any], states: list[dict[str, Any]]) -> bool | Tensor:
    """What pass 1 updated of these tensors (Note [update in pass 1]): all of them
    (True), none (False), or the rows flagged in the last column of the fused one-pass
    kernel's sums (the tensor)."""
    for entry in begin["updated"]:
        done, flags = entry if isinstance(entry, tuple) else (entry, None)
        if done is states:
            return True if flags is None else flags
    return False


def subset(work: Work, idx: list[int]) -> Work:
    """One group's work for the tensors at ``idx``."""
    group, params, grads, states = work
    return group, [params[i] for i in idx], [grads[i] for i in idx], [states[i] for i in idx]


def _local(t: Tensor) -> Tensor:
    """A DTensor's local shard (sharing its storage); a plain tensor itself."""
    return t if type(t) in PLAIN else cast(Tensor, t.to_local())  # type: ignore[attr-defined]


def _local_work(
    work: list[Work], flat: tuple[str, ...] = ()
) -> tuple[list[Work], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """The step's work on local shards: params, grads and state buffers as local
    tensors (the ``flat`` keys as flat views), each state as a view dict whose plain
    values are written back after the step. Unchanged (and nothing to write back)
    when no tensor is sharded."""
    if all(type(p) in PLAIN for _, params, _, _ in work for p in params):
        return work, []

    def view(key: str, value: Any) -> Any:
        if not isinstance(value, Tensor):
            return value
        return _local(value).view(-1) if key in flat else _local(value)

    out: list[Work] = []
    shared = []
    for group, params, grads, states in work:
        views = [{k: view(k, v) for k, v in st.items()} for st in states]
        shared += list(zip(views, states))
        out.append((group, [_local(p) for p in params], [_local(g) for g in grads], views))
    return out, shared


def adam_bias_correction(group: dict[str, Any], lr: float) -> float:
    """``d * lr``, times ``sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1))`` with
    ``use_bias_correction``: the step's ``dlr`` of Prodigy and D-Adaptation Adam."""
    beta1, beta2 = group["betas"]
    k = group["k"]
    bias = (
        ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
        if group["use_bias_correction"]
        else 1.0
    )
    return float(group["d"] * lr * bias)


def coupled(group: dict[str, Any]) -> float:
    """The coupled weight decay on the gradients: ``weight_decay``, 0 if ``decouple``d."""
    return 0.0 if group["decouple"] else float(group["weight_decay"])


class Scratch:
    """A buffer per dtype and device for the foreach passes' decayed gradients
    (``add_decay``), reused batch after batch: on the CPU a batch's copy stays in cache
    and no step allocates a copy of every gradient (elsewhere there is one batch, and
    the buffer is its size)."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[torch.dtype, torch.device], Tensor] = {}

    def like(self, tensors: list[Tensor]) -> list[Tensor]:
        """Contiguous views of the buffers with the shapes, dtypes and devices of
        ``tensors``, valid until the next call."""
        sizes = [t.numel() for t in tensors]
        dtype, device = tensors[0].dtype, tensors[0].device
        if all(t.dtype == dtype and t.device == device for t in tensors):  # one split
            flat = torch.split(self._buffer(dtype, device, sum(sizes)), sizes)
            return [f if t.dim() == 1 else f.view(t.shape) for f, t in zip(flat, tensors)]
        need: dict[tuple[torch.dtype, torch.device], int] = {}
        for t in tensors:
            need[(t.dtype, t.device)] = need.get((t.dtype, t.device), 0) + t.numel()
        buffers = {key: self._buffer(*key, n) for key, n in need.items()}
        start = dict.fromkeys(need, 0)
        views = []
        for t in tensors:
            key, n = (t.dtype, t.device), t.numel()
            views.append(buffers[key][start[key] : start[key] + n].view(t.shape))
            start[key] += n
        return views

    def _buffer(self, dtype: torch.dtype, device: torch.device, n: int) -> Tensor:
        """The first ``n`` elements of the buffer for ``dtype`` and ``device``, grown to
        hold them."""
        buffer = self._buffers.get((dtype, device))
        if buffer is None or buffer.numel() < n:
            buffer = self._buffers[(dtype, device)] = torch.empty(n, dtype=dtype, device=device)
        return buffer[:n]


def add_decay(
    scratch: Scratch, grads: list[Tensor], params: list[Tensor], decay: float, small: bool
) -> list[Tensor]:
    """One batch's ``g + decay * p`` (the grads themselves when 0), by :func:`each`."""
    if decay == 0 or not grads:
        return grads
    return each(scratch, "add", small, grads, params, alpha=decay)


def each(
    scratch: Scratch,
    op: str,
    small: bool,
    *rows: list[Tensor],
    like: list[Tensor] | None = None,
    **kw: Any,
) -> list[Tensor]:
    """``torch.<op>`` of the aligned tensors of ``rows``, one result per tensor: for a
    batch of small tensors one list op (``torch._foreach_<op>``, new tensors of their
    size; Note [small tensors] in ``layout``), else per tensor into views of ``scratch``
    (``out=``, valid until its next use) shaped like ``like`` (the first row's tensors
    unless given: a broadcast operand may come first)."""
    if small:
        return list(getattr(torch, f"_foreach_{op}")(*rows, **kw))
    out = scratch.like(rows[0] if like is None else like)
    fn = getattr(torch, op)
    for o, *args in zip(out, *rows):
        fn(*args, out=o, **kw)
    return out


def dot_terms(a: list[Tensor], b: list[Tensor], small: bool) -> list[Tensor]:
    """Terms (0-d tensors) that add up to ``sum_i <a_i, b_i>``: one for a batch of small
    tensors (their products' sum), one inner product per tensor else."""
    if small:
        products = torch._foreach_mul(a, b)
        return [torch.cat([t.reshape(-1) for t in products]).sum()]
    flat = [[t if t.dim() == 1 else t.reshape(-1) for t in ts] for ts in (a, b)]
    return [torch.dot(x, y) for x, y in zip(*flat)]


def l1_terms(scratch: Scratch, tensors: list[Tensor], small: bool) -> list[Tensor]:
    """Terms (0-d tensors) that add up to ``sum_i |t_i|_1``: the L1 norms of a batch of
    small tensors (one list op), else ``|t|`` into ``scratch`` and its sum per tensor
    (3x faster than an L1 norm on the CPU)."""
    if small:
        return list(torch._foreach_norm(tensors, 1))
    return [t.sum() for t in each(scratch, "abs", False, tensors)]


def batches(*lists: list[Tensor]) -> list[tuple[bool, list[list[Tensor]]]]:
    """Note [cache batches] (``optim/layout.py``) for the two passes: the aligned
    ``lists`` (params, grads, buffers) in batches of about ``CPU_BATCH`` elements on
    the CPU, large tensors cut into contiguous chunks, so that a chain of foreach ops
    finds its operands in cache; one batch elsewhere. Every sum of these passes (inner
    products, L1 and squared norms) adds over a partition of the elements, so a
    tensor's terms are its chunks' terms added up. A row whose tensors differ in size
    (a sliced ``p0``) or are not contiguous stays whole. The rows of fewer than
    ``SMALL`` elements (by the first list) come first, in batches of their own,
    flagged ``True`` (Note [small tensors]: list ops, not per-tensor ones)."""
    small = [t.numel() < layout.SMALL for t in lists[0]]  # read here: tests set it
    out = []
    for flag in (True, False):
        rows = [[t for t, f in zip(ts, small) if f == flag] for ts in lists]
        if rows[0]:
            out += [(flag, batch) for batch, _ in cache_batches(rows, [], split=True)]
    return out


__all__ = [
    "ESTIMATE",
    "SUM",
    "DistanceEstimating",
    "Early",
    "Scratch",
    "Work",
    "adam_bias_correction",
    "add_decay",
    "batches",
    "coupled",
    "dot_terms",
    "each",
    "l1_terms",
    "second_pass",
    "subset",
    "updated",
]
