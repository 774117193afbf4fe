"""lrkit.bench.storage: opening one SQLite file from many processes at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("optuna")

OPEN = """
import sys, time
from lrkit.bench.storage import open_storage
start = float(sys.argv[2])
while time.time() < start:
    pass
storage = open_storage(sys.argv[1])
storage.create_new_study([], study_name=f"s{sys.argv[3]}")
"""


@pytest.mark.parametrize("attempt", range(2))
def test_processes_opening_a_fresh_file_together_all_succeed(tmp_path: Path, attempt: int) -> None:
    # A sweep starting while `bench status` opens the same new file: both create
    # the schema. Every process starts at the same instant, on a fresh file.
    db = tmp_path / f"fresh{attempt}.db"
    start = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, str(db), str(start), str(i)], stderr=subprocess.PIPE
        )
        for i in range(6)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, "\n".join(e for e in errors if e)[-2000:]
    from lrkit.bench.storage import open_storage

    names = sorted(s.study_name for s in open_storage(db).get_all_studies())
    assert names == [f"s{i}" for i in range(6)]
