"""Bounds on what lrkit reads: data that a file or a caller hands over is
measured before anything walks it.

Note [bounded input]
~~~~~~~~~~~~~~~~~~~~
A schedule's dict form, a YAML or JSON file and a spec string are read in
time and memory bounded by their size, and the size is bounded: a tree of
plain data may have at most ``MAX_NODES`` values (a value reached twice
through shared references -- YAML aliases -- counts twice, so an alias bomb
of 30 lines that would expand to 2**30 values fails at once) and at most
``MAX_DEPTH`` levels of nesting. Exceeding either raises ``ValueError``
naming the limit.
"""

from __future__ import annotations

from typing import Any

MAX_NODES = 1_000_000
MAX_DEPTH = 100


def check_tree(
    data: Any, owner: str, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH
) -> None:
    """Raise ``ValueError`` when ``data`` (dicts, lists, tuples and scalars) has more
    than ``max_nodes`` values or nests deeper than ``max_depth`` (Note [bounded input])."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 1
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth >= max_depth:
            raise ValueError(f"{owner}: the data nests deeper than {max_depth} levels")
        nodes += len(children)  # counted before they are pushed: memory stays bounded
        if nodes > max_nodes:
            raise ValueError(
                f"{owner}: the data holds more than {max_nodes:,} values (each reference "
                "to a shared value, such as a YAML alias, counts again)"
            )
        stack.extend((child, depth + 1) for child in children)


__all__ = ["MAX_DEPTH", "MAX_NODES", "check_tree"]
