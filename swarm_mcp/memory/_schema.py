"""The SQLite schema, its forward migrations, and opening a database file safely.

Schema version 1: `entries` (+ the FTS5 index `entries_fts` over a view that extracts the text
of each value), and the tables later subsystems keep: `swarms`, `agents`, `tasks`, `events`,
`networks`. `schema_version` holds one row per applied migration.

Version 2: `fts_backlog` (entries whose FTS rows are out of date: the flush commits rows there
and a separate step indexes them). Version 3: `tombstones` (the last version of deleted and
expired keys, so a key's version never goes backwards). Version 4: `record_tombstones`, the
same for swarms, agents, tasks and networks. Version 5: `brains` (agent networks).
"""

from __future__ import annotations

import os
import stat
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import structlog

from swarm_mcp.errors import Unavailable

from ._errors import StoreCorrupt
from ._types import StoreConfig

log = structlog.get_logger()

SQLITE_MAGIC = b"SQLite format 3\x00"

# The text FTS indexes for a value: its string leaves, in document order. The same expression
# must produce the 'delete' rows, so it is defined once here.
BODY = "(SELECT group_concat(j.atom, ' ') FROM json_tree({v}) AS j WHERE j.type = 'text')"
TAGS = "(SELECT group_concat(t.value, ' ') FROM json_each({t}) AS t)"

_V1 = f"""
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT,
    agent_id TEXT,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    accessed REAL NOT NULL,
    access_count INTEGER NOT NULL DEFAULT 0,
    expires_at REAL,
    size INTEGER NOT NULL,
    UNIQUE (namespace, key)
);
CREATE INDEX entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX entries_agent ON entries (agent_id) WHERE agent_id IS NOT NULL;
CREATE VIEW entries_fts_source (id, key, body, tags) AS
    SELECT id, key, {BODY.format(v="entries.value")}, {TAGS.format(t="entries.tags")} FROM entries;
CREATE VIRTUAL TABLE entries_fts USING fts5 (
    key, body, tags, content = 'entries_fts_source', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE swarms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    swarm_id TEXT REFERENCES swarms (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX agents_swarm ON agents (swarm_id);
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    swarm_id TEXT REFERENCES swarms (id) ON DELETE CASCADE,
    agent_id TEXT REFERENCES agents (id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX tasks_swarm ON tasks (swarm_id, status, priority);
CREATE INDEX tasks_agent ON tasks (agent_id);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    swarm_id TEXT,
    agent_id TEXT,
    task_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX events_swarm ON events (swarm_id, seq);
CREATE INDEX events_agent ON events (agent_id, seq);
CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    agent_id TEXT REFERENCES agents (id) ON DELETE SET NULL,
    metadata TEXT NOT NULL,
    weights BLOB NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX networks_agent ON networks (agent_id);
"""

# The FTS index lags `entries` by the rows in `fts_backlog`. For each row there, the index holds
# the text of the captured (key, value, tags), or nothing when `value` is NULL; for every other
# id it holds exactly the text of `entries` (or nothing when there is no such row). Indexing a
# backlog row removes the captured text and adds the current row's. Rowids may be reused after a
# delete: the capture describes the index, not a key, so that stays correct.
# Updates and deletes are captured by triggers (which test NOT EXISTS rather than use OR IGNORE:
# an outer UPSERT overrides a trigger's conflict clause). Inserts are not: a per-row trigger costs
# a fifth of a flush, so writers add new rows set-based (`_sql.BACKLOG_NEW`: ids above the
# largest id before the insert, which is how SQLite assigns new rowids).
_V2 = """
CREATE TABLE fts_backlog (
    id INTEGER PRIMARY KEY,
    key TEXT,
    value TEXT,
    tags TEXT
);
CREATE TRIGGER entries_backlog_update AFTER UPDATE OF key, value, tags ON entries
WHEN NEW.value IS NOT OLD.value OR NEW.tags IS NOT OLD.tags OR NEW.key IS NOT OLD.key BEGIN
    INSERT INTO fts_backlog (id, key, value, tags) SELECT OLD.id, OLD.key, OLD.value, OLD.tags
    WHERE NOT EXISTS (SELECT 1 FROM fts_backlog WHERE id = OLD.id);
END;
CREATE TRIGGER entries_backlog_delete AFTER DELETE ON entries BEGIN
    INSERT INTO fts_backlog (id, key, value, tags) SELECT OLD.id, OLD.key, OLD.value, OLD.tags
    WHERE NOT EXISTS (SELECT 1 FROM fts_backlog WHERE id = OLD.id);
END;
"""

# The last version of each deleted or expired key, until the sweeper forgets it
# (`StoreConfig.tombstone_horizon`), so that writing the key again continues from there.
_V3 = """
CREATE TABLE tombstones (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted_at REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX tombstones_age ON tombstones (deleted_at);
"""

