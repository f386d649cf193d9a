"""The writer connection's two routine transactions, each run as ONE call on its thread.

aiosqlite runs every statement on the connection's own thread, and each `await db.execute(...)`
is a round trip: the thread takes the GIL to pick the call up and again to hand the result back,
and the awaiting task resumes only when the event loop next gets a turn. While the loop is busy
in Python (a burst of puts that yields every `flush_max_dirty` writes), each round trip waited
for the interpreter's switch interval (5 ms) and for the loop's next yield: a flush of 1,000 new
rows (five statements) took 220 ms instead of 6 ms, and a burst of 100,000 puts saw one flush.
Here the whole transaction (BEGIN to COMMIT, or ROLLBACK on any error) is one function the
thread runs from start to end: one round trip per flush and per index batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import aiosqlite
import orjson
from anyio.lowlevel import checkpoint

from . import _sql

__all__ = (
    "Prepared", "in_writer_thread", "index_batch", "pages_in_use", "sweep_expired", "transaction", "write_batch",
    "write_batch_and_measure",
)

T = TypeVar("T")
_dumps = orjson.dumps
# Rows per JSON document: one statement each, so the writer's thread does not trade the GIL
# with the event loop per row.
CHUNK = 2_000


class Prepared:
    """A flush batch as SQLite will take it: JSON documents per statement kind, and the rows
    (in `_sql.COLUMNS` order) and touches that must be bound one by one."""

    __slots__ = ("dead", "fresh", "live", "odd", "odd_touches", "touches")

    def __init__(self) -> None:
        self.fresh: list[str] = []
        self.live: list[str] = []
        self.dead: list[str] = []
        self.touches: list[str] = []
        self.odd: list[tuple[Any, ...]] = []
        self.odd_touches: list[tuple[float, int, str, str]] = []

    def add(self, fresh: list[Any], live: list[Any], dead: list[Any]) -> None:
        for rows, docs in ((fresh, self.fresh), (live, self.live), (dead, self.dead)):
            if rows:
                docs.append(_dumps(rows).decode())

    async def add_touches(self, touches: list[tuple[float, int, str, str]]) -> None:
        for i in range(0, len(touches), CHUNK):
            chunk = touches[i:i + CHUNK]
            plain = [t for t in chunk if "\x00" not in t[3]]
            self.odd_touches += [t for t in chunk if "\x00" in t[3]]
            if plain:
                self.touches.append(_dumps(plain).decode())
            await checkpoint()


async def in_writer_thread(db: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """`fn(connection, *args)` on `db`'s own thread, with its `sqlite3.Connection`, as one call.

    `Connection._execute` is the queue every public aiosqlite method goes through (pinned in
    pyproject; the memory tests fail if it changes)."""
    return await db._execute(fn, db._conn, *args)  # noqa: SLF001


def pages_in_use(conn: sqlite3.Connection) -> int:
    """Bytes of the database's pages in use (the file less its free pages): what the quota counts."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int(page_size * pages)


def write_batch_and_measure(conn: sqlite3.Connection, batch: Prepared, now: float) -> int:
    """`write_batch`, then `pages_in_use` after it committed."""
    write_batch(conn, batch, now)
    return pages_in_use(conn)


def write_batch(conn: sqlite3.Connection, batch: Prepared, now: float) -> None:
    """One transaction: tombstones and deletions, upserts (recording new rowids in the FTS
    backlog), access-time touches. Rolled back on any error."""
    odd_dead = [(r[0], r[1], r[6], now) for r in batch.odd if r[2] is None]
    odd_live = [r for r in batch.odd if r[2] is not None]
    with transaction(conn):
        for doc in batch.dead:
            conn.execute(_sql.TOMBSTONE_JSON, (doc, now))
            conn.execute(_sql.DELETE_JSON, (doc,))
        if odd_dead:
            conn.executemany(_sql.TOMBSTONE_ROW, odd_dead)
            conn.executemany(_sql.DELETE_ROW, [r[:2] for r in odd_dead])
        if batch.fresh or batch.live or odd_live:
            before = conn.execute(_sql.MAX_ID).fetchone()[0]
            for doc in batch.fresh:
                conn.execute(_sql.UPSERT_FRESH_JSON, (doc,))
            for doc in batch.live:
                conn.execute(_sql.UPSERT_JSON, (doc,))
            if odd_live:
                conn.executemany(_sql.UPSERT_ROW, odd_live)
            conn.execute(_sql.BACKLOG_NEW, (before,))
        for doc in batch.touches:
            conn.execute(_sql.TOUCH_JSON, (doc,))
        if batch.odd_touches:
            conn.executemany(_sql.TOUCH_ROW, batch.odd_touches)


def index_batch(conn: sqlite3.Connection, limit: int | None) -> tuple[int, bool]:
    """One transaction indexing the FTS backlog (at most `limit` rows; None: all of it).
    Returns (rows indexed, whether the backlog is now empty). Rolled back on any error."""
    with transaction(conn):
        end = _sql.LAST_ID
        if limit is not None:
            row = conn.execute(_sql.BACKLOG_BATCH_END, (limit - 1,)).fetchone()
            if row is not None:
                end = row[0]
        conn.execute(_sql.FTS_UNINDEX_BACKLOG, (end,))
        conn.execute(_sql.FTS_INDEX_BACKLOG, (end,))
        indexed = conn.execute(_sql.CLEAR_BACKLOG, (end,)).rowcount
    return indexed, end == _sql.LAST_ID


def sweep_expired(conn: sqlite3.Connection, now: float, horizon: float) -> int:
    """One transaction: delete entries expired at `now`, leaving tombstones with their versions;
    forget entry tombstones older than `horizon` (store clock) and record tombstones older than
    `horizon` (SQLite's clock). Returns the entries deleted."""
    with transaction(conn):
        conn.execute(_sql.TOMBSTONE_EXPIRED, (now,))
        deleted = conn.execute(_sql.DELETE_EXPIRED, (now,)).rowcount
        conn.execute(_sql.PURGE_TOMBSTONES, (now - horizon,))
        conn.execute(_sql.PURGE_RECORD_TOMBSTONES, (horizon,))
    return deleted


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back when the body raises (anything)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction left to roll back
