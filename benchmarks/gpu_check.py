"""The one run a GPU session needs: every optimizer's paths against its reference, then
the step's time against the bytes floor and the peers, in one table.

    python benchmarks/gpu_check.py                        # CUDA; writes $OUT (or .)/gpu_check.*
    python benchmarks/gpu_check.py --only adam prodigy --budget 120
    python benchmarks/gpu_check.py --device cpu --smoke   # the same, small, on the CPU

1. The in-place streaming bandwidth (``optim_step.copy_bandwidth``), for the floors.
2. Checks: each registered optimizer x dtype (float32, float64, bfloat16) x option
   (plain; weight decay; ``nesterov`` and ``amsgrad`` where the class has them;
   ``max_grad_norm``; GradScaler's ``grad_scale`` and ``found_inf``, a skipped step
   included) runs ``STEPS`` steps on odd sizes (a 0-d tensor, 1, 7, 4097, many small
   tensors, a few large ones) with every path it has on the device (``foreach``,
   ``fused``, ``auto``) against ``reference``. Freed device memory is filled with NaN
   before each run, so a kernel that reads a buffer it never wrote shows up. The gap
   is ``max |path - reference| / max |reference|`` over the tensors; bounds: float64
   1e-10, float32 1e-5 (as the test suite). In bfloat16 a step of lr 1e-2 is about one
   unit in the last place of a param near 1, so two paths that round in another order
   drift apart by several (torch's own RMSprop, for-loop against foreach: 6.5e-2 on
   these shapes after 10 steps); so each path is measured against the reference's
   steps in float32 from the same bfloat16 data, and may be at most 3x as far from
   them as the reference path in bfloat16 is, plus 1e-2.
3. Timing: the median step of each lrkit path and each installed peer, at ResNet-50's
   shapes (161 tensors, 25.6M) and at a GPT-style 1.3B-parameter fp32 model (24
   layers of width 2048, a 50257-token embedding; Muon: its hidden matrices), with
   CUDA kernel launches per step (one more step of the timed optimizer, profiled).
   With ``adamw`` comes ``adamw+clip``: lrkit's AdamW with ``max_grad_norm=1.0``
   against ``clip_grad_norm_`` and torch's fused AdamW (floor: 4 B more per param).
   ResNet-50 interleaves the implementations round by round
   (``optim_step.time_ready``); at 1.3B one optimizer lives at a time.
4. ``gpu_check.md`` (the tables) and ``gpu_check.json`` under ``--out``.

Each section stops at ``--budget`` seconds and names what it skipped, so the tables
are written however the run goes; an error in one row is recorded in that row.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import optim_step

from lrkit.optim.base import REGISTRY
from lrkit.optim.layout import DTYPES

STEPS = 10
BOUNDS = {torch.float64: 1e-10, torch.float32: 1e-5, torch.bfloat16: 1e-2}
CLIP_BYTES = 4  # max_grad_norm reads the gradients once more
CLIP = "adamw+clip"  # the timing row of AdamW with max_grad_norm=1.0


def check_shapes(name: str, smoke: bool) -> list[tuple[int, ...]]:
    """Odd sizes: 0-d, 1, 7, 4097, many small tensors, a few large ones (Muon: 2-D)."""
    if name == "muon":
        big = [(256, 1031)] if smoke else [(1024, 4097), (4097, 1024)]
        return [(1, 7), (7, 1), (5, 4097), *[(3, 5)] * 16, *big]
    big = [(3, 7001)] if smoke else [(3, 700001), (1 << 22,), (513, 4097)]
    return [(), (1,), (7,), (4097,), (64, 3, 3, 3), *[(3,)] * 48, *big]


def options(name: str) -> dict[str, dict[str, Any]]:
    """The variants a class is checked in: keyword arguments on top of ``HYPER``."""
    cls = REGISTRY[name].cls
    base = dict(optim_step.HYPER[name])
    out = {"plain": {**base, "weight_decay": 0.0}, "weight decay": base}
    if "nesterov" in cls.hyper:
        out["nesterov"] = {**base, "nesterov": True}
    if "amsgrad" in cls.hyper:
        out["amsgrad"] = {**base, "amsgrad": True}
    out["max_grad_norm"] = {**base, "max_grad_norm": 0.5}
    out["grad_scale, found_inf"] = {**base, "amp": True}
    return out


def paths(name: str, device: str, dtype: torch.dtype) -> list[str]:
    """The paths other than ``reference`` a class has for ``dtype`` params on ``device``."""
    cls = REGISTRY[name].cls
    fused = cls.fused_on(device) and dtype in DTYPES[device]
    return ["foreach", "auto"] + (["fused"] if fused else [])


def poison(device: str, nbytes: int) -> None:
    """Fill freed device memory with NaN: the caching allocator hands it out next."""
    if device == "cuda":
        block = torch.full((nbytes // 4,), float("nan"), device=device)
        del block


def make(name: str, params: list[torch.Tensor], kw: dict[str, Any], impl: str) -> Any:
    kw = {k: v for k, v in kw.items() if k != "amp"}
    opt = REGISTRY[name].cls(params, **kw, impl=impl)
    if callable(getattr(opt, "train", None)):
        opt.train()
    return opt


def trajectory(
    name: str, kw: dict[str, Any], impl: str, dtype: torch.dtype, device: str, smoke: bool,
    compute: torch.dtype | None = None,
) -> list[torch.Tensor]:  # fmt: skip
    """The params after ``STEPS`` steps of one path on seeded data in ``dtype``, run in
    ``compute`` (default: ``dtype``)."""
    gen = torch.Generator().manual_seed(0)
    shapes = check_shapes(name, smoke)
    run = compute or dtype

    def draw(s: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(s, generator=gen).to(device, dtype).to(run)

    params = [draw(s).requires_grad_() for s in shapes]
    grads = [[draw(s) for s in shapes] for _ in range(STEPS)]
    poison(device, 64 << 20 if not smoke else 1 << 20)
    opt = make(name, params, kw, impl)
    amp = kw.get("amp", False)
    for t in range(STEPS):
        for p, g in zip(params, grads[t]):
            p.grad = g * 1024 if amp else g.clone()
        if amp:  # as GradScaler.step sets them; the step at t == 3 is skipped
            opt.grad_scale = torch.tensor(1024.0, device=device)
            opt.found_inf = torch.tensor(1.0 if t == 3 else 0.0, device=device)
        opt.step()
    return [p.detach().float() for p in params]


def gap(got: list[torch.Tensor], want: list[torch.Tensor]) -> float:
    worst = 0.0
    for a, b in zip(got, want, strict=True):
        scale = float(b.abs().max()) if b.numel() else 0.0
        diff = float((a - b).abs().max()) if b.numel() else 0.0
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst if math.isfinite(worst) else float("inf")


def run_checks(args: argparse.Namespace, deadline: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in args.only:
        for label, kw in options(name).items():
            for dtype, tolerance in BOUNDS.items():
                row = {"optimizer": name, "option": label, "dtype": str(dtype).split(".")[1]}
                if time.perf_counter() > deadline:
                    rows.append({**row, "status": "skipped (budget)"})
                    continue
                bound = tolerance
                try:
                    want = trajectory(name, kw, "reference", dtype, args.device, args.smoke)
                    if dtype == torch.bfloat16:  # each path against float32 math on its data
                        exact = trajectory(
                            name, kw, "reference", dtype, args.device, args.smoke, torch.float32
                        )
                        row["reference"] = gap(want, exact)
                        want, bound = exact, 3 * row["reference"] + tolerance
                    gaps = {
                        impl: gap(trajectory(name, kw, impl, dtype, args.device, args.smoke), want)
                        for impl in paths(name, args.device, dtype)
                    }
                    ok = all(g <= bound for g in gaps.values())
                    rows.append({**row, "gaps": gaps, "status": "ok" if ok else "FAIL"})
                except Exception as exc:  # recorded, so one row cannot hide the others
                    rows.append({**row, "status": f"error: {type(exc).__name__}: {exc}"[:300]})
    return rows


def gpt_shapes(width: int = 2048, layers: int = 24, vocab: int = 50257) -> list[tuple[int, ...]]:
    """A GPT-2-style model's parameter shapes: 1.31B values at the defaults."""
    shapes: list[tuple[int, ...]] = [(vocab, width), (1024, width)]
    for _ in range(layers):
        shapes += [(width,), (width,), (3 * width, width), (3 * width,), (width, width), (width,)]
        shapes += [(width,), (width,), (4 * width, width), (4 * width,), (width, 4 * width)]
        shapes += [(width,)]
    return [*shapes, (width,), (width,)]


