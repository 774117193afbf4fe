"""lrkit.registry: the one name registry of schedules, optimizers and tasks."""

from __future__ import annotations

import pytest

from lrkit.registry import Registry


def test_add_lookup_list_and_filter() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("cosine", 1)
    reg.decorator("cos_restarts")(2)
    reg.add("linear", 3)
    assert reg.get_or_raise("linear") == 3 and reg["cosine"] == 1
    assert reg.names() == ["cos_restarts", "cosine", "linear"] and len(reg) == 3
    assert reg.matching("cos*") == ["cos_restarts", "cosine"]
    assert reg.matching(None) == reg.names() and reg.matching("x*") == []
    assert dict(reg) == {"cosine": 1, "cos_restarts": 2, "linear": 3}


def test_duplicates_and_unknown_names_are_errors() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("cosine", 1)
    with pytest.raises(ValueError, match="widget name 'cosine' is already registered"):
        reg.add("cosine", 2)
    assert reg["cosine"] == 1
    with pytest.raises(ValueError, match=r"unknown widget 'cosin' \(did you mean 'cosine'\?\)$"):
        reg.get_or_raise("cosin")
    with pytest.raises(ValueError, match=r"make: unknown widget 'zzz'; known: cosine$"):
        reg.get_or_raise("zzz", "make: ")
    with pytest.raises(TypeError, match="widget name must be a string"):
        reg.get_or_raise(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="non-empty string"):
        reg.add("", 3)


def test_lookups_fold_names_with_the_key() -> None:
    reg: Registry[int] = Registry("optimizer", key=lambda n: n.lower().replace("-", "_"))
    reg.add("adamw_schedulefree", 1)
    assert reg.get_or_raise("AdamW-ScheduleFree") == 1


def test_schedules_optimizers_and_tasks_share_it() -> None:
    from lrkit.optim.base import REGISTRY
    from lrkit.schedules import get
    from lrkit.tasks import make_task
    from lrkit.tasks.base import TASKS

    assert isinstance(REGISTRY, Registry) and isinstance(TASKS, Registry)
    for lookup, name in ((get, "cosin"), (REGISTRY.get_or_raise, "adamm"), (make_task, "digts")):
        with pytest.raises(ValueError, match="did you mean"):
            lookup(name)
