"""Entry point: ``lrkit bench | plot | range-test | trajectories | list | steps | env``.

Exit codes: 0 ok, 1 failure, 2 usage: unknown names, malformed specs, bad
flags or values -- what a command raises while it reads its input
(``errors.reading_input``). A ValueError later, while it runs, is a failure
(1), not the user's mistake. Errors print as one line with a hint;
``LRKIT_DEBUG=1`` prints the full traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from lrkit import __version__
from lrkit.cli import (
    bench_cmd,
    env_cmd,
    list_cmd,
    plot_cmd,
    range_test_cmd,
    steps_cmd,
    trajectories_cmd,
)
from lrkit.cli.errors import UsageError, UserCodeError
from lrkit.cli.output import Output, Parser
from lrkit.extras import EXTRAS, install_hint

COMMANDS = (bench_cmd, plot_cmd, range_test_cmd, trajectories_cmd, list_cmd, steps_cmd, env_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="lrkit", description="The learning-rate toolkit.")
    parser.add_argument("-V", "--version", action="version", version=f"lrkit {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # bad flags exit with 2
    out = Output(getattr(args, "format", None) or "human", getattr(args, "quiet", False))
    try:
        return int(args.run(args, out) or 0)
    except UserCodeError as exc:
        return _fail(exc, 1, original=exc.original)
    except ModuleNotFoundError as exc:  # an optional dependency
        if not exc.name or exc.name.split(".")[0] not in EXTRAS:
            return _fail(exc, 1)
        missing = ImportError(f"{exc.name} is needed for this command: {install_hint(exc.name)}")
        return _fail(missing, 1)
    except UsageError as exc:  # what the user gave (see `reading_input`)
        return _fail(exc, 2)
    except KeyboardInterrupt:
        print("lrkit: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `lrkit list schedules | head`: the reader has what it wanted
        _quiet_stdout()
        return 0
    except Exception as exc:
        return _fail(exc, 1)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (captured in tests)
        pass
    finally:
        os.close(devnull)


def _fail(exc: BaseException, code: int, original: BaseException | None = None) -> int:
    if os.environ.get("LRKIT_DEBUG") == "1":
        traceback.print_exception(original or exc)
        return code
    print(f"lrkit: error: {str(exc) or type(exc).__name__}", file=sys.stderr)  # MemoryError: ""
    if original is not None:  # the user's own frames, without lrkit's
        frames = traceback.extract_tb(original.__traceback__)
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # src/lrkit
        own = [f for f in frames if not os.path.abspath(f.filename).startswith(package + os.sep)]
        print("Traceback of your code (most recent call last):", file=sys.stderr)
        print("".join(traceback.format_list(own or frames)).rstrip(), file=sys.stderr)
        print(f"{type(original).__name__}: {original}", file=sys.stderr)
    print("(set LRKIT_DEBUG=1 for the full traceback)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["COMMANDS", "build_parser", "main"]
