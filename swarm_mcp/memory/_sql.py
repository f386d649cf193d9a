"""SQL shared by the store's modules.

Writes to `entries` never touch `entries_fts`: every changed rowid goes to `fts_backlog` in the
same transaction (updates and deletes by triggers, inserts by `BACKLOG_NEW`), and
`FTS_*_BACKLOG` bring the index up to date later.

The flush binds a whole batch as one JSON array (`json_each(?)`), not one row per
`executemany` step: every step hands the GIL back and forth between the writer's thread and
the event loop, and while the loop is busy each hand-back waits for the interpreter's switch
interval (5 ms), so a 1,000-row `executemany` could take seconds under load.
"""

from __future__ import annotations

from ._schema import BODY, TAGS

COLUMNS = (
    "namespace, key, value, tags, metadata, agent_id, version, created, updated, accessed, access_count, expires_at, size"
)
_N_COLUMNS = len(COLUMNS.split(","))
_FROM_JSON = ", ".join(f"j.value ->> {i}" for i in range(_N_COLUMNS))

# Entries first, then the tombstone of a deleted or expired key (value NULL: no live entry, but
# `version` is the last one it had).
SELECT_ONE = f"""
SELECT {COLUMNS} FROM (
    SELECT {COLUMNS}, 0 AS rank FROM entries WHERE namespace = ?1 AND key = ?2
    UNION ALL
    SELECT namespace, key, NULL, '[]', NULL, NULL, version, deleted_at, deleted_at, deleted_at, 0, NULL, 0, 1
    FROM tombstones WHERE namespace = ?1 AND key = ?2
) ORDER BY rank LIMIT 1
"""

# Each `->>` costs about as much as inserting the row, so the common first write with no tags,
# metadata, agent or TTL travels as 5 fields: [namespace, key, value, time, size].
UPSERT_FRESH_JSON = f"""
INSERT INTO entries ({COLUMNS})
SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, '[]', NULL, NULL, 1, j.value ->> 3, j.value ->> 3,
       j.value ->> 3, 0, NULL, j.value ->> 4
FROM json_each(?1) AS j WHERE true
ON CONFLICT (namespace, key) DO UPDATE SET
    value = excluded.value, tags = excluded.tags, metadata = excluded.metadata,
    agent_id = excluded.agent_id, version = excluded.version, created = excluded.created,
    updated = excluded.updated, accessed = excluded.accessed, access_count = excluded.access_count,
    expires_at = excluded.expires_at, size = excluded.size
"""
# ?1: a JSON array of rows in COLUMNS order.
UPSERT_JSON = f"""
INSERT INTO entries ({COLUMNS})
SELECT {_FROM_JSON} FROM json_each(?1) AS j WHERE true
ON CONFLICT (namespace, key) DO UPDATE SET
    value = excluded.value, tags = excluded.tags, metadata = excluded.metadata,
    agent_id = excluded.agent_id, version = excluded.version, created = excluded.created,
    updated = excluded.updated, accessed = excluded.accessed, access_count = excluded.access_count,
    expires_at = excluded.expires_at, size = excluded.size
"""
# ?1: a JSON array of [namespace, key, last version]; ?2: the time of deletion.
TOMBSTONE_JSON = """
INSERT INTO tombstones (namespace, key, version, deleted_at)
SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, ?2 FROM json_each(?1) AS j WHERE true
ON CONFLICT (namespace, key) DO UPDATE SET
    version = max(version, excluded.version), deleted_at = excluded.deleted_at
"""
DELETE_JSON = """
DELETE FROM entries WHERE (namespace, key) IN (SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?1) AS j)
"""
# ?1: a JSON array of [accessed, access_count, namespace, key].
TOUCH_JSON = """
UPDATE entries SET accessed = max(entries.accessed, t.accessed), access_count = max(entries.access_count, t.n)
FROM (SELECT j.value ->> 0 AS accessed, j.value ->> 1 AS n, j.value ->> 2 AS namespace, j.value ->> 3 AS key
      FROM json_each(?1) AS j) AS t
WHERE entries.namespace = t.namespace AND entries.key = t.key
"""

# The same writes, one bound row at a time: for the rare rows whose key or agent_id holds a NUL
# character, which SQLite's JSON functions (3.40) cut short.
UPSERT_ROW = f"""
INSERT INTO entries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (namespace, key) DO UPDATE SET
    value = excluded.value, tags = excluded.tags, metadata = excluded.metadata,
    agent_id = excluded.agent_id, version = excluded.version, created = excluded.created,
    updated = excluded.updated, accessed = excluded.accessed, access_count = excluded.access_count,
    expires_at = excluded.expires_at, size = excluded.size
"""
TOMBSTONE_ROW = """
INSERT INTO tombstones (namespace, key, version, deleted_at) VALUES (?, ?, ?, ?)
ON CONFLICT (namespace, key) DO UPDATE SET
    version = max(version, excluded.version), deleted_at = excluded.deleted_at
"""
DELETE_ROW = "DELETE FROM entries WHERE namespace = ? AND key = ?"
TOUCH_ROW = (
    "UPDATE entries SET accessed = max(accessed, ?), access_count = max(access_count, ?) WHERE namespace = ? AND key = ?"
)

