"""TieredStore: a dict in front, one SQLite file behind, written behind in batches.

Every entry lives in `_hot` while it is dirty (written, not yet committed) or in flight (in the
batch being committed); only clean entries sit in `_lru` and can be evicted. A key that is not
hot is read through from SQLite (on the read connection), unless the Bloom filter says it was
never stored. All SQLite writes, flushes and FTS indexing included, hold `_write_lock`, so each
is one transaction that nothing interleaves with.

Versions never go backwards: a deleted key keeps its last version in its slot (value None) and,
once committed, in `tombstones`; writing it again continues from there.
"""

from __future__ import annotations

import heapq
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiosqlite
import anyio
import orjson
import structlog
from anyio.abc import TaskStatus
from anyio.lowlevel import checkpoint

from swarm_mcp.errors import InvalidArgument, LimitExceeded, Unavailable

from . import _sql
from ._bloom import KeyFilter
from ._errors import VersionConflict
from ._limits import (
    MAX_KEY_CHARS,
    check_depth,
    check_key,
    check_metadata,
    check_namespace,
    check_tags,
    check_text,
    check_ttl,
    check_version,
    dump_json,
)
from ._reader import ReadConnection
from ._types import Entry, StoreConfig, make_entry
from ._writer import CHUNK as _CHUNK
from ._writer import Prepared, in_writer_thread, index_batch, pages_in_use, sweep_expired, write_batch_and_measure

log = structlog.get_logger()

Key = tuple[str, str]
KEYS_SQL = "SELECT namespace, key FROM entries UNION ALL SELECT namespace, key FROM tombstones"
_RETRY = object()
_dumps = orjson.dumps
_monotonic = time.monotonic
_loads = orjson.loads
# Rows of the FTS backlog indexed per transaction by the background flusher: each batch holds the
# write lock, so it bounds how long a durable write or a flush waits behind indexing.
INDEX_BATCH = 1_000


class _Slot:
    """The hot tier's record of one key. `value` and `metadata` are JSON text (`str`: an
    orjson `bytes` kept alive costs several times its serialization in malloc, a `str` does not,
    and SQLite binds it as TEXT). `value is None`: deleted (pending, or a tombstone read from
    SQLite); `version` is then the last version the key had."""

    __slots__ = (
        "value", "tags", "metadata", "agent_id", "version", "created", "updated",
        "accessed", "access_count", "expires_at", "size", "seq",
    )

    def __init__(
        self, value: str | None, tags: tuple[str, ...], metadata: str | None, agent_id: str | None,
        version: int, created: float, updated: float, accessed: float, access_count: int,
        expires_at: float | None, size: int, seq: int,
    ) -> None:
        self.value = value
        self.tags = tags
        self.metadata = metadata
        self.agent_id = agent_id
        self.version = version
        self.created = created
        self.updated = updated
        self.accessed = accessed
        self.access_count = access_count
        self.expires_at = expires_at
        self.size = size
        self.seq = seq


def _slot_from_row(row: tuple[Any, ...]) -> _Slot:
    """A clean slot from a `SELECT_ONE` row: an entry, or a tombstone (value NULL)."""
    return _Slot(
        row[2], tuple(_loads(row[3])), row[4], row[5], row[6], row[7], row[8], row[9], row[10], row[11], row[12], 0,
    )


def _row(k: Key, s: _Slot) -> tuple[Any, ...]:
    """The slot as an `entries` row in `_sql.COLUMNS` order (value None: a deletion)."""
    return (
        k[0], k[1], s.value, _dumps(s.tags).decode() if s.tags else "[]", s.metadata, s.agent_id,
        s.version, s.created, s.updated, s.accessed, s.access_count, s.expires_at, s.size,
    )


def entry_from_row(row: tuple[Any, ...]) -> Entry:
    """An `Entry` from a row selected with `_sql.COLUMNS`."""
    return make_entry(
        row[0], row[1], _loads(row[2]), tuple(_loads(row[3])), None if row[4] is None else _loads(row[4]),
        row[5], row[6], row[7], row[8], row[9], row[10], row[11],
    )