def launches(opt: Any, device: str) -> int | None:
    """CUDA kernels one step launches (None off CUDA)."""
    if device != "cuda":
        return None
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        opt.step()
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)


def time_and_count(
    makers: dict[str, Callable[..., Any]], shapes: list[tuple[int, ...]], steps: int,
    repeat: int, device: str, large: bool,
) -> tuple[dict[str, float], dict[str, int | None]]:  # fmt: skip
    """The median step of each maker (``optim_step.time_ready``) and its launches per
    step, counted on the optimizers that were timed. Small models: all made first and
    timed in interleaved rounds (``optim_step.ready``). ``large``: one optimizer alive at
    a time, on one set of params and grads drawn on the device (drawing them on the host
    per implementation, as ``ready`` does, would take longer than the timing)."""
    if not large:
        opts = {label: optim_step.ready(maker, shapes, device) for label, maker in makers.items()}
        times = optim_step.time_ready(opts, steps, repeat, device)
        return times, {label: launches(opt, device) for label, opt in opts.items()}
    gen = torch.Generator(device).manual_seed(0)
    params = [torch.randn(s, generator=gen, device=device).requires_grad_() for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen, device=device) * 1e-2
    times, counts = {}, {}
    for label, maker in makers.items():
        opt = optim_step.warmed(maker(params))
        times |= optim_step.time_ready({label: opt}, steps, repeat, device)
        counts[label] = launches(opt, device)
        del opt
        if device == "cuda":
            torch.cuda.empty_cache()
    return times, counts