# The last version of each deleted swarm, agent, task and network (also when a foreign key
# cascade deletes it), so that creating the id again continues from there and a compare-and-set
# holding a version from before the delete cannot match the new record. Stamped and purged with
# SQLite's clock (`_sql.NOW`), since a cascade has no other. A foreign key that clears a task's
# or network's `agent_id` changes the record: it gets a new version too.
_V4 = """
CREATE TABLE record_tombstones (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted_at REAL NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX record_tombstones_age ON record_tombstones (deleted_at);
""" + "".join(
    f"""
CREATE TRIGGER {kind}_tombstone AFTER DELETE ON {kind} BEGIN
    INSERT OR REPLACE INTO record_tombstones (kind, id, version, deleted_at)
    VALUES ('{kind}', OLD.id, OLD.version, (julianday('now') - 2440587.5) * 86400.0);
END;
"""
    for kind in ("swarms", "agents", "tasks", "networks")
) + "".join(
    f"""
CREATE TRIGGER {kind}_agent_cleared AFTER UPDATE OF agent_id ON {kind}
WHEN NEW.version = OLD.version BEGIN
    UPDATE {kind} SET version = version + 1 WHERE id = NEW.id;
END;
"""
    for kind in ("tasks", "networks")
)

# Agent brains: each agent's network parameters and recent experiences (opaque blobs written by
# the swarm engine through `Journal`), removed with their agent or swarm.
_V5 = """
CREATE TABLE brains (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
    swarm_id TEXT REFERENCES swarms (id) ON DELETE CASCADE,
    layout TEXT NOT NULL,
    params BLOB NOT NULL,
    experiences BLOB NOT NULL,
    meta TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX brains_swarm ON brains (swarm_id, agent_id);
CREATE INDEX tasks_swarm_id ON tasks (swarm_id, id);
"""

