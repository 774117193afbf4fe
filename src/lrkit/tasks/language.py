"""A character-level language model: a small decoder-only Transformer on generated text.

Note [generated text]
~~~~~~~~~~~~~~~~~~~~~
The corpus is English-like text from a fixed probabilistic grammar --
determiners, adjectives, nouns, verbs that agree with their subject in
number, relative clauses ("that ..."), prepositional phrases, irregular
plurals, sentences joined by ", and" -- drawn with lrkit's own splitmix64
generator, so it is the same on every machine and Python version and needs
no download. A model must learn spelling, word order and agreement across a
clause; a small Transformer reaches about 0.9 nats per character, a unigram
model 2.9. The first 90% of the characters are for training, cut into windows
of ``seq_len + 1``; the last 10% are the validation set. The data never depend
on the task's seed (Note [task determinism]).
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_right
from itertools import accumulate
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrkit.tasks.base import Batches, Task, register_task, seeded_model
from lrkit.validation import Param, normalize

ALPHABET = " ,.abcdefghijklmnopqrstuvwxyz"
CORPUS_CHARS = 1 << 20

_NOUNS = (  # singular, plural
    ("dog", "dogs"), ("cat", "cats"), ("child", "children"), ("mouse", "mice"),
    ("bird", "birds"), ("teacher", "teachers"), ("farmer", "farmers"), ("fox", "foxes"),
    ("horse", "horses"), ("woman", "women"), ("man", "men"), ("city", "cities"),
    ("river", "rivers"), ("tree", "trees"), ("house", "houses"), ("box", "boxes"),
    ("story", "stories"), ("king", "kings"), ("friend", "friends"), ("wolf", "wolves"),
    ("sheep", "sheep"), ("garden", "gardens"), ("baker", "bakers"), ("stone", "stones"),
    ("letter", "letters"), ("boat", "boats"), ("doctor", "doctors"), ("goose", "geese"),
)  # fmt: skip
_TRANSITIVE = (  # third person singular, plural
    ("sees", "see"), ("likes", "like"), ("follows", "follow"), ("finds", "find"),
    ("watches", "watch"), ("helps", "help"), ("carries", "carry"), ("chases", "chase"),
    ("knows", "know"), ("builds", "build"), ("paints", "paint"), ("visits", "visit"),
)  # fmt: skip
_INTRANSITIVE = (
    ("runs", "run"), ("sleeps", "sleep"), ("sings", "sing"), ("waits", "wait"),
    ("laughs", "laugh"), ("falls", "fall"), ("swims", "swim"), ("flies", "fly"),
    ("works", "work"), ("arrives", "arrive"),
)  # fmt: skip
_ADJECTIVES = (
    "small", "old", "red", "quiet", "happy", "brave", "tall", "green", "cold", "young",
    "bright", "lazy", "clever", "dark", "strange", "gentle",
)  # fmt: skip
_ADVERBS = ("quickly", "slowly", "often", "never", "again", "quietly", "today", "happily")
_PREPOSITIONS = ("near", "with", "under", "behind", "beside", "over", "from")
_SINGULAR_DETS = ("the", "a", "every", "this", "one", "that")
_PLURAL_DETS = ("the", "some", "many", "these", "two", "three", "all", "those")


class SplitMix64:
    """Sebastiano Vigna's splitmix64: the same numbers everywhere, from integer arithmetic."""

    MASK = (1 << 64) - 1

    def __init__(self, seed: int) -> None:
        self.state = seed & self.MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A float in [0, 1) from the top 53 bits."""
        return (self.next() >> 11) / 2.0**53


class _Grammar:
    """The grammar of Note [generated text], words drawn with Zipf-like weights."""

    def __init__(self, rng: SplitMix64) -> None:
        self.rng = rng

    def pick(self, options: tuple[Any, ...]) -> Any:
        weights = _zipf(len(options))
        return options[bisect_right(weights, self.rng.uniform() * weights[-1])]

    def chance(self, p: float) -> bool:
        return self.rng.uniform() < p

    def noun_phrase(self, plural: bool, depth: int) -> list[str]:
        words = [self.pick(_PLURAL_DETS if plural else _SINGULAR_DETS)]
        while self.chance(0.35 if len(words) == 1 else 0.15):
            words.append(self.pick(_ADJECTIVES))
        words.append(self.pick(_NOUNS)[1 if plural else 0])
        if words[0] == "a" and words[1][0] in "aeiou":
            words[0] = "an"
        if depth < 2 and self.chance(0.2):
            words += ["that", *self.verb_phrase(plural, depth + 1)]
        elif depth < 2 and self.chance(0.15):
            words += [self.pick(_PREPOSITIONS), *self.noun_phrase(self.chance(0.4), depth + 1)]
        return words

    def verb_phrase(self, plural: bool, depth: int) -> list[str]:
        form = 1 if plural else 0
        if self.chance(0.55):
            words = [self.pick(_TRANSITIVE)[form], *self.noun_phrase(self.chance(0.4), depth + 1)]
        else:
            words = [self.pick(_INTRANSITIVE)[form]]
        if self.chance(0.3):
            words.append(self.pick(_ADVERBS))
        return words

    def sentence(self) -> str:
        clauses = []
        while True:
            plural = self.chance(0.4)
            clauses.append(" ".join(self.noun_phrase(plural, 0) + self.verb_phrase(plural, 0)))
            if len(clauses) == 3 or not self.chance(0.25):
                break
        return ", and ".join(clauses) + ". "


@functools.lru_cache(maxsize=64)
def _zipf(n: int) -> list[float]:
    return list(accumulate(1.0 / (k + 1) for k in range(n)))


@functools.lru_cache(maxsize=2)
def corpus(chars: int = CORPUS_CHARS, data_seed: int = 1234) -> str:
    """Note [generated text]: ``chars`` characters of the grammar's text (cached)."""
    grammar, parts, total = _Grammar(SplitMix64(data_seed)), [], 0
    while total < chars:
        s = grammar.sentence()
        parts.append(s)
        total += len(s)
    return "".join(parts)[:chars]


