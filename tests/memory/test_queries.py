"""Listing with cursors, full-text search, and stats."""

from __future__ import annotations

import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.memory import SCHEMA_VERSION, TieredStore


async def test_list_pages_by_key_prefix_with_a_cursor(store: TieredStore) -> None:
    for i in range(25):
        await store.put("ns", f"task:{i:02}", i)
    await store.put("ns", "other", 0)
    seen, cursor = [], None
    while True:
        page = await store.list("ns", prefix="task:", limit=10, cursor=cursor)
        seen += [e.key for e in page.entries]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"task:{i:02}" for i in range(25)]


async def test_listing_is_stable_across_concurrent_writes(store: TieredStore) -> None:
    for i in range(0, 40, 2):
        await store.put("ns", f"k{i:02}", i)
    first = await store.list("ns", limit=10)
    # writes between pages: new keys on both sides of the cursor, a deletion ahead of it
    await store.put("ns", "k01", 1)
    await store.put("ns", "k39", 39)
    await store.delete("ns", "k30")
    rest = await store.list("ns", limit=100, cursor=first.next_cursor)
    keys = [e.key for e in first.entries + rest.entries]
    assert len(keys) == len(set(keys))
    survivors = {f"k{i:02}" for i in range(0, 40, 2)} - {"k30"}
    assert survivors <= set(keys) and "k30" not in keys


async def test_a_cursor_from_another_listing_is_refused(store: TieredStore) -> None:
    for i in range(3):
        await store.put("ns", f"k{i}", i)
    page = await store.list("ns", limit=1)
    with pytest.raises(InvalidArgument, match="start over"):
        await store.list("ns", prefix="x", cursor=page.next_cursor)
    with pytest.raises(InvalidArgument, match="start over"):
        await store.list("ns", cursor="garbage!")


async def test_list_shows_unflushed_writes_and_hides_unflushed_deletes(store: TieredStore) -> None:
    await store.put("ns", "a", 1)
    await store.put("ns", "b", 1)
    await store.flush()
    await store.delete("ns", "a")
    await store.put("ns", "c", 1)
    assert [e.key for e in (await store.list("ns")).entries] == ["b", "c"]


async def test_search_finds_unflushed_writes_ranked_with_snippets(store: TieredStore) -> None:
    await store.put("docs", "fox", {"title": "quick", "body": "the quick brown fox\njumps over the lazy dog"})
    await store.put("docs", "dog", "a lazy dog sleeps")
    await store.put("docs", "cat", "nothing to see", tags=["pets"])
    hits = await store.search("lazy dog")
    assert {h.entry.key for h in hits} == {"fox", "dog"}
    assert all(h.score < 0 for h in hits)
    fox = next(h for h in hits if h.entry.key == "fox")
    assert "[lazy]" in fox.snippet and "[dog]" in fox.snippet
    assert [h.entry.key for h in await store.search("jumps")] == ["fox"]  # the word after a newline


async def test_search_covers_keys_and_tags_and_filters_by_namespace_and_tags(store: TieredStore) -> None:
    await store.put("a", "alpha-report", "text one", tags=["urgent", "q3"])
    await store.put("b", "beta", "alpha text", tags=["q3"])
    await store.put("b", "gamma", "unrelated", tags=["urgent"])
    assert {h.entry.key for h in await store.search("alpha")} == {"alpha-report", "beta"}
    assert [h.entry.key for h in await store.search("alpha", namespace="b")] == ["beta"]
    assert [h.entry.key for h in await store.search("urgent")] != []
    assert [h.entry.key for h in await store.search("alpha", tags=["urgent"])] == ["alpha-report"]
    assert [h.entry.key for h in await store.search("text", tags=["urgent", "q3"])] == ["alpha-report"]


async def test_search_sees_updates_and_deletes(store: TieredStore) -> None:
    await store.put("ns", "k", "old words")
    assert len(await store.search("old")) == 1
    await store.put("ns", "k", "new words")
    assert await store.search("old") == []
    assert len(await store.search("new")) == 1
    await store.delete("ns", "k")
    assert await store.search("new") == []


async def test_search_limit_prefix_and_odd_queries(store: TieredStore) -> None:
    for i in range(20):
        await store.put("ns", f"k{i}", f"common word{i}")
    assert len(await store.search("common", limit=5)) == 5
    assert len(await store.search("word1*", limit=50)) == 11
    assert await store.search('AND OR "NEAR(' + "x") == []  # operators are plain words here
    with pytest.raises(InvalidArgument, match="no words"):
        await store.search("  -- ")


async def test_stats_are_measured_figures(store: TieredStore, clock) -> None:
    await store.put("a", "k1", "x" * 100, metadata={"agent_id": "ag-1"})
    await store.put("a", "k2", "y" * 10, agent_id="ag-2")
    await store.put("b", "k1", 1)
    await store.get("a", "k1")
    await store.get("a", "missing")
    stats = await store.stats()
    assert stats["entries"] == 3
    assert stats["namespaces"]["a"]["entries"] == 2
    assert stats["namespaces"]["a"]["bytes"] > stats["namespaces"]["b"]["bytes"]
    assert stats["pending_writes"] == 0
    assert stats["flush"]["count"] == 1 and stats["flush"]["last_rows"] == 3
    assert stats["flush"]["last_at"] == clock.now
    assert stats["hot"]["hits"] == 1 and stats["hot"]["misses"] == 1 and stats["hot"]["hit_rate"] == 0.5
    assert stats["files"]["db_bytes"] > 0 and stats["files"]["wal_bytes"] > 0
    by_agent = await store.stats(detail="by-agent")
    assert by_agent["agents"]["ag-1"]["entries"] == 1
    assert by_agent["agents"]["ag-2"]["entries"] == 1
    assert by_agent["agents"][""]["entries"] == 1
    detailed = await store.stats(detail="detailed")
    assert detailed["detailed"]["schema_version"] == SCHEMA_VERSION == 5
    assert detailed["detailed"]["records"]["agents"] == 0
    with pytest.raises(InvalidArgument):
        await store.stats(detail="everything")


async def test_stats_count_pending_writes_before_they_flush(store: TieredStore) -> None:
    await store.put("a", "k", 1)
    assert store._dirty  # the write is pending until something flushes
    assert (await store.stats())["pending_writes"] == 0
