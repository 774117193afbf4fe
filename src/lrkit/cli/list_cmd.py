"""``lrkit list schedules|optimizers|tasks``: registered names with a one-line description."""

from __future__ import annotations

import argparse
import fnmatch
from typing import Any

from lrkit.cli.output import Output, add_output_args


def add_parser(sub: Any) -> None:
    p = sub.add_parser("list", help="list schedules, optimizers or tasks")
    p.add_argument("what", choices=("schedules", "optimizers", "tasks"))
    p.add_argument("--filter", default="*", help="glob on names, e.g. 'cos*'")
    add_output_args(p)
    p.set_defaults(run=run)


def rows(what: str) -> list[dict[str, Any]]:
    """Every item of a registry as ``{"name", "description", ...}``."""
    if what == "schedules":
        from lrkit.schedules import describe, list_schedules

        return [{"name": n, "description": describe(n)} for n in list_schedules()]
    if what == "optimizers":
        from lrkit.optim import list_optimizers

        return [
            {"name": i.name, "description": i.description, "reference": i.reference}
            for i in list_optimizers()
        ]
    from lrkit.tasks import list_tasks

    return [{"name": t.name, "description": t.description, "needs": t.needs} for t in list_tasks()]


def run(args: argparse.Namespace, out: Output) -> int:
    found = [r for r in rows(args.what) if fnmatch.fnmatch(r["name"], args.filter)]
    out.result(found, lambda: _human(found))
    return 0


def _human(found: list[dict[str, Any]]) -> str:
    width = max((len(r["name"]) for r in found), default=0)
    return "\n".join(f"{r['name']:<{width}}  {r['description']}" for r in found) or "(none)"


__all__ = ["add_parser", "rows", "run"]
