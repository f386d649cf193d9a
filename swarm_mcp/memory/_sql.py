"""SQL shared by the store's modules. Every write to `entries` that changes key, value or tags
goes through these statements, which keep `entries_fts` in step in the same transaction."""

from __future__ import annotations

from ._schema import BODY, TAGS

COLUMNS = (
    "namespace, key, value, tags, metadata, agent_id, version, created, updated, accessed, access_count, expires_at, size"
)
SELECT_ONE = f"SELECT {COLUMNS} FROM entries WHERE namespace = ? AND key = ?"
STAGE_INSERT = f"INSERT INTO stage ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

# Staged rows with value NULL are deletions. FTS rows are removed with the exact text they were
# indexed with (recomputed from the stored row), then re-added for the new content.
FTS_DELETE_STAGED = f"""
INSERT INTO entries_fts (entries_fts, rowid, key, body, tags)
SELECT 'delete', e.id, e.key, {BODY.format(v="e.value")}, {TAGS.format(t="e.tags")}
FROM stage AS s JOIN entries AS e ON e.namespace = s.namespace AND e.key = s.key
"""
DELETE_STAGED = """
DELETE FROM entries WHERE id IN (
    SELECT e.id FROM stage AS s JOIN entries AS e ON e.namespace = s.namespace AND e.key = s.key
    WHERE s.value IS NULL)
"""
UPSERT_STAGED = f"""
INSERT INTO entries ({COLUMNS})
SELECT {COLUMNS} FROM stage WHERE value IS NOT NULL
ON CONFLICT (namespace, key) DO UPDATE SET
    value = excluded.value, tags = excluded.tags, metadata = excluded.metadata,
    agent_id = excluded.agent_id, version = excluded.version, created = excluded.created,
    updated = excluded.updated, accessed = excluded.accessed, access_count = excluded.access_count,
    expires_at = excluded.expires_at, size = excluded.size
"""
FTS_INSERT_STAGED = f"""
INSERT INTO entries_fts (rowid, key, body, tags)
SELECT e.id, e.key, {BODY.format(v="e.value")}, {TAGS.format(t="e.tags")}
FROM stage AS s JOIN entries AS e ON e.namespace = s.namespace AND e.key = s.key
WHERE s.value IS NOT NULL
"""
CLEAR_STAGE = "DELETE FROM stage"
TOUCH = "UPDATE entries SET accessed = max(accessed, ?), access_count = max(access_count, ?) WHERE namespace = ? AND key = ?"

FTS_DELETE_EXPIRED = f"""
INSERT INTO entries_fts (entries_fts, rowid, key, body, tags)
SELECT 'delete', e.id, e.key, {BODY.format(v="e.value")}, {TAGS.format(t="e.tags")}
FROM entries AS e WHERE e.expires_at <= ?
"""
DELETE_EXPIRED = "DELETE FROM entries WHERE expires_at <= ?"

FTS_DELETE_NAMESPACE = f"""
INSERT INTO entries_fts (entries_fts, rowid, key, body, tags)
SELECT 'delete', e.id, e.key, {BODY.format(v="e.value")}, {TAGS.format(t="e.tags")}
FROM entries AS e WHERE e.namespace = ?
"""
DELETE_NAMESPACE = "DELETE FROM entries WHERE namespace = ?"
FTS_DELETE_ALL = "INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')"
DELETE_ALL = "DELETE FROM entries"

# Import 'merge': stage rows, then the newer version wins (ties keep what the store has).
MARK_STAGED_NEWER = """
DELETE FROM stage WHERE EXISTS (
    SELECT 1 FROM entries AS e WHERE e.namespace = stage.namespace AND e.key = stage.key
    AND e.version >= stage.version)
"""
