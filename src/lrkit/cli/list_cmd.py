"""``lrkit list schedules``: registered names with a one-line description."""

from __future__ import annotations

import argparse
import fnmatch
import json
from typing import Any

from lrkit.schedules import describe, list_schedules


def add_parser(sub: Any) -> None:
    p = sub.add_parser("list", help="list what lrkit knows")
    p.add_argument("what", choices=("schedules",))
    p.add_argument("--filter", default="*", help="glob on names, e.g. 'cos*'")
    p.add_argument("--format", choices=("human", "json"), default="human")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = [
        {"name": n, "description": describe(n)}
        for n in list_schedules()
        if fnmatch.fnmatch(n, args.filter)
    ]
    if args.format == "json":
        print(json.dumps(rows))
        return 0
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['description']}")
    return 0
