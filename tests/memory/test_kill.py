"""kill -9 at store level: every acknowledged durable write survives; lost default writes are
only those after the last durable write (which commits everything written before it); and
whatever the search index had not caught up with is indexed when the store opens again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio

from swarm_mcp.memory import StoreConfig, open_store

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def test_sigkill_loses_no_durable_write(db_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "kill_writer.py"), str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "READY\n"
        acked: list[tuple[str, str]] = []
        while len(acked) < 3_000:
            line = proc.stdout.readline()
            assert line, "the writer exited early"
            kind, key = line.split()
            acked.append((kind, key))
        os.kill(proc.pid, signal.SIGKILL)
        acked += [tuple(line.split()) for line in proc.stdout.read().splitlines()]  # type: ignore[misc]
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    con = sqlite3.connect(db_path)
    try:
        stored = {row[0] for row in con.execute("SELECT key FROM entries WHERE namespace = 'kill'")}
        assert con.execute("PRAGMA quick_check").fetchone() == ("ok",)
    finally:
        con.close()
    durable = [key for kind, key in acked if kind == "D"]
    assert durable and set(durable) <= stored
    last_durable = max(i for i, (kind, _) in enumerate(acked) if kind == "D")
    lost = [i for i, (kind, key) in enumerate(acked) if kind == "N" and key not in stored]
    assert all(i > last_durable for i in lost), "a default write acknowledged before a durable one was lost"

    async def reopen() -> None:
        async with open_store(StoreConfig(path=db_path)) as store:
            for key in durable[-3:]:
                hits = await store.search(f"durable{key[1:]}", namespace="kill")
                assert [h.entry.key for h in hits] == [key]
            assert (await store.stats(detail="detailed"))["detailed"]["fts_backlog_rows"] == 0

    anyio.run(reopen)
