"""Derived constants: computed once at construction, read as attributes, never fields."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from lrkit.schedules import Cosine, Multiplicative, RAdamWarmup, UntunedWarmup, WarmupCosine, parse
from lrkit.schedules.base import derived


def test_derived_values_are_attributes_not_fields() -> None:
    w = RAdamWarmup(Cosine(steps=100), beta2=0.99)
    assert w.rho_inf == pytest.approx(2 / 0.01 - 1) and w.offset == 5
    assert "offset" in vars(w) and "offset" not in [f.name for f in dataclasses.fields(w)]
    assert isinstance(type(w).__dict__["offset"], derived)
    assert UntunedWarmup(Cosine(steps=10), beta2=0.999).tau == 1999  # int(2 / (1 - 0.999))
    m = Multiplicative(Cosine(steps=3), steps=3)
    assert list(m.table) == pytest.approx([1.0, 0.75, 0.1875, 0.0])
    assert str(w) == "radam_warmup(schedule=cosine(steps=100), beta2=0.99)"
    assert parse(str(w)) == w and pickle.loads(pickle.dumps(w)) == w
    assert repr(WarmupCosine(steps=10, warmup=2)) == "WarmupCosine(steps=10, warmup=2)"


def test_a_recipe_evaluates_what_it_built() -> None:
    s = WarmupCosine(steps=10, warmup=2)
    assert s._inner is not None and s(5) == s._inner(5)
    assert Cosine(steps=3)._inner is None
