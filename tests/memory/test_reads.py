"""Reads run on a second, read-only connection: they do not queue behind a flush, yet see the
hot tier and every acknowledged write."""

from __future__ import annotations

import anyio

from swarm_mcp.memory import TieredStore


async def test_reads_do_not_wait_behind_a_running_write(store_at) -> None:
    async with store_at(hot_max_entries=2) as store:
        for i in range(5):
            await store.put("ns", f"k{i}", f"word{i} shared")
        await store.swarms.put("s1", name="one", status="running")
        await store.search("shared")  # flushed: nothing left for a read to wait for
        async with store._write_lock:  # what a flush or an indexing batch holds while it runs
            with anyio.fail_after(5):
                assert (await store.get("ns", "k0")).value == "word0 shared"  # read through
                assert [e.key for e in (await store.list("ns")).entries] == [f"k{i}" for i in range(5)]
                assert len(await store.search("shared")) == 5
                assert (await store.swarms.get("s1")).name == "one"
                assert (await store.stats())["entries"] == 5


async def test_reads_through_the_second_connection_see_the_hot_tier(store: TieredStore) -> None:
    await store.put("ns", "a", "first text")
    await store.put("ns", "b", "second text")
    await store.search("text")  # committed
    await store.put("ns", "a", "first text, changed")  # pending in the hot tier only
    await store.delete("ns", "b")
    page = await store.list("ns")
    assert [(e.key, e.value) for e in page.entries] == [("a", "first text, changed")]
    hits = await store.search("text")
    assert [(h.entry.key, h.entry.value) for h in hits] == [("a", "first text, changed")]
