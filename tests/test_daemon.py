"""Process-level stop handling that does not depend on timing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO_ROOT, server_env

PROGRAM = """
import os, signal
from swarm_mcp.daemon import StopSignals
signals = StopSignals()
signals.install()
os.kill(os.getpid(), signal.SIGINT)   # as if the daemon had already stopped and the loop was gone
os.kill(os.getpid(), signal.SIGTERM)
print(",".join(signals.received))
"""


def test_signals_after_the_event_loop_has_gone_do_not_kill_the_process() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, cwd=str(REPO_ROOT))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SIGINT,SIGTERM"


def _corrupt_in_the_middle(path: Path) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [("row %d " % i * 40,) for i in range(2000)])
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8192] = b"\xff" * 8192  # a few pages of garbage, header intact
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["not a database", "pages overwritten"])
def test_a_corrupt_database_stops_serve_naming_the_file_and_the_recovery_and_is_left_untouched(
    tmp_path: Path, damage: str
) -> None:
    db = tmp_path / "swarm.db"
    if damage == "not a database":
        db.write_bytes(b"this is not an SQLite file " * 100)
    else:
        _corrupt_in_the_middle(db)
    before = db.read_bytes()
    done = subprocess.run([sys.executable, "-m", "swarm_mcp", "serve"], env=server_env(tmp_path), input=b"",
                          capture_output=True, timeout=60, cwd=str(REPO_ROOT))
    message = done.stderr.decode()
    assert done.returncode == 2, message
    assert str(db) in message and "Restore a backup" in message and "move it aside" in message
    assert done.stdout == b"" and db.read_bytes() == before  # never recreated over
