"""Time of one optimizer step on ResNet-50's parameter shapes, lrkit against its peers.

Muon, which takes 2-D weights only, is timed on the hidden matrices of a small
Transformer instead (``transformer_matrices``), where its Newton-Schulz matmuls
make it compute-bound, so its "x floor" says little.

    python benchmarks/optim_step.py                      # every algorithm, CPU
    python benchmarks/optim_step.py --only adamp lamb --steps 5 --repeat 3
    python benchmarks/optim_step.py --device cuda --only adamp sgdp lamb

For each algorithm the table prints, per implementation, the median time of
one step (the implementations timed in turns, round after round, so that a
machine's drift falls on all alike), its ratio to the fastest peer measured in
the same run ("x best peer", of the medians; "paired": the median of the
ratios round by round, steadier where the machine's speed drifts between
rounds), and its ratio to the bytes-moved floor: the minimal bytes per
parameter (each input read once, each output written once; ``FLOOR_BYTES``)
times the parameter count, divided by the in-place streaming bandwidth
measured at the start of the run (``copy_bandwidth``). Peers that are not installed are skipped.
Gradients are random, so AdamP's and SGDP's projection (which costs the
peers more) rarely triggers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from lrkit.optim.base import REGISTRY

# minimal bytes moved per fp32 parameter (see docs/optimizers.md)
FLOOR_BYTES = {
    "sgd": 20,
    "adagrad": 20,
    "rmsprop": 20,
    "lion": 20,
    "adam": 28,
    "adamw": 28,
    "radam": 28,
    "adamw_schedulefree": 28,
    "sgd_schedulefree": 20,
    "adamp": 40,
    "lamb": 40,
    "sgdp": 32,
    "nadam": 28,
    "adafactor": 12,  # p read+write, g; the factored moments are small
    "prodigy": 40,  # Adam's 28, s read+write, p0 read
    "dadapt_adam": 36,  # Adam's 28, s read+write
    "dadapt_sgd": 28,  # p read+write, g, s read+write, x0 read, z write
    "muon": 20,  # p read+write, g, momentum read+write (plus the Newton-Schulz matmuls)
}

Factory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


def resnet50_shapes() -> list[tuple[int, ...]]:
    """The parameter shapes of torchvision's ResNet-50 (161 tensors, 25.6M values)."""
    try:
        from torchvision.models import resnet50

        return [tuple(p.shape) for p in resnet50().parameters()]
    except ImportError:  # the same shapes, built by hand
        shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
        cin = 64
        for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
            for b in range(blocks):
                out = width * 4
                shapes += [(width, cin, 1, 1), (width,), (width,)]
                shapes += [(width, width, 3, 3), (width,), (width,)]
                shapes += [(out, width, 1, 1), (out,), (out,)]
                if b == 0:
                    shapes += [(out, cin, 1, 1), (out,), (out,)]
                cin = out
        return [*shapes, (1000, 2048), (1000,)]


def transformer_matrices(width: int = 512, layers: int = 4) -> list[tuple[int, ...]]:
    """The hidden 2-D weights of a pre-LN Transformer: per layer the fused q/k/v
    projection, the output projection and the two MLP matrices (what Muon trains)."""
    return [(3 * width, width), (width, width), (4 * width, width), (width, 4 * width)] * layers


SHAPES: dict[str, Callable[[], list[tuple[int, ...]]]] = {"muon": transformer_matrices}


def _peer(module: str, attr: str, **kw: Any) -> Factory | None:
    """``module.attr(params, **kw)``, or None where the package is not installed."""
    import importlib

    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None
    return lambda ps: cls(ps, **kw)  # type: ignore[no-any-return]