def encode(text: str) -> np.ndarray:
    """Character ids in :data:`ALPHABET`."""
    table = np.full(128, -1, dtype=np.int64)
    table[[ord(c) for c in ALPHABET]] = np.arange(len(ALPHABET))
    ids = table[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    if (ids < 0).any():
        raise ValueError("encode: text outside the alphabet")
    return ids


class TinyGPT(nn.Module):
    """A decoder-only Transformer: token and position embeddings, ``layers`` causal
    self-attention blocks (pre-LN, as GPT-2, or post-LN, as the original Transformer),
    a final LayerNorm (pre-LN) and a linear head to next-character logits."""

    mask: Tensor

    def __init__(
        self, vocab: int, seq_len: int, d_model: int, layers: int, heads: int, norm: str
    ) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(seq_len, d_model)
        block = nn.TransformerEncoderLayer(
            d_model, heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=norm == "pre"
        )
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.final = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.head = nn.Linear(d_model, vocab)
        self.register_buffer(
            "mask", torch.triu(torch.full((seq_len, seq_len), -math.inf), 1), persistent=False
        )

    def forward(self, ids: Tensor) -> Tensor:
        t = ids.shape[1]
        x = self.token(ids) + self.position(torch.arange(t, device=ids.device))
        x = self.blocks(x, mask=self.mask[:t, :t], is_causal=True)
        logits: Tensor = self.head(self.final(x))
        return logits


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy per character (nats)."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def lm_metrics(logits: Tensor, targets: Tensor) -> dict[str, float]:
    """Per-character loss (nats) and next-character accuracy."""
    accuracy = (logits.argmax(dim=-1) == targets).double().mean()
    return {"loss": float(lm_loss(logits, targets)), "accuracy": float(accuracy)}


def _windows(ids: np.ndarray, seq_len: int, device: torch.device) -> tuple[Tensor, Tensor]:
    n = (len(ids) - 1) // seq_len
    cut = torch.as_tensor(ids[: n * seq_len + 1], device=device)
    starts = torch.arange(n, device=device) * seq_len
    index = starts[:, None] + torch.arange(seq_len + 1, device=device)[None, :]
    windows = cut[index]
    return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()


@register_task(
    "char_lm",
    "character-level language model: a decoder-only Transformer on generated English-like text",
)
def char_lm(
    *,
    seed: int = 0,
    batch_size: int = 32,
    seq_len: int = 64,
    d_model: int = 128,
    layers: int = 4,
    heads: int = 4,
    norm: str = "pre",
    validation_windows: int = 256,
    device: Any = "cpu",
) -> Task:
    """Note [generated text]; ``norm`` is ``"pre"`` (GPT-2) or ``"post"`` (the original
    Transformer, where Adam's early steps need warmup most)."""
    owner, count = "char_lm", Param(kind="int", lo=1)
    batch_size, seq_len, d_model, layers, heads, validation_windows = (
        int(normalize(owner, k, count, v))
        for k, v in (
            ("batch_size", batch_size), ("seq_len", seq_len), ("d_model", d_model),
            ("layers", layers), ("heads", heads), ("validation_windows", validation_windows),
        )
    )  # fmt: skip
    norm = normalize(owner, "norm", Param(kind="str", choices=("pre", "post")), norm)
    if d_model % heads:
        raise ValueError(
            f"{owner}: `d_model` ({d_model}) must be a multiple of `heads`, got {heads}"
        )
    device = torch.device(device)
    ids = encode(corpus())
    split = int(0.9 * len(ids))
    x, y = _windows(ids[:split], seq_len, device)
    x_val, y_val = _windows(ids[split:], seq_len, device)
    x_val, y_val = x_val[:validation_windows], y_val[:validation_windows]
    model = seeded_model(
        seed, lambda: TinyGPT(len(ALPHABET), seq_len, d_model, layers, heads, norm)
    )
    return Task(
        name=owner,
        model=model.to(device),
        loss_fn=lm_loss,
        train=Batches(x, y, batch_size, seed=seed),
        test=Batches(x_val, y_val, 64, shuffle=False),
        seed=seed,
        metrics=lm_metrics,
    )


__all__ = [
    "ALPHABET",
    "CORPUS_CHARS",
    "SplitMix64",
    "TinyGPT",
    "char_lm",
    "corpus",
    "encode",
    "lm_loss",
    "lm_metrics",
]