class ClipThenAdamW:
    """The peer of lrkit's AdamW with ``max_grad_norm``: ``clip_grad_norm_`` and then
    torch's fused AdamW, as a training loop writes them."""

    def __init__(self, params: list[torch.Tensor], **kw: Any) -> None:
        self.params = params
        self.opt = torch.optim.AdamW(params, **kw, fused=True)

    def step(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=True)
        self.opt.step()


def clip_candidates(device: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """lrkit's AdamW paths with ``max_grad_norm=1.0``, and :class:`ClipThenAdamW`."""
    ours, _ = optim_step.candidates("adamw", device)
    kw = optim_step.HYPER["adamw"]
    cls = REGISTRY["adamw"].cls

    def clipped(impl: str) -> Callable[[list[torch.Tensor]], Any]:
        return lambda ps: cls(ps, **kw, impl=impl, max_grad_norm=1.0)

    return {label: clipped(label.split()[-1]) for label in ours}, {
        "clip_grad_norm_ + torch fused": lambda ps: ClipThenAdamW(ps, **kw)
    }


def run_timing(args: argparse.Namespace, bandwidth: float, deadline: float) -> list[dict[str, Any]]:
    models = {"resnet50": optim_step.resnet50_shapes(), "gpt-1.3b": gpt_shapes()}
    if args.smoke:  # small stand-ins: ResNet-50's tensors of at most 64K values, a tiny GPT
        models["resnet50"] = [s for s in models["resnet50"] if math.prod(s) <= 1 << 16]
        models["gpt-1.3b"] = gpt_shapes(width=64, layers=2, vocab=1000)
    rows: list[dict[str, Any]] = []
    names = [*args.only, *([CLIP] if "adamw" in args.only else [])]
    for model, shapes in models.items():
        for name in names:
            own = shapes
            if name == "muon":
                own = [s for s in shapes if len(s) == 2 and s[0] < 10000]  # hidden matrices
            numel = sum(math.prod(s) for s in own)
            row = {"model": model, "optimizer": name, "params": numel}
            if time.perf_counter() > deadline:
                rows.append({**row, "status": "skipped (budget)"})
                continue
            try:
                if name == CLIP:
                    ours, peers = clip_candidates(args.device)
                else:
                    ours, peers = optim_step.candidates(name, args.device)
                makers = {**ours, **{n: m for n, m in peers.items() if m}}
                times, counts = time_and_count(
                    makers, own, args.steps, args.repeat, args.device, model != "resnet50"
                )
                per_param = (
                    optim_step.FLOOR_BYTES["adamw"] + CLIP_BYTES
                    if name == CLIP
                    else optim_step.FLOOR_BYTES[name]
                )
                floor = per_param * numel / bandwidth
                best = min((t for n, t in times.items() if n not in ours), default=float("nan"))
                impls = {
                    label: {"ms": t * 1e3, "x_floor": t / floor, "x_best_peer": t / best,
                            "launches": counts[label], "peer": label not in ours}
                    for label, t in times.items()
                }  # fmt: skip
                rows.append({**row, "floor_ms": floor * 1e3, "impls": impls, "status": "ok"})
            except Exception as exc:
                rows.append({**row, "status": f"error: {type(exc).__name__}: {exc}"[:300]})
                traceback.print_exc()
            if args.device == "cuda":
                torch.cuda.empty_cache()
    return rows


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# gpu_check: {report['device_name']}",
        "",
        f"torch {report['torch']}, triton {report['triton']}, Python {report['python']}; "
        f"stream bandwidth {report['bandwidth_gbs']:.1f} GB/s; {report['seconds']:.0f} s",
        "",
        "## Checks against the reference path (gap: max |path - reference| / max |reference|)",
        "",
        "| optimizer | option | dtype | status | gaps |",
        "|---|---|---|---|---|",
    ]
    for r in report["checks"]:
        gaps = ", ".join(f"{k} {v:.1e}" for k, v in r.get("gaps", {}).items())
        lines.append(
            f"| {r['optimizer']} | {r['option']} | {r['dtype']} | {r['status']} | {gaps} |"
        )
    lines += ["", "## Step time", "", "| model | optimizer | implementation | ms | x floor | "
              "x best peer | launches |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report["timing"]:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['optimizer']} | {r['status']} | | | | |")
            continue
        for label, v in r["impls"].items():
            n = "-" if v["launches"] is None else str(v["launches"])
            lines.append(
                f"| {r['model']} | {r['optimizer']} | {label} | {v['ms']:.2f} | "
                f"{v['x_floor']:.2f} | {v['x_best_peer']:.2f} | {n} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--only", nargs="*", default=sorted(REGISTRY), help="optimizers")
    parser.add_argument("--smoke", action="store_true", help="small sizes (a CPU check)")
    parser.add_argument("--budget", type=float, default=330.0, help="seconds for all of it")
    parser.add_argument("--steps", type=int, default=5, help="steps per timing")
    parser.add_argument("--repeat", type=int, default=3, help="timings per implementation")
    parser.add_argument("--no-timing", action="store_true", help="the checks only")
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for the tables")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - set(REGISTRY))
    if unknown:
        parser.error(f"--only: unknown optimizers {unknown}; known: {sorted(REGISTRY)}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here (use --device cpu)")
    flush = args.device == "cpu" and not args.smoke  # denormals slow CPU timings (optim_step)
    torch.set_flush_denormal(flush)  # process-wide: put back at the end (tests call main)
    try:
        return run(args)
    finally:
        torch.set_flush_denormal(False)


def run(args: argparse.Namespace) -> int:
    """The sections of the module docstring; 1 if a check failed."""
    start = time.perf_counter()
    numel = (1 << 20) if args.smoke else (1 << 28)
    bandwidth = optim_step.copy_bandwidth(numel, args.device)
    checks_deadline = start + (0.4 if not args.no_timing else 1.0) * args.budget
    checks = run_checks(args, checks_deadline)
    timing = [] if args.no_timing else run_timing(args, bandwidth, start + args.budget)
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    report = {
        "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "triton": triton_version,
        "python": platform.python_version(),
        "bandwidth_gbs": bandwidth / 1e9,
        "seconds": time.perf_counter() - start,
        "checks": checks,
        "timing": timing,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    table = markdown(report)
    (out / "gpu_check.md").write_text(table)
    print(table)
    failed = [r for r in checks if r["status"] != "ok" and not r["status"].startswith("skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