# (version, description, DDL). Append only; never edit an applied step.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "entries with FTS5; swarms, agents, tasks, events, networks", _V1),
    (2, "fts_backlog: the FTS index is brought up to date after the flush, not in it", _V2),
    (3, "tombstones: a deleted or expired key's version never goes backwards", _V3),
    (4, "record_tombstones: a deleted record's version never goes backwards", _V4),
    (5, "brains: agent networks and experiences; tasks listed per swarm in id order", _V5),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS stage (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT, tags TEXT, metadata TEXT, agent_id TEXT,
    version INTEGER, created REAL, updated REAL, accessed REAL, access_count INTEGER, expires_at REAL, size INTEGER
)
"""


@dataclass(slots=True)
class OpenedDb:
    db: aiosqlite.Connection
    read_only: str | None  # why the store is read-only, or None
    created: bool
    schema_version: int
    read_uri: str  # how to open more read-only connections to the same file


def _looks_read_only(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("readonly", "read-only", "unable to open", "disk i/o"))


async def _connect(uri: str, config: StoreConfig) -> aiosqlite.Connection:
    db = await aiosqlite.connect(uri, uri=True, isolation_level=None, timeout=config.busy_timeout)
    try:
        await db.execute(f"PRAGMA busy_timeout = {int(config.busy_timeout * 1000)}")
    except BaseException:
        await db.close()
        raise
    return db


async def _schema_version(db: aiosqlite.Connection) -> int:
    rows = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    if not rows:
        return 0
    rows = await db.execute_fetchall("SELECT max(version) FROM schema_version")
    return int(rows[0][0] or 0)


async def _migrate(db: aiosqlite.Connection, current: int, path: Path) -> None:
    for version, description, ddl in MIGRATIONS:
        if version <= current:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL, description TEXT NOT NULL)"
            )
            for statement in _split(ddl):
                await db.execute(statement)
            await db.execute(
                "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                (version, time.time(), description),
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        log.info("store_migrated", path=str(path), version=version)


def _split(ddl: str) -> list[str]:
    """Split a DDL script into statements (trigger bodies hold ';' inside one statement)."""
    out, buf = [], ""
    for part in ddl.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n;"):
        out.append(buf.strip())
    return out


def _make_private(path: Path) -> None:
    """Files an older version created 0644: make the database, -wal and -shm that we own 0600."""
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = os.lstat(name)
            if info.st_uid == os.geteuid() and stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
                os.chmod(name, 0o600)
        except OSError:
            pass  # absent, or not ours: opening reports what matters


async def open_db(config: StoreConfig) -> OpenedDb:
    """Open (or create) the store's SQLite file: header check, pragmas, quick_check, migrations.

    Falls back to a read-only connection when the file exists but cannot be written.

    Raises:
        StoreCorrupt: the file is not a database or fails `PRAGMA quick_check`.
        Unavailable: the file cannot be created or opened, or has a newer schema.
    """
    path = config.path
    existed = path.exists() and path.stat().st_size > 0
    _make_private(path)
    if existed:
        with path.open("rb") as f:
            header = f.read(16)
        if header != SQLITE_MAGIC:
            raise StoreCorrupt(path, "the file does not start with the SQLite header")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Create the file here: a failed aiosqlite connect leaks its worker thread's callback.
            # 0600: SQLite gives the -wal and -shm files the database file's mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        except OSError as exc:
            raise Unavailable(
                f"Cannot create the memory database {str(path)!r} ({exc}); make {str(path.parent)!r} writable "
                "or choose another data directory"
            ) from exc
    try:
        db = await _connect(f"{path.as_uri()}?mode=rwc", config)
    except sqlite3.Error as exc:
        if not existed:
            raise Unavailable(
                f"Cannot create the memory database {str(path)!r} ({exc}); make {str(path.parent)!r} writable "
                "or choose another data directory"
            ) from exc
        return await _open_read_only(config, existed, reason=str(exc))
    try:
        if existed and config.check_on_open:
            await _quick_check(db, path)  # before anything writes: a corrupt file is refused byte for byte untouched
        mode = (await db.execute_fetchall("PRAGMA journal_mode = WAL"))[0][0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch to WAL mode (got {mode})")
        await _configure(db, config)
        current = await _schema_version(db)
        _check_not_newer(current, path)
        await _migrate(db, current, path)
        await db.execute(STAGE_DDL)
    except StoreCorrupt:
        await db.close()
        raise
    except sqlite3.DatabaseError as exc:
        await db.close()
        if existed and _looks_read_only(exc):
            return await _open_read_only(config, existed, reason=str(exc))
        if existed and not isinstance(exc, sqlite3.OperationalError):
            raise StoreCorrupt(path, str(exc)) from exc
        raise Unavailable(f"Cannot open the memory database {str(path)!r} ({exc}); check the file and its directory") from exc
    except BaseException:
        await db.close()
        raise
    return OpenedDb(db=db, read_only=None, created=not existed, schema_version=SCHEMA_VERSION,
                    read_uri=f"{path.as_uri()}?mode=ro")


async def _configure(db: aiosqlite.Connection, config: StoreConfig) -> None:
    await db.execute(f"PRAGMA synchronous = {config.synchronous}")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute("PRAGMA temp_store = MEMORY")
    if config.max_db_bytes is not None:
        page_size = (await db.execute_fetchall("PRAGMA page_size"))[0][0]
        await db.execute(f"PRAGMA max_page_count = {max(1, config.max_db_bytes // page_size)}")


async def _quick_check(db: aiosqlite.Connection, path: Path) -> None:
    try:
        rows = await db.execute_fetchall("PRAGMA quick_check")
    except sqlite3.OperationalError:
        raise  # cannot read it right now (permissions, locks): not evidence of corruption
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(path, str(exc)) from exc
    except UnicodeDecodeError as exc:  # damaged pages can make the report itself undecodable
        raise StoreCorrupt(path, f"quick_check reported damage in text that is not UTF-8 ({exc.reason})") from exc
    problems = [str(r[0]) for r in rows]
    if problems != ["ok"]:
        raise StoreCorrupt(path, "quick_check: " + "; ".join(problems[:3]))


def _check_not_newer(current: int, path: Path) -> None:
    if current > SCHEMA_VERSION:
        raise Unavailable(
            f"The memory database {str(path)!r} has schema version {current}, newer than this swarm-mcp "
            f"understands ({SCHEMA_VERSION}); upgrade swarm-mcp or open a backup made by this version"
        )


async def _open_read_only(config: StoreConfig, existed: bool, *, reason: str) -> OpenedDb:
    path = config.path
    last: sqlite3.Error | None = None
    for query in ("mode=ro", "immutable=1"):
        try:
            db = await _connect(f"{path.as_uri()}?{query}", config)
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            await db.execute("PRAGMA temp_store = MEMORY")
            if config.check_on_open:
                await _quick_check(db, path)
            current = await _schema_version(db)
        except sqlite3.Error as exc:
            await db.close()
            last = exc
            continue
        except BaseException:
            await db.close()
            raise
        _check_not_newer(current, path)
        if current < SCHEMA_VERSION:
            await db.close()
            raise Unavailable(
                f"The memory database {str(path)!r} is read-only ({reason}) and needs a schema upgrade "
                f"from version {current} to {SCHEMA_VERSION}; make it writable and open it again"
            )
        await db.execute(STAGE_DDL)
        log.warning("store_read_only", path=str(path), reason=reason)
        return OpenedDb(db=db, read_only=reason, created=False, schema_version=current,
                        read_uri=f"{path.as_uri()}?{query}")
    raise Unavailable(
        f"Cannot open the memory database {str(path)!r} for writing ({reason}) nor for reading ({last}); "
        "check the permissions of the file and its directory"
    )
