"""``python -m lrkit.bench.worker URL STUDY [THREADS]``: one local worker process.

The coordinator (:func:`lrkit.bench.run`) starts these with ``--workers N``;
each claims and runs queued trials of the study until none is left
(:func:`lrkit.bench.engine.work`). A separate interpreter rather than
``multiprocessing``, so that a user's script needs no ``__main__`` guard.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from lrkit.bench.engine import work

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 3):
        print("usage: python -m lrkit.bench.worker URL STUDY [THREADS]", file=sys.stderr)
        return 2
    work(args[0], args[1], int(args[2]) if len(args) == 3 else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main"]
