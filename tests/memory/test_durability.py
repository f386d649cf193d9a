"""The durability contract: durable writes commit before returning, closing loses nothing,
and concurrent writers never both win a compare-and-set."""

from __future__ import annotations

import time

import anyio
import pytest

from swarm_mcp.memory import TieredStore, VersionConflict


async def test_a_durable_put_has_committed_when_it_returns(store: TieredStore, committed) -> None:
    await store.put("ns", "lazy", 1)
    await store.put("ns", "sure", 1, durable=True)
    # an independent connection sees the durable write (and the earlier one it carried along)
    assert committed() == [("ns", "lazy", 1), ("ns", "sure", 1)]


async def test_a_default_put_is_acknowledged_from_memory_and_flushed_later(store: TieredStore, committed) -> None:
    await store.put("ns", "k", 1)
    assert committed() == []
    assert await store.flush() == 1
    assert committed() == [("ns", "k", 1)]


async def test_a_durable_delete_has_committed_when_it_returns(store: TieredStore, committed) -> None:
    await store.put("ns", "k", 1, durable=True)
    await store.delete("ns", "k", durable=True)
    assert committed() == []


async def test_the_background_flusher_commits_within_its_interval(store_at, committed) -> None:
    async with store_at(flush_interval=0.01) as store:
        await store.put("ns", "k", 1)
        flushed = store.flush_count
        with anyio.fail_after(5):
            await store.wait_flushed(flushed)
        assert committed() == [("ns", "k", 1)]


async def test_a_writer_that_never_yields_cannot_leave_more_than_a_flush_window_uncommitted(store_at) -> None:
    # A tight loop of puts yields only every flush_max_dirty writes. Before backpressure the
    # flusher fell behind for good (a 100,000-put burst saw one flush), so kill -9 during a
    # burst lost writes acknowledged long before the last flush window.
    async with store_at(flush_interval=0.05, flush_max_dirty=500) as store:
        acknowledged: list[float] = []
        worst_age = 0.0
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            await store.put("ns", f"k{len(acknowledged)}", {"i": len(acknowledged)})
            acknowledged.append(time.monotonic())
            if pending := store.pending_writes:  # the last `pending` puts: flushes commit in order
                worst_age = max(worst_age, acknowledged[-1] - acknowledged[-pending])
        assert store.flush_count >= 5
        # the window (0.05 s) plus one flush of the writes it holds (~0.2 s here; 0.66 s before),
        # with room for a loaded machine
        assert worst_age < 0.6, (worst_age, len(acknowledged), store.flush_count)


async def test_closing_the_store_loses_nothing(store_at) -> None:
    written = {}
    async with store_at() as store:
        for i in range(500):
            written[f"k{i}"] = (await store.put("ns", f"k{i % 300}", {"i": i}, tags=[f"t{i % 3}"])).version
        await store.delete("ns", "k7")
    async with store_at() as store:
        for i in range(200, 500):
            key = f"k{i % 300}"
            entry = await store.get("ns", key)
            if key == "k7":
                assert entry is None
            else:
                assert entry is not None and entry.value == {"i": i} and entry.version == 2 - (i < 300)


async def test_closing_while_cancelled_still_flushes(store_at, committed) -> None:
    with anyio.CancelScope() as scope:
        async with store_at() as store:
            await store.put("ns", "k", 1)
            scope.cancel()
            await anyio.sleep_forever()
    assert committed() == [("ns", "k", 1)]


async def test_body_errors_propagate_unwrapped(store_at) -> None:
    with pytest.raises(KeyError):
        async with store_at():
            raise KeyError("boom")


async def test_sixteen_tasks_racing_on_the_same_keys(store_at, committed) -> None:
    keys = [f"k{i}" for i in range(4)]
    seen: dict[str, list[int]] = {k: [] for k in keys}
    conflicts = wins = 0

    async def worker(n: int, store: TieredStore) -> None:
        nonlocal conflicts, wins
        for round_ in range(40):
            key = keys[(n + round_) % len(keys)]
            current = await store.get("race", key)
            expected = 0 if current is None else current.version
            await anyio.lowlevel.checkpoint()  # let the others interleave between read and write
            try:
                entry = await store.put("race", key, {"by": n, "round": round_}, if_version=expected,
                                        durable=round_ % 10 == 0)
            except VersionConflict as exc:
                conflicts += 1
                assert exc.actual != expected
            else:
                wins += 1
                assert entry.version == expected + 1
                seen[key].append(entry.version)
            if round_ % 7 == 0:
                await store.flush()

    # a tiny hot tier forces read-through, the path where two puts could both win
    async with store_at(hot_max_entries=2) as store:
        async with anyio.create_task_group() as tg:
            for n in range(16):
                tg.start_soon(worker, n, store)
        for key in keys:
            # every version was won by exactly one writer: strictly monotonic, no gaps, no ties
            assert sorted(seen[key]) == list(range(1, len(seen[key]) + 1))
    assert conflicts > 0 and wins > 0
    final = {k: v for _, k, v in committed()}
    assert final == {k: len(v) for k, v in seen.items()}


@pytest.mark.parametrize(("level", "code"), [("OFF", 0), ("NORMAL", 1), ("FULL", 2)])
async def test_the_synchronous_level_is_configurable(store_at, level, code) -> None:
    async with store_at(synchronous=level) as store:
        assert (await store._db.execute_fetchall("PRAGMA synchronous"))[0][0] == code
        assert (await store._db.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
