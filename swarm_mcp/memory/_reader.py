"""The store's second SQLite connection, read-only, for reads.

WAL lets one writer and readers work at the same time, so a read-through, a listing or a search
runs here while a flush or an FTS batch commits on the writer, instead of queueing behind it on
the writer's thread. Each read is one statement, hence one consistent snapshot.

Point reads (one row by its key) also have a synchronous connection on the event loop's thread:
an aiosqlite round trip costs 120-140 µs on this project's VM (thread wake-ups), the lookup
itself ~10 µs, and a WAL reader does not wait for the writer. It is opened with no busy timeout,
so the rare SQLITE_BUSY (another connection recovering the WAL index) cannot stall the loop: that
read goes through the thread instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
import anyio


class ReadConnection:
    """Runs reads on its own aiosqlite connection, opened read-only (`query_only` as well)."""

    def __init__(self, db: aiosqlite.Connection, quick: sqlite3.Connection) -> None:
        self._db: aiosqlite.Connection | None = db
        self._quick: sqlite3.Connection | None = quick
        self.busy_fallbacks = 0

    @classmethod
    async def open(cls, uri: str, *, busy_timeout: float) -> ReadConnection:
        """Connect to `uri` (a `file:` URI with `mode=ro` or `immutable=1`).

        Raises:
            sqlite3.Error: the file cannot be opened for reading.
        """
        db = await aiosqlite.connect(uri, uri=True, isolation_level=None, timeout=busy_timeout)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            await db.execute("PRAGMA query_only = ON")
            await db.execute("PRAGMA temp_store = MEMORY")
            quick = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=0)
            quick.execute("PRAGMA query_only = ON")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await db.close()
            raise
        return cls(db, quick)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one query (one statement: one snapshot).

        Raises:
            sqlite3.Error: the query failed; ValueError once the connection is closed.
        """
        if self._db is None:
            raise ValueError("the store's read connection is closed")
        return list(await self._db.execute_fetchall(sql, params))

    async def fetch_point(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a query that looks rows up by key (an index seek, a few rows at most), read
        at once on this thread; through the read thread when SQLite reports the file busy.

        Raises:
            sqlite3.Error: the query failed; ValueError once the connection is closed.
        """
        if self._quick is None:
            raise ValueError("the store's read connection is closed")
        try:
            return self._quick.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        self.busy_fallbacks += 1
        return await self.fetchall(sql, params)

    async def aclose(self) -> None:
        """Close the connections (idempotent)."""
        quick, self._quick = self._quick, None
        if quick is not None:
            quick.close()
        db, self._db = self._db, None
        if db is not None:
            with anyio.CancelScope(shield=True):
                await db.close()
