"""The FTS index is maintained apart from the durability flush: the flush commits entries and
their rowids in `fts_backlog`; indexing the backlog is a separate step; search indexes what is
left first; a backlog left by a crash is indexed at open; a v1 file migrates forward."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import orjson

from swarm_mcp.memory import SCHEMA_VERSION, TieredStore, _sql
from swarm_mcp.memory._schema import MIGRATIONS, _split

FTS_HITS = "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid"


async def test_a_flush_commits_entries_with_their_backlog_and_indexing_empties_it(store: TieredStore, committed) -> None:
    await store.put("ns", "a", "alpha words")
    await store.put("ns", "b", {"nested": ["alpha", {"deep": "beta"}]}, tags=["t1"])
    await store.flush()
    assert committed("SELECT count(*) FROM entries") == [(2,)]
    assert committed("SELECT count(*) FROM fts_backlog") == [(2,)]
    assert committed(FTS_HITS, ("alpha",)) == []  # the flush did not tokenize anything
    assert await store.index_backlog() == 2
    assert committed("SELECT count(*) FROM fts_backlog") == [(0,)]
    assert len(committed(FTS_HITS, ("alpha",))) == 2
    assert len(committed(FTS_HITS, ("beta",))) == 1 and len(committed(FTS_HITS, ("t1",))) == 1


async def test_indexing_in_batches_replaces_old_text_and_removes_deleted_rows(store: TieredStore, committed) -> None:
    for i in range(5):
        await store.put("ns", f"k{i}", f"old{i} common")
    await store.flush()
    await store.index_backlog()
    await store.put("ns", "k0", "new0 common")
    await store.delete("ns", "k1")
    await store.put("ns", "k9", "new9 common")
    await store.flush()
    assert committed("SELECT count(*) FROM fts_backlog") == [(3,)]
    assert await store.index_backlog(limit=2) == 2  # one transaction per batch
    assert await store.index_backlog(limit=2) == 1
    assert committed(FTS_HITS, ("old0",)) == [] and committed(FTS_HITS, ("old1",)) == []
    assert len(committed(FTS_HITS, ("common",))) == 5  # k0, k2, k3, k4, k9
    con = sqlite3.connect(store._config.path)
    try:  # the external-content index agrees with its content exactly
        con.execute("INSERT INTO entries_fts (entries_fts) VALUES ('integrity-check')")
    finally:
        con.close()


async def test_search_indexes_the_backlog_first_so_acknowledged_writes_are_found(store: TieredStore, committed) -> None:
    await store.put("ns", "k", "before")
    await store.flush()  # committed, not indexed
    assert committed("SELECT count(*) FROM fts_backlog") == [(1,)]
    assert [h.entry.key for h in await store.search("before")] == ["k"]
    await store.put("ns", "k", "after")  # pending, not even flushed
    assert await store.search("before") == []
    assert [h.entry.value for h in await store.search("after")] == ["after"]
    assert committed("SELECT count(*) FROM fts_backlog") == [(0,)]


async def test_the_background_flusher_indexes_after_flushing(store_at, committed) -> None:
    async with store_at(flush_interval=0.01) as store:
        indexed = store.index_count
        await store.put("ns", "k", "background words")
        with anyio.fail_after(5):
            await store.wait_indexed(indexed)
        assert committed("SELECT count(*) FROM fts_backlog") == [(0,)]
        stats = await store.stats()
        assert stats["fts"]["indexed_rows"] >= 1 and stats["fts"]["backlog_pending"] is False
        assert len(committed(FTS_HITS, ("background",))) == 1


async def test_a_backlog_left_by_a_crash_is_indexed_at_open(store_at, db_path: Path, committed) -> None:
    async with store_at() as store:
        await store.put("ns", "kept", "stale words")
        await store.put("ns", "gone", "doomed words")
    # what a kill -9 right after a flush leaves: entries changed and their backlog committed,
    # the index not yet updated (the triggers and BACKLOG_NEW are what the flush relies on)
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute("BEGIN")
        con.execute("UPDATE entries SET value = ?, version = 2 WHERE key = 'kept'", (orjson.dumps("fresh words").decode(),))
        con.execute("DELETE FROM entries WHERE key = 'gone'")
        before = con.execute("SELECT max(id) FROM entries").fetchone()[0]
        con.execute(
            "INSERT INTO entries (namespace, key, value, tags, version, created, updated, accessed, size) "
            "VALUES ('ns', 'born', '\"newborn words\"', '[]', 1, 0, 0, 0, 10)"
        )
        con.execute(_sql.BACKLOG_NEW, (before,))
        con.execute("COMMIT")
    finally:
        con.close()
    # 'born' took the rowid 'gone' freed: one backlog row says "remove gone's text, add born's"
    assert committed("SELECT count(*) FROM fts_backlog") == [(2,)]
    assert committed("SELECT id FROM entries WHERE key = 'born'") == [(2,)]
    async with store_at() as store:
        assert (await store.stats())["fts"]["backlog_at_open"] == 2
        assert committed("SELECT count(*) FROM fts_backlog") == [(0,)]  # indexed before open_store returned
        assert await store.search("stale") == [] and await store.search("doomed") == []
        assert [h.entry.key for h in await store.search("fresh")] == ["kept"]
        assert [h.entry.key for h in await store.search("newborn")] == ["born"]


async def test_closing_indexes_the_backlog_for_the_next_reader(store_at, committed) -> None:
    async with store_at() as store:
        await store.put("ns", "k", "closing words")
        await store.flush()
    assert committed("SELECT count(*) FROM fts_backlog") == [(0,)]
    assert len(committed(FTS_HITS, ("closing",))) == 1


def _v1_file(path: Path) -> None:
    """A database as schema version 1 wrote it: one entry, indexed in the same transaction."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL, "
                    "description TEXT NOT NULL)")
        for statement in _split(MIGRATIONS[0][2]):
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1, 0, 'v1')")
        con.execute(
            "INSERT INTO entries (namespace, key, value, tags, version, created, updated, accessed, size) "
            "VALUES ('ns', 'old', '{\"text\": \"legacy words\"}', '[\"t\"]', 5, 1, 1, 1, 20)"
        )
        con.execute("INSERT INTO entries_fts (rowid, key, body, tags) SELECT id, key, body, tags FROM entries_fts_source")
    finally:
        con.close()