class KVCore:
    """The key-value half of `TieredStore`: hot tier, read-through, write-behind, TTL sweep."""

    def __init__(
        self, config: StoreConfig, db: aiosqlite.Connection, *, clock: Callable[[], float],
        read_only: str | None, keys: KeyFilter, reader: ReadConnection, fts_backlog: int = 0, db_bytes: int = 0,
    ) -> None:
        self._config = config
        # the quota: pages in use as of the last commit, plus what writes since then may add
        self._quota = config.max_bytes
        self._db_bytes = db_bytes
        self._pending_bytes = 0
        self._db = db
        self._reader = reader
        self._clock = clock
        self._read_only = read_only
        self._max_entries = config.hot_max_entries
        self._max_bytes = config.hot_max_bytes
        self._max_value = config.max_value_bytes
        self._max_dirty = config.flush_max_dirty
        self._hot: dict[Key, _Slot] = {}
        self._lru: OrderedDict[Key, None] = OrderedDict()
        self._dirty: dict[Key, None] = {}
        self._dirty_since = 0.0  # time.monotonic() of the first write into the current `_dirty`
        self._taken = anyio.Event()  # set each time a flush takes `_dirty` as its batch
        self._window = config.flush_interval
        self._inflight: dict[Key, None] = {}
        self._touched: set[Key] = set()
        self._touching: set[Key] = set()  # the touched keys a running flush is writing
        self._evicted_touch: dict[Key, tuple[float, int]] = {}
        self._hot_bytes = 0
        self._seq = 0
        self._committed_seq = 0
        self._keys = keys
        self._loading: dict[Key, anyio.Event] = {}
        self._epoch = 0
        self._write_lock = anyio.Lock(fast_acquire=True)
        self._wake = anyio.Event()
        self._gate: anyio.Event | None = None
        self._expiry: list[tuple[float, Key]] = []
        self._ok_ns: set[str] = set()
        # figures for stats()
        self._hits = 0
        self._misses = 0
        self._read_throughs = 0
        self._evictions = 0
        self._flushes = 0
        self._flush_failures = 0
        self._flushed_rows = 0
        self._last_flush_at: float | None = None
        self._last_flush_duration: float | None = None
        self._last_flush_rows = 0
        self._flush_error: str | None = None
        self._flush_error_since: float | None = None
        self._sweeps = 0
        self._swept = 0
        self._flushed = anyio.Event()
        # FTS: whether `fts_backlog` may hold rows (a false True costs one empty batch)
        self._fts_pending = fts_backlog > 0 and read_only is None
        self._fts_backlog_at_open = fts_backlog
        self._index_batches = 0
        self._indexed_rows = 0
        self._last_index_rows = 0
        self._last_index_duration: float | None = None
        self._index_error: str | None = None
        self._indexed = anyio.Event()

    # ---- the hot path ------------------------------------------------------------------

    async def put(
        self, namespace: str, key: str, value: Any, *, tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None, ttl: float | None = None, if_version: int | None = None,
        durable: bool = False, agent_id: str | None = None,
    ) -> Entry:
        """Write an entry and return it as stored: version 1 when new, else the last version + 1
        (also after a delete or expiry: versions never go backwards, see `tombstone_horizon`).

        Acknowledged from memory: a flush commits it within `flush_interval` (plus one flush's
        duration). With `durable=True` the call returns only after the SQLite transaction that
        contains it has committed. `if_version`: write only if the current version is this one
        (0: only if absent). `ttl`: seconds until the entry expires. `agent_id` defaults to
        `metadata["agent_id"]` when that is a string. Every put replaces value, tags, metadata
        and TTL; `created` and the access figures carry over.

        Raises:
            VersionConflict: `if_version` did not match; `actual` is the current version.
            InvalidArgument, LimitExceeded: a bad namespace, key, value, tag, metadata or ttl.
            Unavailable: the store is read-only, or a durable write (or making room in a
                hot tier full of unflushed writes) could not be committed; a durable write that
                raised stays applied in memory and is retried by the flusher.
        """
        if self._gate is not None:
            await self._wait_gate()
        if self._read_only is not None:
            raise self._read_only_error()
        if namespace not in self._ok_ns:
            self._remember_namespace(namespace)
        if key.__class__ is not str or not 0 < len(key) <= MAX_KEY_CHARS or not key.isascii():
            check_key(key)
        try:
            blob = _dumps(value)
        except TypeError:
            blob = dump_json(value, what="value", limit=self._max_value)
        nbytes = len(blob)
        if nbytes > self._max_value:
            dump_json(value, what="value", limit=self._max_value)
        if value.__class__ is dict or value.__class__ is list:
            check_depth(value, blob, what="value")
        text = blob.decode()
        tag_t = check_tags(tags) if tags else ()
        meta = None
        meta_bytes = 0
        if metadata is not None:
            meta_blob = check_metadata(metadata, limit=self._max_value)
            if meta_blob is not None:
                meta_bytes = len(meta_blob)
                meta = meta_blob.decode()
            if agent_id is None:
                candidate = metadata.get("agent_id")
                agent_id = candidate if isinstance(candidate, str) else None
        if agent_id is not None:
            if not isinstance(agent_id, str):
                raise InvalidArgument(f"agent_id must be a string or None, not {type(agent_id).__name__}")
            check_text(agent_id, what="agent_id")
        if ttl is not None:
            ttl = check_ttl(ttl)
        if if_version is not None:
            check_version(if_version)
        k = (namespace, key)
        hot = self._hot
        while True:
            slot = hot.get(k)
            if slot is None:
                # The filter covers every key that is hot or stored: add this one, and read
                # through only when it may be stored already.
                if self._keys.add(k) or self._loading:
                    slot = await self._resolve(k)
                if slot is None and (len(hot) >= self._max_entries or self._hot_bytes >= self._max_bytes) and not self._lru:
                    await self._make_room()
                    continue
            break
        # No awaits from here until the write is applied: the version check and the write are atomic.
        now = self._clock()
        current = _check_version(namespace, key, slot, now, if_version)
        size = nbytes + len(key) + meta_bytes + (sum(map(len, tag_t)) if tag_t else 0)
        grow = size - (slot.size if slot is not None and slot.value is not None else 0)
        if self._quota is not None and grow > 0:
            self.check_quota(grow, what=f"storing {key!r}")
            self._pending_bytes += grow
        self._seq += 1
        seq = self._seq
        expires_at = None if ttl is None else now + ttl
        if slot is None:
            slot = _Slot(text, tag_t, meta, agent_id, 1, now, now, now, 0, expires_at, size, seq)
            hot[k] = slot
            self._hot_bytes += size
        else:
            self._lru.pop(k, None)
            self._hot_bytes += size - slot.size
            if current == 0:
                # absent, but maybe deleted or expired: a new entry, whose version continues
                # from the last one so that a stale if_version can never match it
                slot.created = slot.accessed = now
                slot.access_count = 0
            slot.version += 1
            slot.value = text
            slot.tags = tag_t
            slot.metadata = meta
            slot.agent_id = agent_id
            slot.updated = now
            slot.expires_at = expires_at
            slot.size = size
            slot.seq = seq
        dirty = self._dirty
        if not dirty:
            self._dirty_since = _monotonic()
        dirty[k] = None
        if expires_at is not None:
            heapq.heappush(self._expiry, (expires_at, k))
        entry = make_entry(
            namespace, key, value, tag_t, metadata, agent_id, slot.version, slot.created, now,
            slot.accessed, slot.access_count, expires_at,
        )
        if len(hot) > self._max_entries or self._hot_bytes > self._max_bytes:
            self._evict()
        if durable:
            await self._flush_until(seq)
        elif len(dirty) % self._max_dirty == 0:
            await self._make_way_for_the_flusher()
        return entry

    async def get(self, namespace: str, key: str) -> Entry | None:
        """The live entry, or None when absent or expired. A hit records the access (time, count).

        Raises:
            InvalidArgument, LimitExceeded: a bad namespace or key.
        """
        k = (namespace, key)
        slot = self._hot.get(k)
        if slot is None:
            self._misses += 1
            if namespace not in self._ok_ns:
                self._remember_namespace(namespace)
            check_key(key)
            if not self._loading and k not in self._keys:
                return None
            slot = await self._resolve(k)
            if slot is None:
                return None
        else:
            self._hits += 1
        if slot.value is None:
            return None
        now = self._clock()
        if slot.expires_at is not None and slot.expires_at <= now:
            return None
        slot.accessed = now
        slot.access_count += 1
        if k in self._lru:
            self._lru.move_to_end(k)
            self._touched.add(k)
        return make_entry(
            namespace, key, _loads(slot.value), slot.tags, None if slot.metadata is None else _loads(slot.metadata),
            slot.agent_id, slot.version, slot.created, slot.updated, now, slot.access_count, slot.expires_at,
        )

    async def delete(
        self, namespace: str, key: str, *, if_version: int | None = None, durable: bool = False
    ) -> bool:
        """Delete an entry; True when a live entry was deleted, False when there was none.

        The same acknowledgement and `durable` rules as `put`.

        Raises:
            VersionConflict: `if_version` did not match the current version (0 when absent).
            Unavailable: read-only store, or a durable delete could not be committed.
        """
        if self._gate is not None:
            await self._wait_gate()
        if self._read_only is not None:
            raise self._read_only_error()
        if namespace not in self._ok_ns:
            self._remember_namespace(namespace)
        check_key(key)
        if if_version is not None:
            check_version(if_version)
        k = (namespace, key)
        slot = self._hot.get(k)
        if slot is None and (self._loading or k in self._keys):
            slot = await self._resolve(k)
        now = self._clock()
        current = _check_version(namespace, key, slot, now, if_version)
        if slot is None or slot.value is None:
            return False
        self._seq += 1
        self._lru.pop(k, None)
        self._touched.discard(k)
        slot.value = None
        slot.seq = self._seq
        if not self._dirty:
            self._dirty_since = _monotonic()
        self._dirty[k] = None
        if durable:
            await self._flush_until(self._seq)
        elif len(self._dirty) % self._max_dirty == 0:
            await self._make_way_for_the_flusher()
        return current != 0

    # ---- health, for watchers -----------------------------------------------------------

    @property
    def write_error(self) -> str | None:
        """Why pending writes cannot be committed right now (disk full, read-only file), or None."""
        return self._flush_error

    @property
    def read_only_reason(self) -> str | None:
        """Why the store was opened read-only, or None when it accepts writes."""
        return self._read_only

    @property
    def quota_bytes(self) -> int | None:
        """The quota `used_bytes` is held under (setting memory_max_bytes)."""
        return self._quota

    # ---- the quota ---------------------------------------------------------------------

    @property
    def used_bytes(self) -> int:
        """What the quota counts now: the database's pages in use after the last commit, plus
        the bytes pending writes may add."""
        return self._db_bytes + self._pending_bytes

    def check_quota(self, grow: int, *, what: str) -> None:
        """Refuse a write that would take the store past `StoreConfig.max_bytes`.

        Raises:
            LimitExceeded: over the quota (reads and deletes keep working).
        """
        if self._quota is not None and self.used_bytes + grow > self._quota:
            raise LimitExceeded(
                f"The store is full: {what} needs about {grow:,} bytes, and {self.used_bytes:,} of its {self._quota:,}-byte "
                "quota (setting memory_max_bytes) are in use. Delete entries that are no longer needed (memory_usage "
                "action 'delete', or store with a ttl), or raise memory_max_bytes; reads keep working"
            )

    def note_written(self, nbytes: int) -> None:
        """A record write (written through, outside the flush) added about `nbytes`; the next
        flush measures the file again."""
        self._db_bytes += max(nbytes, 0)

    # ---- read-through ------------------------------------------------------------------

    async def _resolve(self, k: Key) -> _Slot | None:
        """The hot slot for `k`, loading it from SQLite when it may be stored there.

        Returns right after its last await, so the caller acts on a state nobody changed since.
        Only one load per key runs at a time; others wait for it and look again.
        """
        while True:
            slot = self._hot.get(k)
            if slot is not None:
                return slot
            event = self._loading.get(k)
            if event is not None:
                await event.wait()
                continue
            if k not in self._keys:
                return None
            loaded = await self._load(k)
            if loaded is _RETRY:
                continue
            return loaded  # type: ignore[return-value]

    async def _load(self, k: Key) -> _Slot | None | object:
        event = self._loading[k] = anyio.Event()
        epoch = self._epoch
        try:
            rows = await self._reader.fetch_point(_sql.SELECT_ONE, k)
        except sqlite3.Error as exc:
            raise Unavailable(
                f"Could not read {k[1]!r} from {str(self._config.path)!r} ({exc}); entries in memory are still served"
            ) from exc
        finally:
            del self._loading[k]
            event.set()
        self._read_throughs += 1
        if self._epoch != epoch:
            return _RETRY
        slot = self._hot.get(k)
        if slot is not None:
            return slot
        if not rows:
            return None
        slot = _slot_from_row(rows[0])
        touch = self._evicted_touch.pop(k, None) if slot.value is not None else None
        if touch is not None:
            slot.accessed = max(slot.accessed, touch[0])
            slot.access_count = max(slot.access_count, touch[1])
            self._touched.add(k)
        self._evict()  # before installing, so the slot just loaded is not the one evicted
        self._hot[k] = slot
        self._hot_bytes += slot.size
        self._lru[k] = None
        if slot.expires_at is not None:
            heapq.heappush(self._expiry, (slot.expires_at, k))
        return slot

    # ---- hot-tier bounds ---------------------------------------------------------------

    def _full(self) -> bool:
        return (len(self._hot) >= self._max_entries or self._hot_bytes >= self._max_bytes) and not self._lru

    async def _make_room(self) -> None:
        """The hot tier is full of unflushed writes: flush (backpressure) so some become
        evictable. Raises Unavailable when the flush fails; the caller then looks again."""
        await self.flush()

    def _evict(self) -> None:
        hot, lru = self._hot, self._lru
        while (len(hot) > self._max_entries or self._hot_bytes > self._max_bytes) and lru:
            k, _ = lru.popitem(last=False)
            slot = hot.pop(k)
            self._hot_bytes -= slot.size
            self._evictions += 1
            if k in self._touched or k in self._touching:  # (a flush may be preparing it right now)
                self._touched.discard(k)
                self._evicted_touch[k] = (slot.accessed, slot.access_count)

    # ---- write-behind ------------------------------------------------------------------

    async def flush(self) -> int:
        """Commit every pending write now, in one transaction; returns the entries written.

        Raises:
            Unavailable: the transaction failed (read-only file, disk full, …); the writes stay
                pending in memory and are retried.
        """
        async with self._write_lock:
            return await self._flush_locked()

    @property
    def pending_writes(self) -> int:
        """Writes acknowledged and not yet committed (dirty, or in the flush now committing)."""
        return len(self._dirty) + len(self._inflight)

    @property
    def flush_count(self) -> int:
        """How many flushes have committed since the store opened."""
        return self._flushes

    async def wait_flushed(self, after: int) -> None:
        """Wait until `flush_count` exceeds `after` (bound it with `anyio.fail_after`)."""
        while self._flushes <= after:
            await self._flushed.wait()

    async def _flush_until(self, seq: int) -> None:
        while self._committed_seq < seq:
            async with self._write_lock:
                if self._committed_seq >= seq:
                    return
                await self._flush_locked()

    async def _make_way_for_the_flusher(self) -> None:
        """Every `flush_max_dirty` writes: wake the flusher and yield once (a writer that never
        awaits anything else would starve it; the lock is fast_acquire, so one yield lets it take
        the batch). Then backpressure for writers that outrun it: when the oldest pending write
        has waited longer than `flush_interval`, wait until a flush takes the pending writes as
        its batch (the writer goes on while that batch commits), so a burst cannot leave more
        than one flush window uncommitted, which is what the kill -9 contract promises. Not while
        flushes are failing: writes then stay in memory, as the contract says."""
        self._wake.set()
        await checkpoint()
        pending = self._dirty
        if not pending or _monotonic() - self._dirty_since <= self._window:
            return
        while self._dirty is pending and self._flush_error is None:
            self._wake.set()
            await self._taken.wait()

    async def _flush_locked(self) -> int:
        batch = self._dirty
        touched, evicted_touch = self._touched, self._evicted_touch
        seq_hi = self._seq
        if not batch and not touched and not evicted_touch:
            self._committed_seq = seq_hi
            return 0
        since = self._dirty_since
        pending_bytes, self._pending_bytes = self._pending_bytes, 0
        self._dirty, self._touched, self._evicted_touch = {}, set(), {}
        self._inflight, self._touching = batch, touched
        self._taken.set()
        self._taken = anyio.Event()
        started = time.perf_counter()
        # Shielded: a flush is one transaction, never cut in half, and what it swapped out above
        # must be committed or put back. Preparing a big batch yields to the event loop every
        # `_CHUNK` rows (readers and writers go on meanwhile; a slot written during the yield is
        # still dirty, and committing its newer state early is harmless).
        with anyio.CancelScope(shield=True):
            try:
                prepared = await self._prepare(batch, touched, evicted_touch)
                await self._write_batch(prepared)
            except BaseException as exc:
                self._inflight, self._touching = {}, set()
                self._pending_bytes += pending_bytes
                self._dirty = batch | self._dirty
                self._dirty_since = since
                self._touched |= touched
                for k, v in evicted_touch.items():
                    self._evicted_touch.setdefault(k, v)
                if isinstance(exc, sqlite3.Error | ValueError):
                    raise self._flush_failed(exc) from exc
                raise
            self._inflight, self._touching = {}, set()
            self._committed_seq = seq_hi
            if batch:
                self._fts_pending = True
            duration = time.perf_counter() - started
            hot, lru = self._hot, self._lru
            for n, k in enumerate(batch, 1):
                s = hot.get(k)
                if s is None or s.seq > seq_hi:
                    pass  # written again meanwhile: still dirty
                elif s.value is None:
                    del hot[k]  # the tombstone is committed; a later write reads its version through
                    self._hot_bytes -= s.size
                else:
                    lru[k] = None
                if n % _CHUNK == 0:
                    await checkpoint()
        self._flushes += 1
        self._flushed_rows += len(batch)
        self._last_flush_at = self._clock()
        self._last_flush_duration = duration
        self._last_flush_rows = len(batch)
        self._flushed.set()
        self._flushed = anyio.Event()
        if self._flush_error is not None:
            log.info("store_flush_recovered", path=str(self._config.path), failed_since=self._flush_error_since)
            self._flush_error = self._flush_error_since = None
        self._evict()
        if self._keys.count > self._keys.capacity:
            await self._rebuild_key_filter()
        return len(batch)

    async def _prepare(
        self, batch: dict[Key, None], touched: set[Key], evicted_touch: dict[Key, tuple[float, int]]
    ) -> Prepared:
        """The batch as JSON documents of at most `_CHUNK` rows each (plus the rare rows JSON
        cannot carry), yielding to the event loop between chunks."""
        out = Prepared()
        hot = self._hot
        fresh: list[tuple[str, str, str, float, int]] = []
        live: list[tuple[Any, ...]] = []
        dead: list[tuple[str, str, int]] = []
        for n, k in enumerate(batch, 1):
            s = hot[k]
            if "\x00" in k[1] or (s.agent_id is not None and "\x00" in s.agent_id):
                out.odd.append(_row(k, s))  # SQLite's JSON functions would cut the string at the NUL
            elif s.value is None:
                dead.append((k[0], k[1], s.version))
            elif (s.version == 1 and not s.tags and s.metadata is None and s.agent_id is None and s.expires_at is None
                  and s.access_count == 0 and s.created == s.updated == s.accessed):
                fresh.append((k[0], k[1], s.value, s.created, s.size))
            else:
                live.append(_row(k, s))
            if n % _CHUNK == 0:
                out.add(fresh, live, dead)
                fresh, live, dead = [], [], []
                await checkpoint()
        out.add(fresh, live, dead)
        touches: list[tuple[float, int, str, str]] = []
        for n, k in enumerate(touched, 1):
            s = hot.get(k)
            if k not in batch and s is not None and s.value is not None:
                touches.append((s.accessed, s.access_count, k[0], k[1]))
            if n % _CHUNK == 0:
                await out.add_touches(touches)
                touches = []
        touches.extend((a, c, k[0], k[1]) for k, (a, c) in evicted_touch.items() if k not in batch)
        await out.add_touches(touches)
        return out

    async def _write_batch(self, batch: Prepared) -> None:
        """Commit `batch` in one transaction, run as one call on the writer's thread; then the
        pages in use are what the quota counts."""
        self._db_bytes = await in_writer_thread(self._db, write_batch_and_measure, batch, self._clock())

    # ---- FTS indexing ------------------------------------------------------------------

    async def index_backlog(self, *, limit: int | None = None) -> int:
        """Bring the full-text index up to date with committed entries; returns rows indexed.

        Flushes only write entries; their FTS rows are queued in `fts_backlog` (committed with
        them) and indexed here: by the background flusher after each flush, `INDEX_BATCH` rows
        per transaction; by `search`, which indexes everything first; and at open, for a backlog
        a crash left. `limit`: at most this many rows, in one transaction (None: all).

        Raises:
            Unavailable: the index could not be written; the backlog stays and is retried.
        """
        async with self._write_lock:
            return await self._index_locked(limit)

    async def _index_locked(self, limit: int | None) -> int:
        if not self._fts_pending:
            return 0
        started = time.perf_counter()
        with anyio.CancelScope(shield=True):  # one transaction, never cut in half
            try:
                indexed, done = await in_writer_thread(self._db, index_batch, limit)
                if done:  # the backlog held deleted values for the index: their pages are free now
                    self._db_bytes = await in_writer_thread(self._db, pages_in_use)
            except sqlite3.Error as exc:  # rolled back on the writer's thread
                if self._index_error is None:
                    log.error("store_fts_index_failed", path=str(self._config.path), error=str(exc))
                self._index_error = str(exc)
                raise Unavailable(
                    f"Could not update the search index in {str(self._config.path)!r} ({exc}); the entries are "
                    "committed and will be indexed when the database is writable again. Free disk space"
                ) from exc
        if done:
            self._fts_pending = False
        if self._index_error is not None:
            log.info("store_fts_index_recovered", path=str(self._config.path))
            self._index_error = None
        self._index_batches += 1
        self._indexed_rows += indexed
        self._last_index_rows = indexed
        self._last_index_duration = time.perf_counter() - started
        self._indexed.set()
        self._indexed = anyio.Event()
        return indexed

    @property
    def index_count(self) -> int:
        """How many FTS indexing transactions have committed since the store opened."""
        return self._index_batches

    async def wait_indexed(self, after: int) -> None:
        """Wait until `index_count` exceeds `after` and nothing is left to index (bound it with
        `anyio.fail_after`)."""
        while self._index_batches <= after or self._fts_pending:
            await self._indexed.wait()

    async def _sync_for_search(self) -> None:
        """Commit pending writes and index the backlog, so every acknowledged write is searchable."""
        if self._read_only is not None:
            return
        if self._dirty or self._inflight or self._fts_pending:
            async with self._write_lock:
                await self._flush_locked()
                await self._index_locked(None)

    def _flush_failed(self, exc: Exception) -> Unavailable:
        self._flush_failures += 1
        pending = len(self._dirty)
        if self._flush_error is None:
            self._flush_error_since = self._clock()
            log.error("store_flush_failed", path=str(self._config.path), error=str(exc), pending=pending)
        self._flush_error = str(exc)
        return Unavailable(
            f"Could not write to the memory database {str(self._config.path)!r} ({exc}); {pending} writes are kept "
            "in memory and retried. Free disk space or make the data directory writable; reads keep working"
        )

    async def _rebuild_key_filter(self) -> None:
        """Grow the filter (and drop keys whose tombstones are gone): stored keys and tombstones,
        plus every hot key, added after the last await so keys written meanwhile are covered.
        Runs under the write lock."""
        rows = await self._db.execute_fetchall(KEYS_SQL)
        keys = KeyFilter(2 * (len(rows) + len(self._hot)))
        for row in rows:
            keys.add((row[0], row[1]))
        for k in self._hot:
            keys.add(k)
        self._keys = keys

    async def flush_forever(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The background flusher: every `flush_interval`, or sooner when `flush_max_dirty` are
        dirty, commit pending writes; after each flush, index one batch of the FTS backlog, and
        go on without sleeping while a backlog remains."""
        task_status.started()
        interval = self._config.flush_interval
        while True:
            failing = self._flush_error is not None or self._index_error is not None
            if failing or not self._fts_pending:
                with anyio.move_on_after(max(interval, 1.0) if failing else interval):
                    await self._wake.wait()
                self._wake = anyio.Event()
            if self._dirty or self._touched or self._evicted_touch:
                try:
                    await self.flush()
                except Unavailable:
                    continue  # logged once by _flush_failed; surfaces in stats and durable writes
            if self._fts_pending:
                try:
                    await self.index_backlog(limit=INDEX_BATCH)
                except Unavailable:
                    pass  # logged once; search raises it, stats shows it

    # ---- TTL ---------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Drop expired entries from memory and delete them from SQLite, leaving tombstones that
        keep their last versions; forget tombstones older than `tombstone_horizon`. Returns the
        entries deleted."""
        self._sweeps += 1
        if self._read_only is not None:
            self._drop_expired_hot(self._clock())
            return 0
        async with self._write_lock:
            await self._flush_locked()
            now = self._clock()
            self._drop_expired_hot(now)
            with anyio.CancelScope(shield=True):
                try:
                    swept = await in_writer_thread(self._db, sweep_expired, now, self._config.tombstone_horizon)
                except sqlite3.Error as exc:
                    raise self._flush_failed(exc) from exc
        if swept:
            self._fts_pending = True
        self._swept += swept
        return swept

    def _drop_expired_hot(self, now: float) -> None:
        heap, hot, lru = self._expiry, self._hot, self._lru
        while heap and heap[0][0] <= now:
            _, k = heapq.heappop(heap)
            slot = hot.get(k)
            if slot is not None and k in lru and slot.expires_at is not None and slot.expires_at <= now:
                del hot[k]
                del lru[k]
                self._hot_bytes -= slot.size
                self._touched.discard(k)

    async def sweep_forever(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The background sweeper: `sweep()` every `sweep_interval`."""
        task_status.started()
        while True:
            await anyio.sleep(self._config.sweep_interval)
            try:
                await self.sweep()
            except Unavailable:
                pass

    # ---- helpers -----------------------------------------------------------------------

    def _remember_namespace(self, namespace: str) -> None:
        check_namespace(namespace)
        if len(self._ok_ns) < 65_536:
            self._ok_ns.add(namespace)

    def _read_only_error(self) -> Unavailable:
        return Unavailable(
            f"The memory database {str(self._config.path)!r} is open read-only ({self._read_only}); writes are "
            "refused, reads work. Make the file and its directory writable and restart"
        )

    async def _wait_gate(self) -> None:
        while self._gate is not None:
            await self._gate.wait()


def _check_version(namespace: str, key: str, slot: Any, now: float, if_version: int | None) -> int:
    """The entry's live version (0 when absent, deleted or expired), checked against `if_version`.

    Raises:
        VersionConflict: `if_version` is given and differs.
    """
    current = 0 if slot is None or slot.value is None or (slot.expires_at is not None and slot.expires_at <= now) else slot.version
    if if_version is not None and if_version != current:
        raise VersionConflict(namespace, key, expected=if_version, actual=current)
    return current
