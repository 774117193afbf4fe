"""``create_optimizer``: decay / no-decay groups, layer-wise lr decay, per-group scales."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from torch import Tensor

from lrkit.optim.base import Optimizer, lookup
from lrkit.optim.hyper import LR, NONNEG, POSITIVE
from lrkit.schedules.params import Param, normalize


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """An optimizer spec: ``"sgd(momentum=0.9)"`` -> ``("sgd", {"momentum": 0.9})``.

    The name must be registered (:func:`list_optimizers`); arguments are
    keyword literals, passed on to the constructor.

    >>> parse_spec("adamw(betas=(0.9, 0.95), weight_decay=0.1)")
    ('adamw', {'betas': (0.9, 0.95), 'weight_decay': 0.1})
    """
    try:
        node = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(
            f"malformed optimizer spec {spec!r}: {exc.msg} (column {exc.offset})"
        ) from exc
    call = node if isinstance(node, ast.Call) else None
    target = call.func if call else node
    if not isinstance(target, ast.Name) or (call and call.args):
        raise ValueError(
            f"malformed optimizer spec {spec!r}: expected name or name(key=value, ...), "
            "e.g. 'sgd(momentum=0.9)'"
        )
    kwargs: dict[str, Any] = {}
    for kw in call.keywords if call else ():
        try:
            kwargs[str(kw.arg)] = ast.literal_eval(kw.value)
        except ValueError as exc:
            raise ValueError(f"optimizer spec {spec!r}: `{kw.arg}` must be a literal") from exc
    lookup(target.id)  # unknown names raise with a suggestion
    return target.id, kwargs


def layer_key(name: str) -> str:
    """The layer a parameter belongs to: its first name component, with the
    index when that component is a container (``blocks.3.attn.qkv.weight`` ->
    ``blocks.3``, ``head.weight`` -> ``head``)."""
    parts = name.split(".")
    if len(parts) > 2 and re.fullmatch(r"\d+", parts[1]):
        return ".".join(parts[:2])
    return parts[0]


def create_optimizer(
    model_or_params: Any,
    name: str = "adamw",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    layer_decay: float | None = None,
    *,
    no_weight_decay: Iterable[str] = (),
    decay_1d: bool = False,
    **kwargs: Any,
) -> Optimizer:
    """Build the optimizer ``name`` (see :func:`list_optimizers`) with the usual groups.

    Given a model (anything with ``named_parameters``), parameters that do not
    require grad are left out, and those with one dimension or fewer (biases,
    norm scales) or whose name is in ``no_weight_decay`` get ``weight_decay=0``
    unless ``decay_1d``. ``layer_decay`` in (0, 1] scales each layer's lr by
    ``layer_decay ** (L - 1 - i)``, ``i`` the layer's index among the ``L``
    layers in registration order (:func:`layer_key`), so the last layer (the
    head) keeps ``lr`` and the first (the embedding) gets the smallest lr. The
    scale is written into each group's ``lr`` (and kept as ``layer_scale``),
    so it takes effect with or without a scheduler.

    Given parameters or param-group dicts instead, the groups are kept; a
    group's ``lr_scale`` multiplies its lr (timm's key). ``kwargs`` go to the
    optimizer's constructor (``betas``, ``momentum``, ``impl``, ...).

    Example::

        opt = create_optimizer(model, "adamw", lr=3e-4, weight_decay=0.05, layer_decay=0.75)
    """
    info = lookup(name)
    lr = normalize("create_optimizer", "lr", LR, lr)
    weight_decay = normalize("create_optimizer", "weight_decay", NONNEG, weight_decay)
    if layer_decay is not None:
        layer_decay = normalize(
            "create_optimizer",
            "layer_decay",
            Param("float", lo=0.0, lo_open=True, hi=1.0),
            layer_decay,
        )
    named = getattr(model_or_params, "named_parameters", None)
    if callable(named):
        groups = _model_groups(
            list(named()), lr, weight_decay, layer_decay, set(no_weight_decay), decay_1d
        )
    else:
        if layer_decay is not None:
            raise ValueError(
                "create_optimizer: `layer_decay` needs a model (with named_parameters), "
                "got parameters"
            )
        groups = _given_groups(model_or_params, lr)
    return info.cls(groups, lr=lr, weight_decay=weight_decay, **kwargs)


def _model_groups(
    named: list[tuple[str, Tensor]],
    lr: float,
    weight_decay: float,
    layer_decay: float | None,
    no_weight_decay: set[str],
    decay_1d: bool,
) -> list[dict[str, Any]]:
    named = [(n, p) for n, p in named if p.requires_grad]
    if not named:
        raise ValueError("create_optimizer: the model has no parameters that require grad")
    layers = list(dict.fromkeys(layer_key(n) for n, _ in named))
    groups: dict[tuple[str, bool], dict[str, Any]] = {}
    for n, p in named:
        decay = n not in no_weight_decay and (decay_1d or p.ndim > 1)
        layer = layer_key(n) if layer_decay is not None else ""
        group = groups.get((layer, decay))
        if group is None:
            scale = (
                1.0
                if layer_decay is None
                else layer_decay ** (len(layers) - 1 - layers.index(layer))
            )
            group = {"params": [], "weight_decay": weight_decay if decay else 0.0, "lr": lr * scale}
            if layer_decay is not None:
                group["layer_scale"] = scale
            groups[(layer, decay)] = group
        group["params"].append(p)
    return list(groups.values())


def _given_groups(params: Any, lr: float) -> list[Any]:
    if isinstance(params, Tensor):
        params = [params]
    items = list(params)
    if items and all(isinstance(g, dict) for g in items):
        out = []
        for given in items:
            g = dict(given)
            if "lr_scale" in g:
                scale = normalize("create_optimizer", "lr_scale", POSITIVE, g["lr_scale"])
                g["lr"] = g.get("lr", lr) * scale
            out.append(g)
        return out
    if any(isinstance(g, dict) for g in items):
        raise TypeError("create_optimizer: `model_or_params` mixes param-group dicts and tensors")
    return items


__all__ = ["create_optimizer", "layer_key"]