async def test_a_version_1_file_migrates_forward_and_keeps_working(store_at, db_path: Path, committed) -> None:
    _v1_file(db_path)
    async with store_at() as store:
        assert committed("SELECT max(version) FROM schema_version") == [(SCHEMA_VERSION,)] == [(5,)]
        assert [h.entry.key for h in await store.search("legacy")] == ["old"]
        await store.put("ns", "old", {"text": "modern words"})
        await store.delete("ns", "old")
        assert (await store.put("ns", "old", "again")).version == 7
        assert await store.search("legacy") == [] and await store.search("modern") == []
        assert [h.entry.key for h in await store.search("again")] == ["old"]


async def test_a_search_whose_snapshot_lags_runs_again_and_finally_holds_off_writers(store: TieredStore, committed) -> None:
    await store.put("ns", "k", "old words")
    await store.search("old")
    await store.put("ns", "k", "new words")
    await store.flush()  # committed with its backlog row: the index still says "old"
    calls = 0

    async def indexing_keeps_losing_the_race() -> None:  # as if a flush committed after each pass
        nonlocal calls
        calls += 1

    store._sync_for_search = indexing_keeps_losing_the_race  # type: ignore[method-assign]
    assert await store.search("old") == []  # never the stale hit
    assert calls == 3  # three snapshots showed a lag; the last try indexed under the write lock
    assert committed("SELECT count(*) FROM fts_backlog") == [(0,)]
    assert [h.entry.value for h in await store.search("new")] == ["new words"]
