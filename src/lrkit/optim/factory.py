"""``create_optimizer``: decay / no-decay groups, layer-wise lr decay, per-group scales.

Note [layer decay]
~~~~~~~~~~~~~~~~~~
Layer-wise lr decay needs each parameter's depth. lrkit takes it, in this
order, from ``layer_of`` (a function of the parameter name returning its
layer index, or a list of regular expressions from the input side to the
output side: a parameter's layer is the first that matches, unmatched ones are
last); from a timm model's ``group_matcher`` (timm's own grouping, so the
groups equal ``timm.optim.param_groups_layer_decay``'s: the stem --
``cls_token``, ``pos_embed``, ``patch_embed`` -- is layer 0, block ``i`` is
``i + 1``, the final norm and the head come last); else from the first
numbered component of the name (``bert.encoder.layer.3.`` is layer 4, as Hugging
Face models number their blocks): parameters registered before the first
numbered block (the embeddings) are layer 0, those after the last (the
pooler, the classifier) the top layer. A model without numbered blocks has a
layer per top-level module.

Note [muon split]
~~~~~~~~~~~~~~~~~
``create_optimizer(model, "muon")`` gives Muon the hidden 2-D weights and
AdamW (Note [muon groups] in ``muon.py``) everything else, as Muon's users do
by hand: the weights of ``nn.Embedding`` modules, the output layer (the last
``nn.Linear`` module the model registers, or the one a module named ``head``,
``lm_head``, ``classifier`` or ``fc`` at the top level holds), and every
parameter that is not 2-D (biases, norm gains, conv kernels: torch's Muon
takes matrices only). ``adamw_names`` (names or fnmatch patterns) sends more
to AdamW. Given bare parameters instead of a model, 2-D ones go to Muon.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from torch import Tensor

from lrkit.optim.base import Optimizer, lookup
from lrkit.optim.hyper import LR, NONNEG, POSITIVE
from lrkit.spec import Call, SpecError, Word, plain, read
from lrkit.validation import Param, normalize


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """An optimizer spec: ``"sgd(momentum=0.9)"`` -> ``("sgd", {"momentum": 0.9})``.

    lrkit's one call syntax (:mod:`lrkit.spec`, as schedule specs): the name
    must be registered (:func:`list_optimizers`); arguments are keywords whose
    values are numbers, ``true``/``false``, ``none``, lists or tuples and
    strings (a bare word only for an argument that takes a word,
    ``momentum_form=classical``); they are passed on to the constructor.

    >>> parse_spec("adamw(betas=(0.9, 0.95), weight_decay=0.1)")
    ('adamw', {'betas': (0.9, 0.95), 'weight_decay': 0.1})
    >>> parse_spec("sgd(momentum=0.9, nesterov=true)")
    ('sgd', {'momentum': 0.9, 'nesterov': True})
    """
    if not isinstance(spec, str):
        raise TypeError(f"an optimizer spec must be a string, got {type(spec).__name__}")
    try:
        value = read(spec, what="optimizer")
    except SpecError as exc:
        raise ValueError(f"malformed optimizer spec {spec!r}: {_SHAPE}; {exc}") from None
    if isinstance(value, Word):
        lookup(value)  # unknown names raise with a suggestion
        return str(value), {}
    if not isinstance(value, Call) or any(arg.key is None for arg in value.args):
        raise ValueError(f"malformed optimizer spec {spec!r}: {_SHAPE}")
    info = lookup(value.name)
    try:
        kwargs = value.keywords(f"optimizer spec {spec!r}", spec)
    except SpecError as exc:
        raise ValueError(str(exc)) from None
    declared = getattr(info.cls, "hyper", {})
    for key, arg in kwargs.items():
        if _has(arg, Call) or (_has(arg, Word) and key in declared and declared[key].kind != "str"):
            raise ValueError(
                f"optimizer spec {spec!r}: `{key}` must be a literal (a number, true/false, "
                "none, a list or a quoted string)"
            )
    return value.name, {k: plain(v) for k, v in kwargs.items()}


_SHAPE = "expected name or name(key=value, ...), e.g. 'sgd(momentum=0.9)'"


def _has(value: Any, kind: type) -> bool:
    """Whether ``value`` is, or a list/tuple in it holds, a ``kind``."""
    if isinstance(value, (list, tuple)):
        return any(_has(v, kind) for v in value)
    return isinstance(value, kind)


def layer_key(name: str) -> str:
    """The first name component, with the index when that component is a container
    (``blocks.3.attn.qkv.weight`` -> ``blocks.3``, ``head.weight`` -> ``head``)."""
    parts = name.split(".")
    if len(parts) > 2 and re.fullmatch(r"\d+", parts[1]):
        return ".".join(parts[:2])
    return parts[0]


LayerOf = Callable[[str], int] | Sequence[str]


def layer_ids(model: Any, layer_of: LayerOf | None = None) -> dict[str, int]:
    """Note [layer decay]: each trainable parameter's layer index, 0 nearest the input."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if layer_of is not None:
        return _user_layers(names, layer_of)
    matcher = getattr(model, "group_matcher", None)
    if callable(matcher):  # a timm model: timm's own grouping
        from timm.models import group_parameters

        found: dict[str, int] = group_parameters(model, matcher(coarse=False), reverse=True)
        return {n: found[n] for n in names if n in found}
    return _indexed_layers(names)


