"""`TieredStore` (the key-value core plus listing, search, stats and transfer) and `open_store`."""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
import orjson
import structlog

from swarm_mcp.errors import InvalidArgument, Unavailable

from . import _sql
from ._bloom import KeyFilter
from ._limits import MAX_KEY_CHARS, check_limit, check_namespace, check_tags
from ._reader import ReadConnection
from ._journal import BrainTable, Journal
from ._records import AgentTable, EventLog, NetworkTable, SwarmTable, TaskTable
from ._schema import SCHEMA_VERSION, open_db
from ._store import KEYS_SQL, KVCore, entry_from_row
from ._transfer import apply_import, backup_sync, export_sync, parse_import
from ._types import (
    BackupReport,
    Entry,
    ImportMode,
    ImportReport,
    Page,
    SearchHit,
    StatsDetail,
    StoreConfig,
    make_entry,
)
from ._writer import in_writer_thread, pages_in_use

log = structlog.get_logger()

_WORD = re.compile(r"\w", re.UNICODE)
MAX_LIST = 1_000
ENTRY_OVERHEAD = 256  # bytes a listed entry costs besides its own (versions, times, field names)
MAX_SEARCH = 100
_SEARCH_TRIES = 3


def _fts_query(query: str) -> str:
    """Each whitespace-separated chunk becomes a quoted FTS5 phrase (a trailing * makes it a
    prefix); chunks are ANDed. No FTS5 operator syntax reaches SQLite, so no query is an error."""
    if not isinstance(query, str):
        raise InvalidArgument(f"query must be a string, not {type(query).__name__}")
    phrases = []
    for chunk in query.split():
        prefix = chunk.endswith("*")
        text = chunk.rstrip("*").replace('"', " ").strip()
        if _WORD.search(text):
            phrases.append('"' + text + '"' + (" *" if prefix else ""))
    if not phrases:
        raise InvalidArgument(f"Search query {query!r} has no words; give one or more words (word* for a prefix)")
    return " ".join(phrases)