HYPER: dict[str, dict[str, Any]] = {
    "sgd": dict(lr=0.1, momentum=0.9, weight_decay=1e-4),
    "adagrad": dict(lr=0.01, weight_decay=1e-4),
    "rmsprop": dict(lr=0.01, momentum=0.9, weight_decay=1e-4),
    "adam": dict(lr=1e-3, weight_decay=1e-4),
    "adamw": dict(lr=1e-3, weight_decay=0.05),
    "radam": dict(lr=1e-3, weight_decay=1e-4),
    "adamp": dict(lr=1e-3, weight_decay=1e-2),
    "sgdp": dict(lr=0.1, momentum=0.9, weight_decay=1e-4),
    "lion": dict(lr=1e-4, weight_decay=1e-2),
    "lamb": dict(lr=1e-3, weight_decay=1e-2),
    "adamw_schedulefree": dict(lr=2.5e-3, weight_decay=1e-2),
    "sgd_schedulefree": dict(lr=1.0, momentum=0.9, weight_decay=1e-4),
    "nadam": dict(lr=2e-3, weight_decay=1e-4),
    "adafactor": dict(lr=1e-2, weight_decay=1e-4),
    "prodigy": dict(lr=1.0, weight_decay=1e-2),
    "dadapt_adam": dict(lr=1.0, weight_decay=1e-2, decouple=True),
    "dadapt_sgd": dict(lr=1.0, momentum=0.9, weight_decay=1e-4),
    "muon": dict(lr=0.02, weight_decay=0.1, momentum=0.95),
}
TORCH = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam"}
TORCH |= {"adamw": "AdamW", "radam": "RAdam", "nadam": "NAdam", "adafactor": "Adafactor"}
SINGLE = {"muon": "Muon"}  # torch classes with one implementation (no foreach/fused)
ADAMP_PEERS = ("adamp", "timm.optim", "pytorch_optimizer", "torch_optimizer")
PEERS = {  # algorithm -> [(label, module, class)]
    "adamp": [(m, m, "AdamP") for m in ADAMP_PEERS],
    "sgdp": [(m, m, "SGDP") for m in ADAMP_PEERS],
    "lion": [
        ("lion-pytorch", "lion_pytorch", "Lion"),
        ("timm", "timm.optim", "Lion"),
        ("pytorch_optimizer", "pytorch_optimizer", "Lion"),
    ],
    "lamb": [("timm", "timm.optim", "Lamb")],
    "prodigy": [("prodigyopt", "prodigyopt", "Prodigy")],
    "dadapt_adam": [("dadaptation", "dadaptation", "DAdaptAdam")],
    "dadapt_sgd": [("dadaptation", "dadaptation", "DAdaptSGD")],
}


def candidates(
    name: str, device: str = "cpu"
) -> tuple[dict[str, Factory], dict[str, Factory | None]]:
    """(lrkit implementations, peers) for one algorithm, with matching hyperparameters."""
    k = HYPER[name]
    cls = REGISTRY[name].cls
    impls = ["auto", "foreach"]
    if cls.fused_kernels and cls.fused_on(device):  # lrkit's kernels; C++ built on first use
        impls.append("fused")
    ours: dict[str, Factory] = {
        f"lrkit {impl}": (lambda ps, impl=impl: cls(ps, **k, impl=impl)) for impl in impls
    }
    peers: dict[str, Factory | None] = {}
    if name in TORCH:
        peers["torch for-loop"] = _peer("torch.optim", TORCH[name], **k, foreach=False)
        peers["torch foreach"] = _peer("torch.optim", TORCH[name], **k, foreach=True)
        if name in ("sgd", "adagrad", "adam", "adamw"):
            peers["torch fused"] = _peer("torch.optim", TORCH[name], **k, fused=True)
    if name in SINGLE:
        peers["torch"] = _peer("torch.optim", SINGLE[name], **k)
    for label, module, attr in PEERS.get(name, []):
        peers[label] = _peer(module, attr, **k)
    if name in ("adamw_schedulefree", "sgd_schedulefree"):
        attr = "AdamWScheduleFree" if name == "adamw_schedulefree" else "SGDScheduleFree"
        for fe in (True, False):
            peers[f"schedulefree foreach={fe}"] = _peer("schedulefree", attr, **k, foreach=fe)
    return ours, peers


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def copy_bandwidth(numel: int, device: str = "cpu", repeat: int = 5) -> float:
    """Bytes per second of the fastest in-place streaming op on ``numel`` floats, using all
    of torch's threads: ``a.mul_(k)`` (8 B per float) or ``a.add_(b)`` (12 B).

    In place, as an optimizer step is: ``dst.copy_(src)`` into another buffer also
    reads ``dst`` before writing it (write-allocate), so counting 8 B for it measured
    2/3 of the real bandwidth and torch's fused Adam came out "0.8x floor".
    """
    a, b = (torch.randn(numel, device=device) for _ in range(2))
    rates = []
    for nbytes, op in ((8, lambda: a.mul_(1.0000001)), (12, lambda: a.add_(b))):
        best = float("inf")
        for _ in range(repeat):
            sync(device)
            t0 = time.perf_counter()
            op()
            sync(device)
            best = min(best, time.perf_counter() - t0)
        rates.append(nbytes * numel / best)
    return max(rates)