def _indexed_layers(names: list[str]) -> dict[str, int]:
    """The index of the first numbered component plus one (``...layer.3.`` -> 4); names
    registered before every numbered one (embeddings) 0, after them (norm, head) last."""
    index = {n: int(m.group(1)) + 1 for n in names if (m := re.search(r"\.(\d+)\.", "." + n))}
    if not index:  # no numbered blocks: each top-level module is a layer, in order
        order = list(dict.fromkeys(layer_key(n) for n in names))
        return {n: order.index(layer_key(n)) for n in names}
    first = min(i for i, n in enumerate(names) if n in index)
    last = max(index.values()) + 1
    return {n: index.get(n, 0 if i < first else last) for i, n in enumerate(names)}


def _user_layers(names: list[str], layer_of: LayerOf) -> dict[str, int]:
    if callable(layer_of):
        out = {}
        for n in names:
            layer = layer_of(n)
            if isinstance(layer, bool) or not isinstance(layer, int) or layer < 0:
                raise TypeError(
                    f"create_optimizer: `layer_of({n!r})` must return a layer index >= 0, "
                    f"got {layer!r}"
                )
            out[n] = layer
        return out
    if isinstance(layer_of, str) or not all(isinstance(p, str) for p in layer_of):
        raise TypeError(
            "create_optimizer: `layer_of` must be a function of the parameter name or a list "
            f"of regular expressions, got {layer_of!r}"
        )
    patterns = [re.compile(p) for p in layer_of]
    return {
        n: next((i for i, p in enumerate(patterns) if p.search(n)), len(patterns)) for n in names
    }


def create_optimizer(
    model_or_params: Any,
    name: str = "adamw",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    layer_decay: float | None = None,
    *,
    no_weight_decay: str | Iterable[str] = (),
    decay_1d: bool = False,
    layer_of: LayerOf | None = None,
    **kwargs: Any,
) -> Optimizer:
    """Build the optimizer ``name`` (see :func:`list_optimizers`) with the usual groups.

    Given a model (anything with ``named_parameters``), parameters that do not
    require grad are left out, and these get ``weight_decay=0``: those with one
    dimension or fewer (biases, norm scales) unless ``decay_1d``, those the
    model's ``no_weight_decay()`` names (timm's models: position embeddings,
    class tokens), and those matching ``no_weight_decay`` (names or
    ``fnmatch`` patterns such as ``"*.bias"``; one string is one name).
    ``layer_decay`` in (0, 1] scales each layer's lr by
    ``layer_decay ** (L - 1 - i)`` (Note [layer decay]), so the last layer (the
    head) keeps ``lr`` and the first (the embeddings) gets the smallest. The
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
    exempt = _exempt_names(no_weight_decay)
    named = getattr(model_or_params, "named_parameters", None)
    muon = info.name == "muon"
    muon_options = _muon_options(kwargs) if muon else {}
    if callable(named):
        own = getattr(model_or_params, "no_weight_decay", None)
        if callable(own):
            exempt |= set(own())
        layers = layer_ids(model_or_params, layer_of) if layer_decay is not None else None
        groups = _model_groups(
            list(named()), lr, weight_decay, layer_decay, layers, exempt, decay_1d
        )
        if muon:
            aside = _adamw_params(model_or_params, muon_options.pop("adamw_names"))
            groups = _muon_groups(groups, aside, muon_options)
    else:
        if layer_decay is not None or layer_of is not None:
            raise ValueError(
                "create_optimizer: `layer_decay` and `layer_of` need a model (with "
                "named_parameters), got parameters"
            )
        groups = _given_groups(model_or_params, lr)
        if muon:
            muon_options.pop("adamw_names")
            groups = _muon_groups(_as_groups(groups), set(), muon_options)
    return info.cls(groups, lr=lr, weight_decay=weight_decay, **kwargs)


MUON_ADAMW = {"adamw_lr": 3e-4, "adamw_betas": (0.9, 0.95), "adamw_eps": 1e-8,
              "adamw_weight_decay": None, "adamw_names": ()}  # fmt: skip


def _muon_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The AdamW side of Note [muon split], taken out of ``kwargs``."""
    out = {k: kwargs.pop(k, v) for k, v in MUON_ADAMW.items()}
    out["adamw_lr"] = normalize("create_optimizer", "adamw_lr", LR, out["adamw_lr"])
    if out["adamw_weight_decay"] is not None:
        out["adamw_weight_decay"] = normalize(
            "create_optimizer", "adamw_weight_decay", NONNEG, out["adamw_weight_decay"]
        )
    out["adamw_names"] = _exempt_names(out["adamw_names"])
    return out


