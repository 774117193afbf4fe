"""100-step trajectories against the reference implementations, for every impl.

Each case draws random hyperparameters from its seed; shapes are a scalar, a
vector, a matrix, a conv kernel and a non-contiguous view (plus a complex
matrix where the reference supports complex). float64 must agree to 1e-10
relative, float32 to 1e-5.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest
import torch
from tests.optim.trajectory import assert_same, clone_params, make_grads, make_params, run

import lrkit.optim as lo
from lrkit.optim.fused_cpu import compiler_problem

adamp = pytest.importorskip("adamp")
lion_pytorch = pytest.importorskip("lion_pytorch")
schedulefree = pytest.importorskip("schedulefree")
timm_optim = pytest.importorskip("timm.optim")
torch_optimizer = pytest.importorskip("torch_optimizer")
pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
prodigyopt = pytest.importorskip("prodigyopt")
dadaptation = pytest.importorskip("dadaptation")

STEPS = 100


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    ours: type
    peer: Callable[..., Any]
    sample: Callable[[random.Random], dict[str, Any]]
    peer_names: dict[str, str | None] = dataclasses.field(
        default_factory=dict
    )  # ours -> peer (None: drop)
    peer_maximize: bool = True  # the peer takes `maximize`
    complex: bool = False
    contiguous: bool = False  # the peer reshapes with .view()
    orthogonal: int = 0
    schedule_free: bool = False
    dtypes: tuple[torch.dtype, ...] = (torch.float64, torch.float32)

    def __str__(self) -> str:
        return self.name


def _maybe(rng: random.Random, p: float, value: Any, default: Any) -> Any:
    return value if rng.random() < p else default


def _wd(rng: random.Random) -> float:
    return _maybe(rng, 0.7, rng.uniform(1e-3, 0.1), 0.0)


def _betas(rng: random.Random) -> tuple[float, float]:
    return (rng.uniform(0.5, 0.95), rng.uniform(0.9, 0.9999))


def _sgd(rng: random.Random) -> dict[str, Any]:
    momentum = _maybe(rng, 0.8, rng.uniform(0.1, 0.95), 0.0)
    nesterov = momentum > 0 and rng.random() < 0.5
    damp = 0.0 if nesterov else _maybe(rng, 0.3, rng.uniform(0, 0.5), 0.0)
    return dict(
        lr=rng.uniform(1e-3, 0.1),
        momentum=momentum,
        dampening=damp,
        weight_decay=_wd(rng),
        nesterov=nesterov,
    )


def _adam(rng: random.Random) -> dict[str, Any]:
    return dict(
        lr=rng.uniform(1e-4, 1e-2),
        betas=_betas(rng),
        eps=10 ** rng.uniform(-10, -6),
        weight_decay=_wd(rng),
        amsgrad=rng.random() < 0.5,
    )


def _lamb(rng: random.Random) -> dict[str, Any]:
    return dict(
        lr=rng.uniform(1e-4, 1e-2),
        betas=_betas(rng),
        eps=10 ** rng.uniform(-8, -5),
        weight_decay=_wd(rng),
        bias_correction=rng.random() < 0.8,
        grad_averaging=rng.random() < 0.8,
        max_grad_norm=rng.choice([None, 1.0, rng.uniform(0.5, 5.0)]),
        trust_clip=rng.random() < 0.5,
        always_adapt=rng.random() < 0.5,
        caution=rng.random() < 0.3,
        decoupled_decay=rng.random() < 0.4,
        corrected_weight_decay=rng.random() < 0.3,
    )


def _schedule_free(rng: random.Random) -> dict[str, Any]:
    return dict(
        warmup_steps=rng.choice([0, 5, 30]),
        r=rng.choice([0.0, 0.5]),
        weight_lr_power=rng.choice([0.0, 1.0, 2.0]),
        weight_decay=_wd(rng),
    )


CASES = [
    Case("sgd", lo.SGD, torch.optim.SGD, _sgd, complex=True),
    Case(
        "adagrad",
        lo.Adagrad,
        torch.optim.Adagrad,
        lambda r: dict(
            lr=r.uniform(1e-3, 0.1),
            lr_decay=_maybe(r, 0.5, r.uniform(0, 0.05), 0.0),
            weight_decay=_wd(r),
            initial_accumulator_value=_maybe(r, 0.5, r.uniform(0, 0.5), 0.0),
            eps=10 ** r.uniform(-10, -6),
        ),
        complex=True,
    ),
    Case(
        "rmsprop",
        lo.RMSprop,
        torch.optim.RMSprop,
        lambda r: dict(
            lr=r.uniform(1e-4, 1e-2),
            alpha=r.uniform(0.8, 0.999),
            eps=10 ** r.uniform(-10, -6),
            weight_decay=_wd(r),
            momentum=_maybe(r, 0.5, r.uniform(0.1, 0.9), 0.0),
            centered=r.random() < 0.5,
        ),
        complex=True,
    ),
    Case(
        "adam",
        lo.Adam,
        torch.optim.Adam,
        lambda r: {**_adam(r), "decoupled_weight_decay": r.random() < 0.3},
        complex=True,
    ),
    Case("adamw", lo.AdamW, torch.optim.AdamW, _adam, complex=True),
    Case(
        "radam",
        lo.RAdam,
        torch.optim.RAdam,
        lambda r: {**_adam(r), "amsgrad": None, "decoupled_weight_decay": r.random() < 0.5},
        peer_names={"amsgrad": None},
    ),
    Case(
        "radam_official",
        lo.RAdam,
        torch_optimizer.RAdam,
        lambda r: {**_adam(r), "amsgrad": None, "variant": "official"},
        peer_names={"amsgrad": None, "variant": None},
        peer_maximize=False,
        dtypes=(torch.float32,),  # it computes in float32 whatever the param dtype
    ),
    Case(
        "radam_official_pytorch_optimizer",
        lo.RAdam,
        pytorch_optimizer.RAdam,
        lambda r: {**_adam(r), "amsgrad": None, "variant": "official", "degenerated_to_sgd": True},
        peer_names={"amsgrad": None, "variant": None},
    ),
    Case(
        "radam_official_timm",
        lo.RAdam,
        timm_optim.RAdamLegacy,
        lambda r: {**_adam(r), "amsgrad": None, "variant": "official"},
        peer_names={"amsgrad": None, "variant": None},
        peer_maximize=False,
        dtypes=(torch.float32,),  # it computes in float32 whatever the param dtype
    ),
    Case(
        "radam_official_no_sgd",
        lo.RAdam,
        pytorch_optimizer.RAdam,
        lambda r: {**_adam(r), "amsgrad": None, "variant": "official", "degenerated_to_sgd": False},
        peer_names={"amsgrad": None, "variant": None},
    ),
    Case(
        "adamp",
        lo.AdamP,
        adamp.AdamP,
        lambda r: {
            **_adam(r),
            "amsgrad": None,
            "delta": r.uniform(0.05, 0.2),
            "wd_ratio": r.uniform(0.05, 0.5),
            "nesterov": r.random() < 0.5,
        },
        peer_names={"amsgrad": None},
        peer_maximize=False,
        contiguous=True,
        orthogonal=3,
    ),
    Case(
        "sgdp",
        lo.SGDP,
        adamp.SGDP,
        lambda r: {
            **_sgd(r),
            "eps": 10 ** r.uniform(-10, -6),
            "delta": r.uniform(0.05, 0.2),
            "wd_ratio": r.uniform(0.05, 0.5),
        },
        peer_maximize=False,
        contiguous=True,
        orthogonal=3,
    ),
    Case(
        "lion",
        lo.Lion,
        lion_pytorch.Lion,
        lambda r: dict(
            lr=r.uniform(1e-5, 1e-3),
            betas=(r.uniform(0.8, 0.95), r.uniform(0.95, 0.999)),
            weight_decay=_maybe(r, 0.7, r.uniform(0.01, 1.0), 0.0),
            decoupled_weight_decay=r.random() < 0.3,
        ),
        peer_maximize=False,
    ),
    Case("lamb", lo.Lamb, timm_optim.Lamb, _lamb, peer_maximize=False),
    Case(
        "nadam",
        lo.NAdam,
        torch.optim.NAdam,
        lambda r: dict(
            lr=r.uniform(1e-4, 1e-2),
            betas=_betas(r),
            eps=10 ** r.uniform(-10, -6),
            weight_decay=_wd(r),
            momentum_decay=r.choice([4e-3, r.uniform(0.0, 0.05)]),
            decoupled_weight_decay=r.random() < 0.5,
        ),
        complex=True,
    ),
    Case(
        "prodigy",
        lo.Prodigy,
        prodigyopt.Prodigy,
        lambda r: dict(
            lr=r.choice([1.0, r.uniform(0.1, 2.0)]),
            betas=(r.choice([0.0, 0.9, r.uniform(0.5, 0.95)]), r.uniform(0.9, 0.9999)),
            beta3=r.choice([None, r.uniform(0.9, 0.999)]),
            eps=10 ** r.uniform(-10, -6),
            weight_decay=_wd(r),
            decouple=r.random() < 0.6,
            use_bias_correction=r.random() < 0.4,
            safeguard_warmup=r.random() < 0.4,
            d0=10 ** r.uniform(-7, -3),
            d_coef=r.choice([1.0, r.uniform(0.5, 2.0)]),
            growth_rate=r.choice([float("inf"), 1.02]),
            slice_p=r.choice([1, 1, 3]),
        ),
        peer_maximize=False,
    ),
    Case(
        "dadapt_adam",
        lo.DAdaptAdam,
        dadaptation.DAdaptAdam,
        lambda r: dict(
            lr=r.choice([1.0, r.uniform(0.1, 2.0)]),
            betas=(r.uniform(0.5, 0.95), r.uniform(0.9, 0.9999)),
            eps=10 ** r.uniform(-10, -6),
            weight_decay=_wd(r),
            decouple=r.random() < 0.5,
            use_bias_correction=r.random() < 0.4,
            d0=10 ** r.uniform(-7, -3),
            growth_rate=r.choice([float("inf"), 1.02]),
        ),
        peer_maximize=False,
    ),
    Case(
        "dadapt_sgd",
        lo.DAdaptSGD,
        dadaptation.DAdaptSGD,
        lambda r: dict(
            lr=r.choice([1.0, r.uniform(0.1, 2.0)]),
            momentum=r.choice([0.0, 0.9, r.uniform(0.0, 0.95)]),
            weight_decay=_wd(r),
            d0=10 ** r.uniform(-7, -3),
            growth_rate=r.choice([float("inf"), 1.02]),
        ),
        peer_maximize=False,
    ),
    Case(
        "adafactor",
        lo.Adafactor,
        torch.optim.Adafactor,
        lambda r: dict(
            lr=r.choice([1e-2, r.uniform(1e-3, 0.1)]),
            beta2_decay=r.uniform(-1.0, -0.5),
            eps=(r.choice([None, 1e-30, 1e-20]), r.choice([1e-3, 1e-4])),
            d=r.choice([1.0, 1.5]),
            weight_decay=_wd(r),
        ),
    ),
    Case(
        "adamw_schedulefree",
        lo.AdamWScheduleFree,
        schedulefree.AdamWScheduleFree,
        lambda r: {
            **_schedule_free(r),
            "lr": r.uniform(1e-3, 1e-2),
            "betas": _betas(r),
            "eps": 10 ** r.uniform(-10, -6),
        },
        peer_maximize=False,
        schedule_free=True,
    ),
    Case(
        "sgd_schedulefree",
        lo.SGDScheduleFree,
        schedulefree.SGDScheduleFree,
        lambda r: {
            **_schedule_free(r),
            "lr": r.uniform(1e-3, 1e-1),
            "momentum": r.uniform(0.5, 0.95),
        },
        peer_maximize=False,
        schedule_free=True,
    ),
]


def _peer_kwargs(case: Case, kw: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in kw.items():
        name = case.peer_names.get(key, key)
        if name is not None and (value is not None or key == "max_grad_norm"):
            out[name] = value
    return out


def _train_eval(opt: Any, t: int) -> None:
    """Schedule-free: eval() and train() around some steps, as a training loop does."""
    if t % 7 == 3:
        opt.eval()
        opt.eval()  # idempotent
    opt.train()


def compare(case: Case, seed: int, dtype: torch.dtype, impl: str) -> None:
    rng = random.Random(f"{case.name}-{seed}")
    kw = {k: v for k, v in case.sample(rng).items() if v is not None or k == "max_grad_norm"}
    maximize = rng.random() < 0.3
    clip = rng.choice([None, rng.uniform(0.5, 3.0)]) if "max_grad_norm" not in kw else None
    params = make_params(seed, dtype, complex_too=case.complex)
    if case.contiguous:
        params = [p.detach().contiguous().requires_grad_() for p in params]
    grads = make_grads(seed, params, STEPS, orthogonal_every=case.orthogonal)
    every = _train_eval if case.schedule_free else None
    ours = run(
        lambda ps: case.ours(
            ps,
            **kw,
            maximize=maximize,
            impl=impl,
            **({} if clip is None else {"max_grad_norm": clip}),
        ),
        clone_params(params),
        grads,
        every=every,
    )
    peer_kw = _peer_kwargs(case, kw)
    if maximize and case.peer_maximize:
        peer_kw["maximize"] = True
    want = run(
        lambda ps: case.peer(ps, **peer_kw),
        clone_params(params),
        grads,
        negate=maximize and not case.peer_maximize,
        clip=clip,
        every=every,
    )
    assert_same(ours, want, dtype)


@pytest.mark.parametrize("impl", ["reference", "foreach", "auto"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_reference_implementation(case: Case, seed: int, impl: str) -> None:
    for dtype in case.dtypes:
        compare(case, seed, dtype, impl)


FUSED_CASES = [c for c in CASES if c.ours.fused_on("cpu")]


@pytest.mark.skipif(compiler_problem() is not None, reason=f"fused CPU: {compiler_problem()}")
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", FUSED_CASES, ids=str)
def test_fused_matches_reference_implementation(case: Case, seed: int) -> None:
    """impl="fused": lrkit's CPU kernels (AdamP, SGDP, Lamb) or torch's fused ones."""
    for dtype in case.dtypes:
        compare(case, seed, dtype, "fused")