# Before inserting: the largest id. After: every row above it is new (SQLite gives a new row the
# largest rowid + 1; only at 2**63 - 1 would it pick another), and goes to the backlog unless a
# deleted row's capture already holds that id.
MAX_ID = "SELECT coalesce(max(id), 0) FROM entries"
BACKLOG_NEW = """
INSERT INTO fts_backlog (id)
SELECT e.id FROM entries AS e WHERE e.id > ?1 AND NOT EXISTS (SELECT 1 FROM fts_backlog AS b WHERE b.id = e.id)
"""

# FTS maintenance, one batch of the backlog: ids up to ?1. Remove the text the index holds for
# each (the captured row), add the current row's, forget the batch. (CROSS JOIN keeps the small
# backlog as the outer loop; otherwise SQLite may walk all of `entries`.)
BACKLOG_BATCH_END = "SELECT id FROM fts_backlog ORDER BY id LIMIT 1 OFFSET ?"
FTS_UNINDEX_BACKLOG = f"""
INSERT INTO entries_fts (entries_fts, rowid, key, body, tags)
SELECT 'delete', b.id, b.key, {BODY.format(v="b.value")}, {TAGS.format(t="b.tags")}
FROM fts_backlog AS b WHERE b.id <= ?1 AND b.value IS NOT NULL
"""
FTS_INDEX_BACKLOG = f"""
INSERT INTO entries_fts (rowid, key, body, tags)
SELECT e.id, e.key, {BODY.format(v="e.value")}, {TAGS.format(t="e.tags")}
FROM fts_backlog AS b CROSS JOIN entries AS e ON e.id = b.id WHERE b.id <= ?1
"""
CLEAR_BACKLOG = "DELETE FROM fts_backlog WHERE id <= ?1"
BACKLOG_COUNT = "SELECT count(*) FROM fts_backlog"
LAST_ID = 2**63 - 1

# TTL: expired rows leave a tombstone with their last version, then go.
TOMBSTONE_EXPIRED = """
INSERT INTO tombstones (namespace, key, version, deleted_at)
SELECT namespace, key, version, expires_at FROM entries WHERE expires_at <= ?1
ON CONFLICT (namespace, key) DO UPDATE SET
    version = max(version, excluded.version), deleted_at = excluded.deleted_at
"""
DELETE_EXPIRED = "DELETE FROM entries WHERE expires_at <= ?1"
PURGE_TOMBSTONES = "DELETE FROM tombstones WHERE deleted_at <= ?1"
# SQLite's own clock, Unix seconds: record tombstones are stamped by triggers (cascades included).
NOW = "((julianday('now') - 2440587.5) * 86400.0)"
PURGE_RECORD_TOMBSTONES = f"DELETE FROM record_tombstones WHERE deleted_at <= {NOW} - ?1"

# Import. Stage rows first; 'replace' deletes (leaving tombstones), 'merge' drops staged rows the
# store has at an equal or newer version; a key the store deleted comes back above its tombstone.
STAGE_INSERT = f"INSERT INTO stage ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
TOMBSTONE_NAMESPACE = """
INSERT INTO tombstones (namespace, key, version, deleted_at)
SELECT namespace, key, version, ?2 FROM entries WHERE ?1 IS NULL OR namespace = ?1
ON CONFLICT (namespace, key) DO UPDATE SET
    version = max(version, excluded.version), deleted_at = excluded.deleted_at
"""
DELETE_NAMESPACE = "DELETE FROM entries WHERE ?1 IS NULL OR namespace = ?1"
MARK_STAGED_NEWER = """
DELETE FROM stage WHERE EXISTS (
    SELECT 1 FROM entries AS e WHERE e.namespace = stage.namespace AND e.key = stage.key
    AND e.version >= stage.version)
"""
LIFT_STAGED_ABOVE_TOMBSTONES = """
UPDATE stage SET version = max(stage.version, t.version + 1)
FROM tombstones AS t
WHERE t.namespace = stage.namespace AND t.key = stage.key
AND NOT EXISTS (SELECT 1 FROM entries AS e WHERE e.namespace = stage.namespace AND e.key = stage.key)
"""
UPSERT_STAGED = f"""
INSERT INTO entries ({COLUMNS})
SELECT {COLUMNS} FROM stage WHERE true
ON CONFLICT (namespace, key) DO UPDATE SET
    value = excluded.value, tags = excluded.tags, metadata = excluded.metadata,
    agent_id = excluded.agent_id, version = excluded.version, created = excluded.created,
    updated = excluded.updated, accessed = excluded.accessed, access_count = excluded.access_count,
    expires_at = excluded.expires_at, size = excluded.size
"""
CLEAR_STAGE = "DELETE FROM stage"