def _adamw_params(model: Any, patterns: set[str]) -> set[int]:
    """Note [muon split]: the ids of the parameters AdamW trains besides the non-2-D ones."""
    from torch import nn

    out: set[int] = set()
    linears: list[nn.Module] = []
    head = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Embedding):
            out |= {id(p) for p in module.parameters(recurse=False)}
        if isinstance(module, nn.Linear):
            linears.append(module)
            if name in ("head", "lm_head", "classifier", "fc"):
                head = module
    output = head if head is not None else (linears[-1] if linears else None)
    if output is not None:
        out |= {id(p) for p in output.parameters(recurse=False)}
    for name, p in model.named_parameters():
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            out.add(id(p))
    return out


def _as_groups(items: list[Any]) -> list[dict[str, Any]]:
    if items and isinstance(items[0], dict):
        return items
    return [{"params": items}]


def _muon_groups(
    groups: list[dict[str, Any]], aside: set[int], options: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each group split in two: its 2-D params not ``aside`` for Muon, the rest for
    AdamW (``use_muon=False``, the ``adamw_*`` options, the group's lr scale kept)."""
    out: list[dict[str, Any]] = []
    for group in groups:
        params = list(group["params"])
        hidden = [p for p in params if p.ndim == 2 and id(p) not in aside]
        rest = [p for p in params if p.ndim != 2 or id(p) in aside]
        if hidden:
            out.append({**group, "params": hidden})
        if rest:
            adamw = {**group, "params": rest, "use_muon": False}
            scale = group.get("layer_scale", 1.0)
            adamw.update(lr=options["adamw_lr"] * scale, betas=options["adamw_betas"],
                         eps=options["adamw_eps"])  # fmt: skip
            if options["adamw_weight_decay"] is not None and group.get("weight_decay", 1.0):
                adamw["weight_decay"] = options["adamw_weight_decay"]
            out.append(adamw)
    return out


def _exempt_names(no_weight_decay: Any) -> set[str]:
    if isinstance(no_weight_decay, str):
        return {no_weight_decay}
    names = list(no_weight_decay) if isinstance(no_weight_decay, Iterable) else None
    if names is None or not all(isinstance(n, str) for n in names):
        raise TypeError(
            "create_optimizer: `no_weight_decay` must be a name or a list of names "
            f"(fnmatch patterns allowed), got {no_weight_decay!r}"
        )
    return set(names)


def _model_groups(
    named: list[tuple[str, Tensor]],
    lr: float,
    weight_decay: float,
    layer_decay: float | None,
    layers: dict[str, int] | None,
    exempt: set[str],
    decay_1d: bool,
) -> list[dict[str, Any]]:
    named = [(n, p) for n, p in named if p.requires_grad]
    if not named:
        raise ValueError("create_optimizer: the model has no parameters that require grad")
    top = max(layers.values()) if layers else 0
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for n, p in named:
        decay = (decay_1d or p.ndim > 1) and not any(fnmatch.fnmatchcase(n, e) for e in exempt)
        layer = layers.get(n, top) if layers is not None else 0
        group = groups.get((layer, decay))
        if group is None:
            scale = 1.0 if layer_decay is None else layer_decay ** (top - layer)
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


__all__ = ["create_optimizer", "layer_ids", "layer_key"]
