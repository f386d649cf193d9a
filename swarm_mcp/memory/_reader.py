"""The store's second SQLite connection, read-only, for reads.

WAL lets one writer and readers work at the same time, so a read-through, a listing or a search
runs here while a flush or an FTS batch commits on the writer, instead of queueing behind it on
the writer's thread. Each read is one statement, hence one consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import anyio


class ReadConnection:
    """Runs reads on its own aiosqlite connection, opened read-only (`query_only` as well)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db: aiosqlite.Connection | None = db

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
        except BaseException:
            with anyio.CancelScope(shield=True):
                await db.close()
            raise
        return cls(db)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one query (one statement: one snapshot).

        Raises:
            sqlite3.Error: the query failed; ValueError once the connection is closed.
        """
        if self._db is None:
            raise ValueError("the store's read connection is closed")
        return list(await self._db.execute_fetchall(sql, params))

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        db, self._db = self._db, None
        if db is not None:
            with anyio.CancelScope(shield=True):
                await db.close()
