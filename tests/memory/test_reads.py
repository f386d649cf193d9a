"""Reads run on a second, read-only connection: they do not queue behind a flush, yet see the
hot tier and every acknowledged write. Flushes carry text and numbers exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio

from swarm_mcp.memory import TieredStore


async def test_reads_do_not_wait_behind_a_running_write(store_at) -> None:
    async with store_at(hot_max_entries=2) as store:
        for i in range(5):
            await store.put("ns", f"k{i}", f"word{i} shared")
        await store.swarms.put("s1", name="one", status="running")
        await store.search("shared")  # flushed and indexed: nothing left for a read to wait for
        async with store._write_lock:  # what a flush or an indexing batch holds while it runs
            with anyio.fail_after(5):
                assert (await store.get("ns", "k0")).value == "word0 shared"  # read through
                assert [e.key for e in (await store.list("ns")).entries] == [f"k{i}" for i in range(5)]
                assert len(await store.search("shared")) == 5
                assert (await store.swarms.get("s1")).name == "one"
                assert (await store.stats())["entries"] == 5


def sqlites_own_busy_error(folder: Path) -> sqlite3.OperationalError:
    """The error SQLite raises when a file is locked and the reader has no busy timeout."""
    path = folder / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    reader = sqlite3.connect(path, timeout=0)
    try:
        reader.execute("SELECT * FROM t")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        reader.close()
        holder.close()
    raise AssertionError("the exclusive lock did not make the reader busy")


class BusyOnce:
    """The point-read connection, answering SQLITE_BUSY to its next query."""

    def __init__(self, connection: sqlite3.Connection, error: sqlite3.OperationalError) -> None:
        self._connection, self._error = connection, error

    def execute(self, *args: object) -> sqlite3.Cursor:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._connection.execute(*args)

    def close(self) -> None:
        self._connection.close()


async def test_a_point_read_sqlite_reports_busy_goes_through_the_read_thread(store_at, tmp_path: Path) -> None:
    # Point reads run at once on the event loop's thread with no busy timeout, so that they can
    # never stall it; when SQLite says busy, the read goes through the read thread instead.
    busy = sqlites_own_busy_error(tmp_path)
    assert busy.sqlite_errorcode == sqlite3.SQLITE_BUSY
    async with store_at(hot_max_entries=1) as store:
        await store.put("ns", "k0", "zero")
        await store.put("ns", "k1", "one")
        await store.flush()  # k0 is clean and evicted: reading it reads through
        store._reader._quick = BusyOnce(store._reader._quick, busy)
        assert (await store.get("ns", "k0")).value == "zero"
        assert store._reader.busy_fallbacks == 1
        assert (await store.get("ns", "k1")).value == "one"  # evicted by k0: read through, at once this time
        assert store._reader.busy_fallbacks == 1
        assert (await store.stats(detail="detailed"))["detailed"]["read_throughs"] == 2


async def test_reads_through_the_second_connection_see_the_hot_tier(store: TieredStore) -> None:
    await store.put("ns", "a", "first text")
    await store.put("ns", "b", "second text")
    await store.search("text")  # committed and indexed
    await store.put("ns", "a", "first text, changed")  # pending in the hot tier only
    await store.delete("ns", "b")
    page = await store.list("ns")
    assert [(e.key, e.value) for e in page.entries] == [("a", "first text, changed")]
    hits = await store.search("text")
    assert [(h.entry.key, h.entry.value) for h in hits] == [("a", "first text, changed")]


async def test_a_flush_stores_text_and_numbers_exactly(store_at, clock, committed) -> None:
    clock.now = 1_700_000_000.123456789
    awkward = {
        "quote": 'say "hi"\\n', "nul": "a\x00b", "unicode": "é 𝄞 \u2028 日本", "float": 0.1 + 0.2,
        "big": 2**62, "tiny": 5e-324, "neg": -1.5e300, "list": [None, True, False, [], {}],
    }
    async with store_at() as store:
        await store.put("ns", "fresh", awkward)
        await store.put("ns", "tagged", awkward, tags=["é", 'q"t'], metadata={"m": "\x01"}, agent_id="ag", ttl=3.3)
        await store.put("ns", "k\x00é \"'", 1)
        await store.flush()
        rows = committed("SELECT key, value, created, updated, expires_at FROM entries ORDER BY key")
    assert [r[0] for r in rows] == ["fresh", "k\x00é \"'", "tagged"]
    for _, _, created, updated, _ in rows:
        assert created == updated == clock.now  # the same double, bit for bit
    assert rows[2][4] == clock.now + 3.3
    async with store_at() as store:  # a cold start reads them back from SQLite
        for key in ("fresh", "tagged"):
            entry = await store.get("ns", key)
            assert entry.value == awkward and entry.created == clock.now
        tagged = await store.get("ns", "tagged")
        assert tagged.tags == ("é", 'q"t') and tagged.metadata == {"m": "\x01"} and tagged.agent_id == "ag"
        assert (await store.get("ns", "k\x00é \"'")).value == 1  # touched: its access figures go back too
        await store.put("ns", "k\x00other", 2, agent_id="a\x00b")
        await store.put("ns", "k", "a different key, not to be confused with the NUL ones")
        await store.flush()
        await store.delete("ns", "k\x00é \"'")
        await store.flush()
        assert committed("SELECT key, agent_id, access_count FROM entries ORDER BY key") == [
            ("fresh", None, 1), ("k", None, 0), ("k\x00other", "a\x00b", 0), ("tagged", "ag", 2),
        ]
        assert committed("SELECT key, version FROM tombstones") == [("k\x00é \"'", 1)]


async def test_access_figures_reach_sqlite_for_hot_and_evicted_entries(store_at, clock, committed) -> None:
    async with store_at(hot_max_entries=2) as store:
        for i in range(4):
            await store.put("ns", f"k{i}", i)
        await store.flush()
        clock.advance(5)
        for i in range(4):
            await store.get("ns", f"k{i}")
            await store.get("ns", f"k{i}")
        await store.flush()
        assert committed("SELECT key, access_count, accessed FROM entries ORDER BY key") == [
            (f"k{i}", 2, clock.now) for i in range(4)
        ]

