"""Group commits of typed records: many swarm, agent, task and brain writes in one transaction.

The swarm engine keeps its state in memory and persists it in batches: a claim or a heartbeat
only marks records dirty, and a completion waits for the next commit, which carries every
change made since the previous one (group commit). One `Journal.commit` is one transaction:
upserts (each bumps the record's version), deletes, new events, and an optional trim of the event
log, all committed together or not at all.

A commit runs on the event loop's thread, on the journal's own write connection: a transaction
of a few dozen rows takes ~0.3 ms, while a round trip through the writer's thread costs more
than that in thread wake-ups and, on a busy 2-core machine, made each commit 4x slower (every
completion waits for one). That is safe because every SQLite write in the process holds the
store's write lock, so this connection never meets another writer; it has no busy timeout, and
a rare SQLITE_BUSY (the WAL index being recovered) sends that commit through the writer's
thread instead. Checkpoints, which sync the file, stay off the loop: this connection never
checkpoints, and every `CHECKPOINT_EVERY` commits a passive checkpoint runs on the writer's
thread. With `synchronous = FULL` each commit syncs, so commits go through the writer's thread.

Brains (schema v5) are one row per agent: its network parameters and its recent experiences
as opaque blobs, plus a JSON summary; they go when their agent goes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from swarm_mcp.errors import Unavailable

from ._writer import in_writer_thread, transaction

if TYPE_CHECKING:
    from ._store import KVCore

__all__ = ("BrainRecord", "BrainTable", "Journal", "RecordBatch")

_dumps = orjson.dumps

CHECKPOINT_EVERY = 256  # journal commits between passive checkpoints (a few pages each)


@dataclass(frozen=True, slots=True)
class BrainRecord:
    agent_id: str
    swarm_id: str | None
    layout: Mapping[str, Any]
    params: bytes
    experiences: bytes
    meta: Mapping[str, Any]
    updated: float


@dataclass(slots=True)
class RecordBatch:
    """Writes to commit together. Rows are applied parents first (swarms, agents, tasks, brains),
    deletes after them, then events in order."""

    swarms: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    agents: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    tasks: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    brains: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, str | None, str | None, str | None, str]] = field(default_factory=list)
    keep_events: int | None = None  # trim the event log to its newest this many events

    def __len__(self) -> int:
        return (len(self.swarms) + len(self.agents) + len(self.tasks) + len(self.brains) + len(self.deletes)
                + len(self.events))

    def put_swarm(self, swarm_id: str, *, name: str, status: str, data: Mapping[str, Any]) -> None:
        self.swarms[swarm_id] = (swarm_id, name, status, _dumps(data).decode())

    def put_agent(self, agent_id: str, *, swarm_id: str | None, kind: str, status: str, data: Mapping[str, Any]) -> None:
        self.agents[agent_id] = (agent_id, swarm_id, kind, status, _dumps(data).decode())

    def put_task(self, task_id: str, *, swarm_id: str | None, agent_id: str | None, status: str, priority: int,
                 data: Mapping[str, Any]) -> None:
        self.tasks[task_id] = (task_id, swarm_id, agent_id, status, int(priority), _dumps(data).decode())

    def put_brain(self, agent_id: str, *, swarm_id: str | None, layout: Mapping[str, Any], params: bytes,
                  experiences: bytes, meta: Mapping[str, Any]) -> None:
        self.brains[agent_id] = (agent_id, swarm_id, _dumps(layout).decode(), bytes(params), bytes(experiences),
                                 _dumps(meta).decode())

    def delete(self, table: str, record_id: str) -> None:
        if table not in _TABLES:
            raise ValueError(f"unknown table {table!r}")
        getattr(self, table).pop(record_id, None)
        self.deletes.append((table, record_id))

    def event(self, kind: str, data: Mapping[str, Any] | None = None, *, swarm_id: str | None = None,
              agent_id: str | None = None, task_id: str | None = None) -> None:
        self.events.append((kind, swarm_id, agent_id, task_id, _dumps(dict(data or {})).decode()))


_TABLES = ("swarms", "agents", "tasks", "brains")
_UPSERTS = {
    "swarms": (
        "INSERT INTO swarms (id, name, status, data, created, updated, version) VALUES (?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status, data = excluded.data, "
        "updated = excluded.updated, version = swarms.version + 1"
    ),
    "agents": (
        "INSERT INTO agents (id, swarm_id, kind, status, data, created, updated, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (id) DO UPDATE SET swarm_id = excluded.swarm_id, kind = excluded.kind, status = excluded.status, "
        "data = excluded.data, updated = excluded.updated, version = agents.version + 1"
    ),
    "tasks": (
        "INSERT INTO tasks (id, swarm_id, agent_id, status, priority, data, created, updated, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (id) DO UPDATE SET swarm_id = excluded.swarm_id, agent_id = excluded.agent_id, "
        "status = excluded.status, priority = excluded.priority, data = excluded.data, updated = excluded.updated, "
        "version = tasks.version + 1"
    ),
    "brains": (
        "INSERT INTO brains (agent_id, swarm_id, layout, params, experiences, meta, updated) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (agent_id) DO UPDATE SET swarm_id = excluded.swarm_id, layout = excluded.layout, "
        "params = excluded.params, experiences = excluded.experiences, meta = excluded.meta, updated = excluded.updated"
    ),
}
_DELETES = {
    "swarms": "DELETE FROM swarms WHERE id = ?",
    "agents": "DELETE FROM agents WHERE id = ?",
    "tasks": "DELETE FROM tasks WHERE id = ?",
    "brains": "DELETE FROM brains WHERE agent_id = ?",
}


def _apply(conn: sqlite3.Connection, batch: RecordBatch, now: float) -> None:
    """On the writer's thread: the whole batch as one transaction."""
    with transaction(conn):
        for table in _TABLES:
            rows = getattr(batch, table).values()
            if not rows:
                continue
            if table == "brains":
                conn.executemany(_UPSERTS[table], [(*row, now) for row in rows])
            else:  # created and updated: `created` is only used when the row is new
                conn.executemany(_UPSERTS[table], [(*row, now, now) for row in rows])
        for table, record_id in batch.deletes:
            conn.execute(_DELETES[table], (record_id,))
        if batch.events:
            conn.executemany(
                "INSERT INTO events (time, kind, swarm_id, agent_id, task_id, data) VALUES (?, ?, ?, ?, ?, ?)",
                [(now, *event) for event in batch.events],
            )
        if batch.keep_events is not None:
            conn.execute(
                "DELETE FROM events WHERE seq <= (SELECT coalesce(max(seq), 0) FROM events) - ?", (batch.keep_events,)
            )


