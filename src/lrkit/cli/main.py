"""Entry point: ``lrkit plot | list``. Exit codes: 0 ok, 1 failure, 2 usage."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from lrkit import __version__
from lrkit.cli import list_cmd, plot_cmd


class UsageError(Exception):
    """Bad names, specs or flags: exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lrkit", description="The learning-rate toolkit.")
    parser.add_argument("--version", action="version", version=f"lrkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    plot_cmd.add_parser(sub)
    list_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on bad flags
    try:
        return int(args.run(args) or 0)
    except (UsageError, ValueError, TypeError) as exc:
        return _fail(exc, 2)
    except Exception as exc:
        return _fail(exc, 1)


def _fail(exc: BaseException, code: int) -> int:
    if os.environ.get("LRKIT_DEBUG") == "1":
        traceback.print_exc()
    else:
        print(f"lrkit: error: {exc}", file=sys.stderr)
        print("(set LRKIT_DEBUG=1 for the full traceback)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