def _encode_cursor(namespace: str, prefix: str, last_key: str) -> str:
    raw = orjson.dumps([1, namespace, prefix, last_key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, namespace: str, prefix: str) -> str:
    try:
        version, ns, pfx, last = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if version != 1 or not isinstance(last, str):
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidArgument("The cursor is not one that list returned; call list without a cursor to start over") from None
    if ns != namespace or pfx != prefix:
        raise InvalidArgument(
            f"The cursor belongs to a listing of namespace {ns!r} with prefix {pfx!r}; pass the same namespace and "
            "prefix, or start over without a cursor"
        )
    return last


def _prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


class TieredStore(KVCore):
    """The daemon's memory: `get`/`put`/`delete` on a dict, SQLite behind it, plus listing,
    full-text search, stats, export/import and backup.

    Typed records for other subsystems hang off it: `swarms`, `agents`, `tasks`, `networks`
    (versioned rows, compare-and-set) and `events` (append-only). Those are written through
    to SQLite: each write is its own committed transaction when the call returns. `journal`
    commits many of them (and `brains`) in one transaction, for the swarm engine.
    """

    def __init__(
        self, config: StoreConfig, db: aiosqlite.Connection, *, clock: Callable[[], float],
        read_only: str | None, keys: KeyFilter, reader: ReadConnection, fts_backlog: int = 0, db_bytes: int = 0,
    ) -> None:
        super().__init__(config, db, clock=clock, read_only=read_only, keys=keys, reader=reader,
                         fts_backlog=fts_backlog, db_bytes=db_bytes)
        self._ns_cache: tuple[tuple[int, int], float, dict[str, dict[str, int]]] | None = None
        self._size_paths = (("db_bytes", str(config.path)), ("wal_bytes", f"{config.path}-wal"))
        self.swarms = SwarmTable(self)
        self.agents = AgentTable(self)
        self.tasks = TaskTable(self)
        self.networks = NetworkTable(self)
        self.events = EventLog(self)
        self.brains = BrainTable(self)
        self.journal = Journal(self)

    def background(self) -> list[tuple[str, Callable[..., Awaitable[None]]]]:
        """The store's background loops, by name: the write-behind flusher (unless read-only)
        and the TTL sweeper. Each runs until cancelled."""
        loops: list[tuple[str, Callable[..., Awaitable[None]]]] = []
        if self._read_only is None:
            loops.append(("store_flusher", self.flush_forever))
        loops.append(("store_sweeper", self.sweep_forever))
        return loops

    # ---- listing and search ------------------------------------------------------------

    async def list(
        self, namespace: str, *, prefix: str = "", limit: int = 100, cursor: str | None = None, max_bytes: int | None = None
    ) -> Page:
        """Live entries of a namespace in key order, optionally only keys starting with `prefix`.

        Pages are cut by key: an entry that exists for the whole listing appears exactly once,
        whatever is written meanwhile. A page holds at most `limit` entries and, past its first
        entry, at most about `max_bytes` of them (keys, values, tags and metadata, plus
        `ENTRY_OVERHEAD` each); go on while `next_cursor` is not None. Pending writes are flushed first.

        Raises:
            InvalidArgument: bad namespace, prefix, limit (1..1000) or cursor.
        """
        check_namespace(namespace)
        if not isinstance(prefix, str) or len(prefix) > MAX_KEY_CHARS:
            raise InvalidArgument(f"prefix must be a string of up to {MAX_KEY_CHARS} characters")
        check_limit(limit, most=MAX_LIST)
        after = "" if cursor is None else _decode_cursor(cursor, namespace, prefix)
        await self._flush_for_read()
        upper = _prefix_upper_bound(prefix)
        sql = (
            f"SELECT {_sql.COLUMNS} FROM entries WHERE namespace = ? AND key > ? AND key >= ?"
            + (" AND key < ?" if upper is not None else "")
            + " AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?"
        )
        budget = max_bytes if max_bytes is not None else float("inf")
        rows: list[Any] = []
        used = 0
        more = False
        while len(rows) < limit:
            # Read in chunks sized to what the budget has left, so a page of large values never
            # pulls much more than it returns.
            left = limit - len(rows)
            if rows and max_bytes is not None:
                average = used / len(rows)
                left = max(1, min(left, int((budget - used) // average)))
            params: list[Any] = [namespace, after, prefix]
            if upper is not None:
                params.append(upper)
            params += [self._clock(), left + 1]
            chunk = await self._reader.fetchall(sql, params)
            for row in chunk[:left]:
                cost = row[12] + ENTRY_OVERHEAD
                if rows and used + cost > budget:
                    more = True
                    break
                rows.append(row)
                used += cost
            if more or len(chunk) <= left:
                more = more or len(chunk) > left
                break
            after = rows[-1][1]
            more = True
        entries = tuple(e for e in (self._overlay(r) for r in rows) if e is not None)
        next_cursor = _encode_cursor(namespace, prefix, rows[-1][1]) if more and rows else None
        return Page(entries=entries, next_cursor=next_cursor)

    async def namespaces(self, *, prefix: str = "", after: str = "", limit: int = 100) -> list[str]:
        """Namespaces holding live entries, in order: those starting with `prefix`, after `after`
        (for paging). Pending writes are flushed first.

        Raises:
            InvalidArgument: a limit outside 1..1000.
        """
        check_limit(limit, most=MAX_LIST)
        await self._flush_for_read()
        upper = _prefix_upper_bound(prefix)
        rows = await self._reader.fetchall(
            "SELECT namespace FROM entries WHERE namespace > ? AND namespace >= ?"
            + (" AND namespace < ?" if upper is not None else "")
            + " AND (expires_at IS NULL OR expires_at > ?) GROUP BY namespace ORDER BY namespace LIMIT ?",
            [after, prefix, *([upper] if upper is not None else []), self._clock(), limit],
        )
        return [r[0] for r in rows]

    async def keys(self, namespace: str, *, prefix: str = "", limit: int = 100) -> list[str]:
        """Keys of live entries of `namespace` starting with `prefix`, in order (values are not
        read). Pending writes are flushed first.

        Raises:
            InvalidArgument: a bad namespace, or a limit outside 1..1000.
        """
        check_namespace(namespace)
        check_limit(limit, most=MAX_LIST)
        await self._flush_for_read()
        upper = _prefix_upper_bound(prefix)
        rows = await self._reader.fetchall(
            "SELECT key FROM entries WHERE namespace = ? AND key >= ?" + (" AND key < ?" if upper is not None else "")
            + " AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?",
            [namespace, prefix, *([upper] if upper is not None else []), self._clock(), limit],
        )
        return [r[0] for r in rows]

    async def search(
        self, query: str, *, namespace: str | None = None, tags: Iterable[str] = (), limit: int = 10
    ) -> list[SearchHit]:
        """Full-text search over keys, string values and tags, best first (bm25; key and tag
        matches weigh more than value matches). Each chunk of `query` must match (a phrase;
        `word*` is a prefix). `tags`: only entries carrying all of them. Pending writes are
        flushed and the FTS backlog indexed first, so every acknowledged write is searchable;
        the query itself runs on the read connection, in one snapshot whose index is complete.

        Raises:
            InvalidArgument: an empty query, bad namespace, tags, or limit (1..100).
        """
        match = _fts_query(query)
        if namespace is not None:
            check_namespace(namespace)
        tag_t = check_tags(tags)
        check_limit(limit, most=MAX_SEARCH)
        where = ["entries_fts MATCH ?", "(e.expires_at IS NULL OR e.expires_at > ?)"]
        params: list[Any] = [match, self._clock()]
        if namespace is not None:
            where.append("e.namespace = ?")
            params.append(namespace)
        for tag in tag_t:
            where.append("EXISTS (SELECT 1 FROM json_each(e.tags) WHERE value = ?)")
            params.append(tag)
        cols = ", ".join(f"e.{c.strip()}" for c in _sql.COLUMNS.split(","))
        # One statement, so one snapshot: its first column says whether that snapshot's index
        # lags (a flush committed between our indexing and the read); then its hits could match
        # text an entry no longer has, and the search runs again.
        sql = (
            "WITH lag (n) AS (SELECT EXISTS (SELECT 1 FROM fts_backlog)), "
            "top AS (SELECT e.id AS rid, bm25(entries_fts, 4.0, 1.0, 2.0) AS score "
            f"FROM entries_fts JOIN entries AS e ON e.id = entries_fts.rowid WHERE {' AND '.join(where)} "
            "ORDER BY score LIMIT ?), "
            f"hits AS (SELECT {cols}, top.score AS score, snippet(entries_fts, -1, '[', ']', '…', 16) "
            "FROM top JOIN entries_fts ON entries_fts.rowid = top.rid JOIN entries AS e ON e.id = top.rid "
            "WHERE entries_fts MATCH ?) "
            "SELECT lag.n, hits.* FROM lag LEFT JOIN hits ON true ORDER BY hits.score"
        )
        args = (*params, limit, match)
        rows: list[Any] = []
        for attempt in range(_SEARCH_TRIES + 1):
            if attempt < _SEARCH_TRIES:
                await self._sync_for_search()
                rows = await self._reader.fetchall(sql, args)
            else:  # flushes kept committing in between: hold them off this once
                async with self._write_lock:
                    await self._flush_locked()
                    await self._index_locked(None)
                    rows = await self._reader.fetchall(sql, args)
            if not rows[0][0] or self._read_only is not None:
                break
        hits = []
        for r in rows:
            if r[1] is None:
                continue  # the LEFT JOIN's row when nothing matched
            entry = self._overlay(r[1:14])
            if entry is not None:
                hits.append(SearchHit(entry=entry, score=r[14], snippet=r[15] or ""))
        return hits

    def _overlay(self, row: tuple[Any, ...]) -> Entry | None:
        """A row read from SQLite, unless the hot tier has since changed or deleted it."""
        slot = self._hot.get((row[0], row[1]))
        if slot is None or slot.version == row[6] and slot.value is not None:
            return entry_from_row(row)
        if slot.value is None or (slot.expires_at is not None and slot.expires_at <= self._clock()):
            return None
        return make_entry(
            row[0], row[1], orjson.loads(slot.value), slot.tags,
            None if slot.metadata is None else orjson.loads(slot.metadata), slot.agent_id, slot.version,
            slot.created, slot.updated, slot.accessed, slot.access_count, slot.expires_at,
        )

    async def _flush_for_read(self) -> None:
        if self._dirty or self._inflight:
            await self.flush()

    # ---- stats -------------------------------------------------------------------------

    async def usage(self, *, namespace: str | None = None, agent_id: str | None = None) -> dict[str, int]:
        """Live entries and their bytes in one namespace, or owned by one agent (after a flush)."""
        if (namespace is None) == (agent_id is None):
            raise InvalidArgument("usage needs exactly one of namespace or agent_id")
        try:
            await self._flush_for_read()
        except Unavailable:
            pass  # what is committed is still a fair answer
        column, value = ("namespace", namespace) if namespace is not None else ("agent_id", agent_id)
        rows = await self._reader.fetchall(
            f"SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE {column} = ? "
            "AND (expires_at IS NULL OR expires_at > ?)", (value, self._clock()),
        )
        return {"entries": int(rows[0][0]), "bytes": int(rows[0][1])}

    async def stats(self, *, detail: StatsDetail = "summary") -> dict[str, Any]:
        """Figures measured now: entries and bytes per namespace (live entries in SQLite after a
        flush), the hot tier, pending writes, flushes, file sizes. `detailed` adds read-through,
        sweep and record-table figures; `by-agent` adds entries and bytes per `agent_id`.

        Raises:
            InvalidArgument: an unknown `detail`.
        """
        if detail not in ("summary", "detailed", "by-agent"):
            raise InvalidArgument(f"detail must be 'summary', 'detailed' or 'by-agent', not {detail!r}")
        flush_error = None
        now = self._clock()
        live = "expires_at IS NULL OR expires_at > ?"
        namespaces = self._namespace_figures(now)
        if namespaces is None:
            try:
                await self._flush_for_read()
            except Unavailable as exc:
                flush_error = str(exc)
            namespaces = await self._count_namespaces(now)
        lookups = self._hits + self._misses
        out: dict[str, Any] = {
            "entries": sum(v["entries"] for v in namespaces.values()),
            "bytes": sum(v["bytes"] for v in namespaces.values()),
            "namespaces": namespaces,
            "hot": {
                "entries": len(self._hot),
                "bytes": self._hot_bytes,
                "max_entries": self._max_entries,
                "max_bytes": self._max_bytes,
                "hits": self._hits,
                "misses": self._misses,
                "hit_rate": self._hits / lookups if lookups else None,
                "evictions": self._evictions,
            },
            "pending_writes": self.pending_writes,
            "quota": {"max_bytes": self._quota, "used_bytes": self.used_bytes},
            "flush": {
                "count": self._flushes,
                "rows": self._flushed_rows,
                "failures": self._flush_failures,
                "last_at": self._last_flush_at,
                "last_duration_s": self._last_flush_duration,
                "last_rows": self._last_flush_rows,
                "error": self._flush_error or flush_error,
                "failing_since": self._flush_error_since,
                "interval_s": self._config.flush_interval,
                "max_dirty": self._max_dirty,
            },
            "fts": {
                "backlog_pending": self._fts_pending,
                "backlog_at_open": self._fts_backlog_at_open,
                "index_batches": self._index_batches,
                "indexed_rows": self._indexed_rows,
                "last_index_rows": self._last_index_rows,
                "last_index_duration_s": self._last_index_duration,
                "error": self._index_error,
            },
            "files": {"path": self._size_paths[0][1], **self._file_sizes()},
            "read_only": self._read_only,
        }
        if detail == "detailed":
            counts = {}
            for table in ("swarms", "agents", "tasks", "events", "networks", "brains"):
                counts[table] = (await self._reader.fetchall(f"SELECT count(*) FROM {table}"))[0][0]
            page = await self._reader.fetchall("PRAGMA page_count")
            free = await self._reader.fetchall("PRAGMA freelist_count")
            tombstones = await self._reader.fetchall("SELECT count(*) FROM tombstones")
            backlog = await self._reader.fetchall(_sql.BACKLOG_COUNT)
            out["detailed"] = {
                "read_throughs": self._read_throughs,
                "sweeps": self._sweeps,
                "expired_swept": self._swept,
                "records": counts,
                "schema_version": SCHEMA_VERSION,
                "synchronous": self._config.synchronous,
                "db_pages": page[0][0],
                "db_free_pages": free[0][0],
                "key_filter_bytes": self._keys.nbytes,
                "ttl_heap": len(self._expiry),
                "tombstones": tombstones[0][0],
                "tombstone_horizon_s": self._config.tombstone_horizon,
                "fts_backlog_rows": backlog[0][0],
            }
        elif detail == "by-agent":
            rows = await self._reader.fetchall(
                f"SELECT agent_id, count(*), coalesce(sum(size), 0) FROM entries WHERE {live} GROUP BY agent_id", (now,)
            )
            out["agents"] = {("" if r[0] is None else r[0]): {"entries": r[1], "bytes": r[2]} for r in rows}
        return out

    def _namespace_figures(self, now: float) -> dict[str, dict[str, int]] | None:
        """The last per-namespace counts, while nothing can have changed them: no write, delete or
        import since (each moves `_seq` or `_epoch`), and no entry has expired since."""
        cached = self._ns_cache
        if cached is None or cached[0] != (self._seq, self._epoch) or now >= cached[1]:
            return None
        return {name: dict(figures) for name, figures in cached[2].items()}

    async def _count_namespaces(self, now: float) -> dict[str, dict[str, int]]:
        """Live entries and bytes per namespace, counted in SQLite (after a flush), and kept until
        the next write or the next expiry."""
        mark = (self._seq, self._epoch)
        rows = await self._reader.fetchall(
            "SELECT namespace, count(*), coalesce(sum(size), 0), "
            "(SELECT min(expires_at) FROM entries WHERE expires_at > ?1) "
            "FROM entries WHERE expires_at IS NULL OR expires_at > ?1 GROUP BY namespace",
            (now,),
        )
        namespaces = {r[0]: {"entries": r[1], "bytes": r[2]} for r in rows}
        next_expiry = rows[0][3] if rows and rows[0][3] is not None else float("inf")
        if not self._dirty and not self._inflight:
            self._ns_cache = (mark, next_expiry, namespaces)
        return {name: dict(figures) for name, figures in namespaces.items()}

    def _file_sizes(self) -> dict[str, int]:
        sizes = {}
        for name, path in self._size_paths:
            try:
                sizes[name] = os.stat(path).st_size
            except OSError:
                sizes[name] = 0
        return sizes

    # ---- export, import, backup -----------------------------------------------------------

    async def export(self, path: Path, *, namespace: str | None = None) -> int:
        """Write live entries (all, or one namespace) to a JSON Lines file; returns how many.

        Flushes first; the file is one consistent snapshot, written atomically.

        Raises:
            Unavailable: the file could not be written.
        """
        if namespace is not None:
            check_namespace(namespace)
        await self._flush_for_read()
        return await anyio.to_thread.run_sync(
            lambda: export_sync(self._config.path, Path(path), namespace=namespace, now=self._clock())
        )

    async def import_(self, path: Path, *, mode: ImportMode = "merge") -> ImportReport:
        """Load an export file in one transaction; the whole file is validated first.

        `merge`: an entry is written when the store lacks it or holds an older version.
        `replace`: first delete the exported namespace (the header's), or every entry when the
        file is a whole-store export. Expired entries in the file are left out. A key the store
        deleted (or `replace` deletes) comes back with a version above its last one: versions
        never go backwards. Writers wait while the import runs.

        Raises:
            InvalidArgument: not an export file, a newer format, a bad line (nothing is written).
            Unavailable: read-only store or the transaction failed.
        """
        if mode not in ("merge", "replace"):
            raise InvalidArgument(f"mode must be 'merge' or 'replace', not {mode!r}")
        if self._read_only is not None:
            raise self._read_only_error()
        parsed = await anyio.to_thread.run_sync(
            lambda: parse_import(
                Path(path), now=self._clock(), max_value_bytes=self._max_value, max_file_bytes=self._config.max_import_bytes
            )
        )
        self.check_quota(sum(r[12] for r in parsed.rows), what=f"importing {len(parsed.rows)} entries (nothing was imported)")
        gate = self._gate = anyio.Event()
        try:
            async with self._write_lock:
                await self._flush_locked()
                with anyio.CancelScope(shield=True):
                    deleted, skipped = await self._apply_import(parsed.rows, mode, parsed.namespace)
                    self._db_bytes = await in_writer_thread(self._db, pages_in_use)
                self._epoch += 1
                dropped = [k for k in self._lru if mode == "merge" or parsed.namespace in (None, k[0])]
                if mode == "merge":
                    incoming = {(r[0], r[1]) for r in parsed.rows}
                    dropped = [k for k in dropped if k in incoming]
                for k in dropped:
                    del self._lru[k]
                    self._hot_bytes -= self._hot.pop(k).size
                    self._touched.discard(k)
                for r in parsed.rows:
                    self._keys.add((r[0], r[1]))
        finally:
            self._gate = None
            gate.set()
        report = ImportReport(
            mode=mode, namespace=parsed.namespace, imported=len(parsed.rows) - skipped, skipped=skipped,
            expired=parsed.expired, deleted=deleted,
        )
        log.info("store_imported", path=str(path), mode=mode, imported=report.imported, skipped=skipped, deleted=deleted)
        return report

    async def _apply_import(self, rows: list[tuple[Any, ...]], mode: ImportMode, namespace: str | None) -> tuple[int, int]:
        try:
            counts = await in_writer_thread(self._db, apply_import, rows, mode, namespace, self._clock())
        except sqlite3.Error as exc:
            raise Unavailable(f"Import into {str(self._config.path)!r} failed ({exc}); nothing was imported") from exc
        self._fts_pending = True
        return counts

    async def backup(self, path: Path) -> BackupReport:
        """A consistent copy of the whole database (entries and records) through SQLite's
        online backup API, taken after a flush; written to a temporary file, then renamed.

        Raises:
            InvalidArgument: `path` is the live database.
            Unavailable: the copy could not be written.
        """
        await self._flush_for_read()
        size, pages, duration = await anyio.to_thread.run_sync(backup_sync, self._config.path, Path(path))
        log.info("store_backed_up", path=str(path), bytes=size, duration_s=round(duration, 4))
        return BackupReport(path=Path(path), bytes=size, pages=pages, duration=duration)

    # ---- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Flush everything, index the FTS backlog, and close both connections (idempotent).
        `open_store` calls it, shielded."""
        if self._db is None:
            return
        lost = 0
        error = None
        try:
            if self._read_only is None:
                async with self._write_lock:
                    try:
                        await self._flush_locked()
                    except Unavailable as exc:
                        lost, error = len(self._dirty), exc
                    else:
                        try:
                            await self._index_locked(None)  # the next open may be read-only
                        except Unavailable:
                            pass  # logged; the committed backlog is indexed at the next open
        finally:
            db, self._db = self._db, None  # type: ignore[assignment]
            try:
                self.journal.close()
                await self._reader.aclose()
            finally:
                await db.close()
        if error is not None:
            log.error("store_closed_with_unwritten_entries", path=str(self._config.path), lost=lost)
            raise Unavailable(
                f"Closed {str(self._config.path)!r} with {lost} writes that could not be committed ({error})"
            )
        log.info("store_closed", path=str(self._config.path))


async def _key_filter(db: aiosqlite.Connection) -> KeyFilter:
    rows = await db.execute_fetchall(KEYS_SQL)
    keys = KeyFilter(max(1_000_000, 2 * len(rows)))
    for row in rows:
        keys.add((row[0], row[1]))
    return keys


@asynccontextmanager
async def open_store(config: StoreConfig, *, clock: Callable[[], float] = time.time,
                     background: bool = True) -> AsyncIterator[TieredStore]:
    """Open the store, run its flusher and TTL sweeper, and on exit flush everything.

    With `background=False` the caller runs them (`store.background()` names them, e.g. for a
    supervisor); the final flush on exit happens either way.

    The final flush and close are shielded, so they also run when the caller is cancelled.
    An exception from the body propagates as itself (not inside an ExceptionGroup). A search
    index backlog left by a crash is indexed before this returns.

    Raises:
        StoreCorrupt: the file is not a readable store (never recreated over).
        Unavailable: the file cannot be created or opened; or, on exit, writes could not be committed.
    """
    opened = await open_db(config)
    reader: ReadConnection | None = None
    try:
        keys = await _key_filter(opened.db)
        backlog = (await opened.db.execute_fetchall(_sql.BACKLOG_COUNT))[0][0]
        db_bytes = await in_writer_thread(opened.db, pages_in_use)
        reader = await ReadConnection.open(opened.read_uri, busy_timeout=config.busy_timeout)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await opened.db.close()
        raise
    store = TieredStore(config, opened.db, clock=clock, read_only=opened.read_only, keys=keys, reader=reader,
                        fts_backlog=backlog, db_bytes=db_bytes)
    log.info("store_opened", path=str(config.path), created=opened.created, read_only=opened.read_only,
             entries=keys.count, fts_backlog=backlog)
    body_error: Exception | None = None
    try:
        if backlog and opened.read_only is None:
            started = time.perf_counter()
            try:
                indexed = await store.index_backlog()
            except Unavailable:
                pass  # logged; the flusher retries and search raises it
            else:
                log.info("store_fts_backlog_indexed", path=str(config.path), rows=indexed,
                         duration_s=round(time.perf_counter() - started, 4))
        elif backlog:
            log.warning("store_fts_backlog_unindexed", path=str(config.path), rows=backlog,
                        reason="read-only: search may miss or misreport these entries")
        async with anyio.create_task_group() as tg:
            if background:
                for _, loop in store.background():
                    await tg.start(loop)
            try:
                yield store
            except Exception as exc:  # re-raised below, outside the task group
                body_error = exc
            finally:
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await store.aclose()
    if body_error is not None:
        raise body_error
