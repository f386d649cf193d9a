"""Configuration and the immutable values the store hands out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from swarm_mcp.errors import InvalidArgument

Synchronous = Literal["OFF", "NORMAL", "FULL"]
StatsDetail = Literal["summary", "detailed", "by-agent"]
ImportMode = Literal["merge", "replace"]


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How a store is opened. Sizes are bytes, times seconds.

    `flush_interval`: the longest a non-durable write waits before the flusher commits it.
    `flush_max_dirty`: flush early once this many entries are dirty.
    `synchronous`: SQLite's level; NORMAL survives a process crash, FULL also a power loss.
    `max_db_bytes`: refuse to grow the database past this size (None: only the disk limits it).
    `check_on_open`: run `PRAGMA quick_check` when opening an existing file.
    `max_import_bytes`: the largest export file `import_` reads (it is parsed whole, in memory).
    `max_bytes`: the store quota: a write that would grow the database's pages in use (entries,
    their search index, networks, records) plus pending writes past this is refused; reads and
    deletes keep working (None: no quota).
    `tombstone_horizon`: how long a deleted or expired key remembers its last version, so that
    writing it again continues from there (a compare-and-set that read its version longer ago
    than this before a delete could be fooled by a recreated key; see docs/memory.md).
    """

    path: Path
    hot_max_entries: int = 100_000
    hot_max_bytes: int = 256 * 2**20
    flush_interval: float = 0.05
    flush_max_dirty: int = 1_000
    synchronous: Synchronous = "NORMAL"
    max_value_bytes: int = 2**20
    sweep_interval: float = 1.0
    busy_timeout: float = 5.0
    max_db_bytes: int | None = None
    check_on_open: bool = True
    tombstone_horizon: float = 7 * 86_400.0
    max_import_bytes: int = 2**30
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        positive = {
            "hot_max_entries": self.hot_max_entries, "hot_max_bytes": self.hot_max_bytes,
            "flush_interval": self.flush_interval, "flush_max_dirty": self.flush_max_dirty,
            "max_value_bytes": self.max_value_bytes, "sweep_interval": self.sweep_interval,
            "busy_timeout": self.busy_timeout, "tombstone_horizon": self.tombstone_horizon,
            "max_import_bytes": self.max_import_bytes,
        }
        for name, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InvalidArgument(f"StoreConfig.{name} must be a positive number, not {value!r}")
        if self.synchronous not in ("OFF", "NORMAL", "FULL"):
            raise InvalidArgument(f"StoreConfig.synchronous must be 'OFF', 'NORMAL' or 'FULL', not {self.synchronous!r}")
        if self.max_bytes is not None and (isinstance(self.max_bytes, bool) or not isinstance(self.max_bytes, int) or self.max_bytes < 1):
            raise InvalidArgument(f"StoreConfig.max_bytes must be None or a positive number of bytes, not {self.max_bytes!r}")
        if self.max_db_bytes is not None and self.max_db_bytes < 64 * 1024:
            raise InvalidArgument(f"StoreConfig.max_db_bytes must be None or at least 65536, not {self.max_db_bytes!r}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One memory entry as of the moment it was read or written.

    `version` starts at 1 and grows by one on every update. It never goes backwards: a key
    written again after a delete or expiry continues from its last version + 1 (for
    `StoreConfig.tombstone_horizon` after the delete). Times come from the store's clock (Unix
    seconds).
    """

    namespace: str
    key: str
    value: Any
    tags: tuple[str, ...]
    metadata: Mapping[str, Any] | None
    agent_id: str | None
    version: int
    created: float
    updated: float
    accessed: float
    access_count: int
    expires_at: float | None

    def to_json(self, now: float) -> dict[str, Any]:
        """The entry as tools and resources show it; `now` is read after the operation, so a TTL never grows."""
        return {
            "namespace": self.namespace,
            "key": self.key,
            "value": self.value,
            "version": self.version,
            "tags": list(self.tags),
            "metadata": self.metadata,
            "agent_id": self.agent_id,
            "created": self.created,
            "updated": self.updated,
            "accessed": self.accessed,
            "access_count": self.access_count,
            "expires_at": self.expires_at,
            "ttl_remaining_s": None if self.expires_at is None else max(0.0, self.expires_at - now),
        }


@dataclass(frozen=True, slots=True)
class Page:
    """One page of `list`; pass `next_cursor` back to get the next (None: this was the last)."""

    entries: tuple[Entry, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A search result: lower `score` is better (SQLite's bm25); `snippet` marks matches with [ ]."""

    entry: Entry
    score: float
    snippet: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What `import_` did: rows written, rows kept because the store had a newer or equal version,
    expired rows left out, and rows removed first by `replace`."""

    mode: ImportMode
    namespace: str | None
    imported: int
    skipped: int
    expired: int
    deleted: int


@dataclass(frozen=True, slots=True)
class BackupReport:
    """A finished backup: where, how big, and how long it took."""

    path: Path
    bytes: int
    pages: int
    duration: float


_new = object.__new__
_set_namespace = Entry.__dict__["namespace"].__set__
_set_key = Entry.__dict__["key"].__set__
_set_value = Entry.__dict__["value"].__set__
_set_tags = Entry.__dict__["tags"].__set__
_set_metadata = Entry.__dict__["metadata"].__set__
_set_agent_id = Entry.__dict__["agent_id"].__set__
_set_version = Entry.__dict__["version"].__set__
_set_created = Entry.__dict__["created"].__set__
_set_updated = Entry.__dict__["updated"].__set__
_set_accessed = Entry.__dict__["accessed"].__set__
_set_access_count = Entry.__dict__["access_count"].__set__
_set_expires_at = Entry.__dict__["expires_at"].__set__


def make_entry(
    namespace: str, key: str, value: Any, tags: tuple[str, ...], metadata: Mapping[str, Any] | None,
    agent_id: str | None, version: int, created: float, updated: float, accessed: float, access_count: int,
    expires_at: float | None,
) -> Entry:
    """`Entry(...)` at half the cost: the frozen dataclass `__init__` is slow on the put/get hot path."""
    e = _new(Entry)
    _set_namespace(e, namespace)
    _set_key(e, key)
    _set_value(e, value)
    _set_tags(e, tags)
    _set_metadata(e, metadata)
    _set_agent_id(e, agent_id)
    _set_version(e, version)
    _set_created(e, created)
    _set_updated(e, updated)
    _set_accessed(e, accessed)
    _set_access_count(e, access_count)
    _set_expires_at(e, expires_at)
    return e
