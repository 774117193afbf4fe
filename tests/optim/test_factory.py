"""create_optimizer and list_optimizers."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import lrkit.optim as lo
from lrkit.optim.factory import layer_key


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.blocks = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 8))
        self.head = nn.Linear(8, 2)


def test_no_weight_decay_on_biases_and_1d_params() -> None:
    model = Net()
    opt = lo.create_optimizer(model, "adamw", lr=0.1, weight_decay=0.05)
    assert isinstance(opt, lo.AdamW)
    by_id = {id(p): g for g in opt.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        want = 0.05 if p.ndim > 1 else 0.0
        assert by_id[id(p)]["weight_decay"] == want, name
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_no_weight_decay_names_and_decay_1d() -> None:
    model = Net()
    opt = lo.create_optimizer(
        model, "sgd", lr=0.1, weight_decay=0.01, no_weight_decay={"head.weight"}, decay_1d=True
    )
    by_id = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert by_id[id(model.head.weight)] == 0.0
    assert by_id[id(model.embed.bias)] == 0.01


def test_frozen_params_are_left_out() -> None:
    model = Net()
    model.embed.requires_grad_(False)
    opt = lo.create_optimizer(model, "adam")
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert id(model.embed.weight) not in ids and id(model.head.weight) in ids


def test_layer_decay_scales_each_layer() -> None:
    model = Net()
    opt = lo.create_optimizer(model, "adamw", lr=1.0, layer_decay=0.5)
    layers = ["embed", "blocks.0", "blocks.1", "blocks.2", "head"]
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        i = layers.index(layer_key(name))
        assert lr_of[id(p)] == pytest.approx(0.5 ** (len(layers) - 1 - i)), name


def test_layer_key() -> None:
    assert layer_key("blocks.3.attn.qkv.weight") == "blocks.3"
    assert layer_key("head.weight") == "head"
    assert layer_key("bias") == "bias"


def test_param_groups_keep_their_values_and_lr_scale_applies() -> None:
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = lo.create_optimizer(
        [{"params": [a]}, {"params": [b], "lr_scale": 0.1}], "sgd", lr=0.5, momentum=0.9
    )
    assert [g["lr"] for g in opt.param_groups] == [0.5, pytest.approx(0.05)]
    assert opt.param_groups[1]["momentum"] == 0.9


def test_kwargs_reach_the_optimizer() -> None:
    opt = lo.create_optimizer(Net(), "adam", lr=1e-3, betas=(0.8, 0.9), impl="reference")
    assert opt.param_groups[0]["betas"] == (0.8, 0.9) and opt.impl == "reference"


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamx'.*\(did you mean 'adam'\?\)"):
        lo.create_optimizer(Net(), "adamx")
    with pytest.raises(
        ValueError, match="create_optimizer: `layer_decay` must be a number in \\(0, 1\\]"
    ):
        lo.create_optimizer(Net(), "adam", layer_decay=1.5)
    with pytest.raises(ValueError, match="`layer_decay` and `layer_of` need a model"):
        lo.create_optimizer([torch.zeros(1, requires_grad=True)], "adam", layer_decay=0.5)
    with pytest.raises(
        ValueError, match="create_optimizer: `lr` must be a non-negative finite number"
    ):
        lo.create_optimizer(Net(), "adam", lr=-1.0)
    with pytest.raises(ValueError, match="no parameters that require grad"):
        lo.create_optimizer(Net().requires_grad_(False), "adam")


def test_list_optimizers_describes_every_class() -> None:
    infos = lo.list_optimizers()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    names = {i.cls.__name__ for i in infos}
    assert names == {
        "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "RAdam", "AdamP", "SGDP", "Lion", "Lamb",
        "AdamWScheduleFree", "SGDScheduleFree", "NAdam", "Adafactor", "Muon", "Prodigy",
        "DAdaptAdam", "DAdaptSGD",
    }  # fmt: skip
    assert all(i.description and i.reference for i in infos)


def test_parse_spec() -> None:
    from lrkit.optim import parse_spec

    assert parse_spec("sgd") == ("sgd", {})
    assert parse_spec(" lamb(betas=(0.9, 0.99), trust_clip=True) ") == (
        "lamb",
        {"betas": (0.9, 0.99), "trust_clip": True},
    )
    for bad, message in [
        ("sgdd", "did you mean 'sgd'"),
        ("sgd(0.1)", "expected name or name(key=value, ...)"),
        ("sgd(lr=x)", "`lr` must be a literal"),
        ("sgd(", "malformed optimizer spec"),
        ("a.b", "expected name"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_spec(bad)


def _scales(opt: lo.Optimizer, model: nn.Module, lr: float) -> dict[str, tuple[float, float]]:
    """name -> (lr scale, weight decay) of each parameter's group."""
    of = {id(p): (g["lr"] / lr, g["weight_decay"]) for g in opt.param_groups for p in g["params"]}
    return {n: of[id(p)] for n, p in model.named_parameters() if p.requires_grad}


