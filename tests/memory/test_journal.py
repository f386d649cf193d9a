"""Group commits of typed records: one transaction for many writes, brains, and event trimming."""

from __future__ import annotations

import pytest

from swarm_mcp.errors import Unavailable
from swarm_mcp.memory import RecordBatch, TieredStore


async def test_one_commit_writes_swarms_agents_tasks_brains_and_events_together(store: TieredStore, committed) -> None:
    batch = RecordBatch()
    batch.put_swarm("s1", name="alpha", status="running", data={"topology": "ring"})
    batch.put_agent("a1", swarm_id="s1", kind="coder", status="idle", data={"capabilities": ["python"]})
    batch.put_task("t1", swarm_id="s1", agent_id="a1", status="assigned", priority=2, data={"description": "x"})
    batch.put_brain("a1", swarm_id="s1", layout={"sizes": [4, 2, 1]}, params=b"\x00" * 16, experiences=b"xy",
                    meta={"experiences": 3})
    batch.event("swarm_created", {"topology": "ring"}, swarm_id="s1")
    batch.event("agent_spawned", agent_id="a1", swarm_id="s1")
    await store.journal.commit(batch)
    assert committed("SELECT id, version FROM swarms") == [("s1", 1)]
    assert (await store.agents.get("a1")).data == {"capabilities": ["python"]}
    assert (await store.tasks.get("t1")).status == "assigned"
    [brain] = await store.brains.list(swarm_id="s1")
    assert brain.params == b"\x00" * 16 and brain.experiences == b"xy" and brain.meta == {"experiences": 3}
    assert [e.kind for e in await store.events.list()] == ["swarm_created", "agent_spawned"]

    again = RecordBatch()
    again.put_task("t1", swarm_id="s1", agent_id="a1", status="completed", priority=2, data={"result": "done"})
    await store.journal.commit(again)
    task = await store.tasks.get("t1")
    assert (task.status, task.version, task.data) == ("completed", 2, {"result": "done"})
    assert task.created < task.updated or task.created == task.updated


async def test_deleting_a_swarm_through_the_journal_removes_its_agents_tasks_and_brains(store: TieredStore) -> None:
    batch = RecordBatch()
    batch.put_swarm("s1", name="s", status="running", data={})
    batch.put_agent("a1", swarm_id="s1", kind="coder", status="idle", data={})
    batch.put_brain("a1", swarm_id="s1", layout={}, params=b"p", experiences=b"", meta={})
    batch.put_task("t1", swarm_id="s1", agent_id=None, status="pending", priority=0, data={})
    await store.journal.commit(batch)
    gone = RecordBatch()
    gone.delete("swarms", "s1")
    await store.journal.commit(gone)
    assert await store.agents.list() == [] and await store.tasks.list() == []
    assert await store.brains.list(swarm_id="s1") == []


async def test_a_batch_that_fails_writes_nothing_of_itself(store: TieredStore) -> None:
    batch = RecordBatch()
    batch.put_task("t-ok", swarm_id=None, agent_id=None, status="pending", priority=0, data={})
    batch.put_agent("a-orphan", swarm_id="no-such-swarm", kind="coder", status="idle", data={})
    with pytest.raises(Unavailable, match="Could not commit"):
        await store.journal.commit(batch)
    assert await store.tasks.get("t-ok") is None


async def test_the_event_log_is_trimmed_to_its_newest_events(store: TieredStore) -> None:
    batch = RecordBatch()
    for i in range(10):
        batch.event("tick", {"i": i})
    batch.keep_events = 4
    await store.journal.commit(batch)
    assert [e.data["i"] for e in await store.events.list()] == [6, 7, 8, 9]


async def test_a_commit_that_finds_the_file_locked_goes_through_the_writer_thread_and_lands(store: TieredStore, db_path,
                                                                                             committed) -> None:
    import sqlite3
    import threading

    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another connection holds the write lock for a moment
    threading.Timer(0.3, holder.rollback).start()
    batch = RecordBatch()
    batch.put_task("t1", swarm_id=None, agent_id=None, status="pending", priority=0, data={})
    await store.journal.commit(batch)  # the loop-thread connection has no busy timeout; the writer's waits
    holder.close()
    assert store.journal.busy_fallbacks == 1
    assert committed("SELECT id FROM tasks") == [("t1",)]


async def test_journal_commits_checkpoint_so_the_wal_does_not_grow_without_bound(store: TieredStore, db_path) -> None:
    from swarm_mcp.memory._journal import CHECKPOINT_EVERY

    wal = db_path.with_name(db_path.name + "-wal")
    payload = {"blob": "x" * 3000}  # about a page per commit
    for i in range(4 * CHECKPOINT_EVERY):
        batch = RecordBatch()
        batch.put_task(f"t{i % 8}", swarm_id=None, agent_id=None, status="pending", priority=0, data=payload)
        await store.journal.commit(batch)
    # without checkpoints the WAL holds every commit's pages (17 MB here); with them, about 4.5 MB
    assert wal.stat().st_size < 2 * CHECKPOINT_EVERY * 3 * 4096


async def test_with_synchronous_full_journal_commits_use_the_writer_thread(store_at) -> None:
    async with store_at(synchronous="FULL") as store:
        batch = RecordBatch()
        batch.put_task("t1", swarm_id=None, agent_id=None, status="pending", priority=0, data={})
        await store.journal.commit(batch)
        assert store.journal._conn is None  # noqa: SLF001 - the loop-thread connection was never opened
        assert (await store.tasks.get("t1")).status == "pending"