class Journal:
    """`store.journal`: commits `RecordBatch`es."""

    def __init__(self, core: KVCore) -> None:
        self._core = core
        self._conn: sqlite3.Connection | None = None
        self._loop_commits = True  # until FULL sync or a failed open says otherwise
        self._since_checkpoint = 0
        self.commits = 0
        self.rows = 0
        self.busy_fallbacks = 0

    async def commit(self, batch: RecordBatch) -> None:
        """Commit every write in `batch` in one transaction (committed when this returns).

        Raises:
            Unavailable: the store is read-only, or SQLite refused the transaction (nothing of
                the batch was written).
        """
        core = self._core
        if core._read_only is not None:
            raise core._read_only_error()
        if not len(batch) and batch.keep_events is None:
            return
        now = core._clock()
        async with core._write_lock:
            with anyio.CancelScope(shield=True):
                try:
                    conn = self._connection()
                    if conn is None or not _apply_unless_busy(conn, batch, now):
                        if conn is not None:
                            self.busy_fallbacks += 1
                        await in_writer_thread(core._db, _apply, batch, now)
                except sqlite3.Error as exc:
                    raise Unavailable(f"Could not commit {len(batch)} swarm records ({exc})") from exc
        self.commits += 1
        self.rows += len(batch)
        if self._conn is not None:
            self._since_checkpoint += 1
            if self._since_checkpoint >= CHECKPOINT_EVERY:
                self._since_checkpoint = 0
                with anyio.CancelScope(shield=True):
                    try:
                        await in_writer_thread(core._db, _checkpoint)
                    except sqlite3.Error:
                        pass  # the writer's own commits checkpoint too; the next try comes soon

    def close(self) -> None:
        """Close the journal's connection (idempotent); the store's close calls it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connection(self) -> sqlite3.Connection | None:
        """The journal's write connection on this thread, opened on first use; None when commits
        go through the writer's thread."""
        if self._conn is not None or not self._loop_commits:
            return self._conn
        config = self._core._config
        if config.synchronous == "FULL":
            self._loop_commits = False
            return None
        try:
            conn = sqlite3.connect(f"{config.path.as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=0)
        except sqlite3.Error:
            self._loop_commits = False
            return None
        try:
            conn.execute(f"PRAGMA synchronous = {config.synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            if config.max_db_bytes is not None:
                page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count = {max(1, config.max_db_bytes // page_size)}")
        except sqlite3.Error:
            conn.close()
            self._loop_commits = False
            return None
        self._conn = conn
        return conn


def _apply_unless_busy(conn: sqlite3.Connection, batch: RecordBatch, now: float) -> bool:
    """`_apply` on `conn`; False (nothing written) when SQLite reports the file busy."""
    try:
        _apply(conn, batch, now)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return False
        raise
    return True


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class BrainTable:
    """`store.brains`: one row per agent brain (read side; writes go through the journal)."""

    def __init__(self, core: KVCore) -> None:
        self._core = core

    async def list(self, *, swarm_id: str, limit: int = 1000, after: str | None = None) -> list[BrainRecord]:
        """The brains of one swarm in agent-id order; pass the last id as `after` for the next page."""
        rows = await self._core._reader.fetchall(
            "SELECT agent_id, swarm_id, layout, params, experiences, meta, updated FROM brains "
            "WHERE swarm_id = ? AND agent_id > ? ORDER BY agent_id LIMIT ?",
            (swarm_id, after or "", limit),
        )
        return [
            BrainRecord(r[0], r[1], orjson.loads(r[2]), bytes(r[3]), bytes(r[4]), orjson.loads(r[5]), r[6]) for r in rows
        ]