def ready(make: Factory, shapes: list[tuple[int, ...]], device: str = "cpu") -> Any:
    """``make`` on seeded params and grads of ``shapes``, warmed up by two steps."""
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen).to(device).requires_grad_() for s in shapes]
    for p in params:
        p.grad = (torch.randn(p.shape, generator=gen) * 1e-2).to(device)
    return warmed(make(params))


def warmed(opt: Any) -> Any:
    """``opt`` in train mode (schedule-free), after two steps."""
    train = getattr(opt, "train", None)
    if callable(train):
        train()
    for _ in range(2):
        opt.step()
    return opt


def time_steps(
    makers: dict[str, Factory],
    shapes: list[tuple[int, ...]],
    steps: int,
    repeat: int,
    device: str = "cpu",
) -> dict[str, list[float]]:
    """The time of one step of each of ``makers`` in each round (:func:`time_rounds`)."""
    opts = {name: ready(make, shapes, device) for name, make in makers.items()}
    return time_rounds(opts, steps, repeat, device)


def time_ready(
    opts: dict[str, Any], steps: int, repeat: int, device: str = "cpu"
) -> dict[str, float]:
    """The median time of one step of each of ``opts`` (:func:`time_rounds`)."""
    rounds = time_rounds(opts, steps, repeat, device)
    return {name: statistics.median(ts) for name, ts in rounds.items()}


def paired_ratio(rounds: dict[str, list[float]], name: str, peer: str) -> float:
    """The median over rounds of ``name``'s time over ``peer``'s in the same round: on a
    machine whose speed drifts between rounds (a shared VM), steadier than the ratio of
    the two medians."""
    return statistics.median(a / b for a, b in zip(rounds[name], rounds[peer], strict=True))


def time_rounds(
    opts: dict[str, Any], steps: int, repeat: int, device: str = "cpu"
) -> dict[str, list[float]]:
    """The time of one step of each of ``opts`` (made and warmed up) in each of ``repeat``
    rounds, interleaved: every round times each optimizer once (in a rotating order), so
    that a machine's drift over the run falls on all of them alike instead of on
    whichever ran last."""
    times: dict[str, list[float]] = {name: [] for name in opts}
    names = list(opts)
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                opts[name].step()
            sync(device)
            times[name].append((time.perf_counter() - t0) / steps)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=sorted(FLOOR_BYTES), help="algorithms to time")
    parser.add_argument("--steps", type=int, default=5, help="steps per timing")
    parser.add_argument("--repeat", type=int, default=3, help="timings per implementation (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to time")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    shapes = resnet50_shapes()
    numel = sum(torch.Size(s).numel() for s in shapes)
    bandwidth = copy_bandwidth(numel, args.device)
    where = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"{torch.get_num_threads()} threads"
    )
    print(
        f"torch {torch.__version__}, {where}; ResNet-50 shapes: "
        f"{len(shapes)} tensors, {numel / 1e6:.1f}M params; "
        f"stream bandwidth {bandwidth / 1e9:.1f} GB/s"
    )
    print(
        f"{'algorithm':20} {'implementation':28} {'ms/step':>9} {'x best peer':>12} "
        f"{'paired':>7} {'x floor':>8}"
    )
    for name in args.only:
        ours, peers = candidates(name, args.device)
        own = SHAPES[name]() if name in SHAPES else shapes
        floor = FLOOR_BYTES[name] * sum(torch.Size(s).numel() for s in own) / bandwidth
        makers = {**ours, **{n: m for n, m in peers.items() if m}}
        rounds = time_steps(makers, own, args.steps, args.repeat, args.device)
        rows = {n: statistics.median(ts) for n, ts in rounds.items()}
        peer_rows = {n: t for n, t in rows.items() if n not in ours}
        best_peer = min(peer_rows, key=peer_rows.__getitem__) if peer_rows else None
        best = peer_rows[best_peer] if best_peer else float("nan")
        for impl, t in rows.items():
            paired = paired_ratio(rounds, impl, best_peer) if best_peer else float("nan")
            print(
                f"{name:20} {impl:28} {t * 1e3:9.1f} {t / best:12.2f} {paired:7.2f} "
                f"{t / floor:8.1f}"
            )


if __name__ == "__main__":
    main()
