"""The char_lm task: generated text that is the same everywhere (Note [generated text]),
a decoder-only Transformer that learns it."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest
import torch

from lrkit.tasks import make_task
from lrkit.tasks.language import ALPHABET, SplitMix64, corpus, encode


def test_the_corpus_is_the_same_on_every_machine() -> None:
    """The corpus comes from integer arithmetic only; this digest pins it, so a change to
    the grammar or the generator (which would change every result) cannot pass unseen."""
    digest = hashlib.sha256(corpus().encode()).hexdigest()
    assert digest == "7affce34b558ea7b6a6a1ed159ee31bd581b847259b67a4b47073b4f6021d6a3"
    assert len(corpus()) == 1 << 20 and set(corpus()) <= set(ALPHABET)
    gen = SplitMix64(0)  # Vigna's reference values for seed 0
    assert [gen.next() for _ in range(3)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F,
    ]  # fmt: skip


def test_the_text_has_structure_to_learn() -> None:
    text = corpus()
    sentences = [s for s in text.split(". ") if s][:2000]
    assert all(s[0] != " " for s in sentences[1:])
    words = text.split()
    assert " an " in text and " a old " not in text  # "an" before a vowel
    singular = sum(w in ("runs", "sleeps", "sees") for w in words)
    plural = sum(w in ("run", "sleep", "see") for w in words)
    assert singular > 1000 and plural > 1000  # verbs agree with their subjects
    counts = np.bincount(encode(text), minlength=len(ALPHABET)) / len(text)
    entropy = -float((counts[counts > 0] * np.log(counts[counts > 0])).sum())
    assert 2.5 < entropy < 3.2  # nats per character: far above what a model reaches


def test_a_small_model_learns_and_the_global_rngs_stay_untouched() -> None:
    state, py_state = torch.random.get_rng_state(), random.getstate()
    task = make_task("char_lm", seed=0, d_model=32, layers=1, heads=2, batch_size=16, seq_len=32)
    assert torch.equal(torch.random.get_rng_state(), state) and random.getstate() == py_state
    x, y = next(iter(task.train))
    assert x.shape == y.shape == (16, 32) and torch.equal(x[:, 1:], y[:, :-1])
    assert task.model(x).shape == (16, 32, len(ALPHABET))
    before = task.evaluate()
    opt = torch.optim.Adam(task.model.parameters(), lr=3e-3)
    batches = task.train.forever()
    for _ in range(60):
        opt.zero_grad()
        task.loss(next(batches)).backward()
        opt.step()
    after = task.evaluate()
    assert before["loss"] > 3.0 and after["loss"] < before["loss"] - 0.7
    assert set(after) == {"loss", "accuracy"}


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_both_layer_norm_placements_are_causal(norm: str) -> None:
    task = make_task("char_lm", seed=1, d_model=16, layers=2, heads=2, seq_len=8, norm=norm)
    x = torch.randint(0, len(ALPHABET), (2, 8))
    changed = x.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % len(ALPHABET)
    with torch.no_grad():
        a, b = task.model(x), task.model(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5])  # the future does not leak back
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_bad_options_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"`d_model` \(30\) must be a multiple of `heads`, got 4"):
        make_task("char_lm", d_model=30)
    with pytest.raises(ValueError, match=r"char_lm: `norm` must be one of 'pre', 'post'"):
        make_task("char_lm", norm="sandwich")
    with pytest.raises(ValueError, match=r"char_lm: `seq_len` must be a positive integer"):
        make_task("char_lm", seq_len=0)