def test_layer_decay_on_a_timm_vit_equals_timms_groups() -> None:
    timm = pytest.importorskip("timm")
    from timm.optim import param_groups_layer_decay

    model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=3, num_classes=5
    )
    opt = lo.create_optimizer(model, "adamw", lr=1.0, weight_decay=0.05, layer_decay=0.5)
    ours = _scales(opt, model, 1.0)
    theirs = param_groups_layer_decay(
        model, weight_decay=0.05, layer_decay=0.5, no_weight_decay_list=model.no_weight_decay()
    )
    names = {id(p): n for n, p in model.named_parameters()}
    want = {names[id(p)]: (g["lr_scale"], g["weight_decay"]) for g in theirs for p in g["params"]}
    assert ours == pytest.approx(want)
    assert ours["cls_token"] == ours["pos_embed"] == (*ours["patch_embed.proj.bias"][:1], 0.0)
    assert ours["cls_token"][1] == 0.0  # timm's no_weight_decay(): not decayed


def test_layer_decay_on_a_hugging_face_bert_follows_its_layers() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    model = transformers.BertForSequenceClassification(config)
    opt = lo.create_optimizer(model, "adamw", lr=1.0, weight_decay=0.01, layer_decay=0.5)
    scales = _scales(opt, model, 1.0)
    assert scales["bert.embeddings.word_embeddings.weight"] == (0.5**4, 0.01)
    assert scales["bert.encoder.layer.0.attention.self.query.weight"] == (0.5**3, 0.01)
    assert scales["bert.encoder.layer.2.output.dense.weight"] == (0.5, 0.01)
    assert scales["bert.encoder.layer.2.output.LayerNorm.weight"] == (0.5, 0.0)
    assert scales["bert.pooler.dense.weight"] == scales["classifier.weight"] == (1.0, 0.01)
    assert len({s for s, _ in scales.values()}) == 5  # embeddings, 3 layers, the top


def test_a_user_layer_mapping_and_name_patterns() -> None:
    model = Net()
    by_regex = lo.create_optimizer(
        model, "sgd", lr=1.0, layer_decay=0.5, layer_of=[r"^embed\.", r"^blocks\."]
    )
    scales = _scales(by_regex, model, 1.0)
    assert scales["embed.weight"][0] == 0.25 and scales["blocks.2.weight"][0] == 0.5
    assert scales["head.weight"][0] == 1.0  # unmatched: the top layer
    by_fn = lo.create_optimizer(
        model, "sgd", lr=1.0, layer_decay=0.5, layer_of=lambda n: 0 if n.startswith("embed") else 1
    )
    assert _scales(by_fn, model, 1.0)["embed.bias"][0] == 0.5
    one = lo.create_optimizer(
        model, "sgd", weight_decay=0.1, decay_1d=True, no_weight_decay="blocks.0.bias"
    )
    decays = {n: wd for n, (_, wd) in _scales(one, model, 1e-3).items()}
    assert decays["blocks.0.bias"] == 0.0 and decays["embed.bias"] == 0.1  # a name, not its letters
    pattern = lo.create_optimizer(
        model, "sgd", weight_decay=0.1, decay_1d=True, no_weight_decay=["*.bias"]
    )
    assert all(
        wd == (0.0 if n.endswith("bias") else 0.1)
        for n, (_, wd) in _scales(pattern, model, 1e-3).items()
    )
    with pytest.raises(TypeError, match=r"`layer_of\('embed.weight'\)` must return a layer index"):
        lo.create_optimizer(model, "sgd", layer_decay=0.5, layer_of=lambda n: "x")
    with pytest.raises(TypeError, match=r"`no_weight_decay` must be a name or a list of names"):
        lo.create_optimizer(model, "sgd", no_weight_decay=3)
