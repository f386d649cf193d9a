"""Typed records for the other subsystems, and the package's public surface."""

from __future__ import annotations

import anyio
import pytest

import swarm_mcp.memory as memory
from swarm_mcp.errors import Conflict, InvalidArgument
from swarm_mcp.memory import TieredStore


def test_the_public_module_declares_a_tuple_all() -> None:
    assert isinstance(memory.__all__, tuple)
    assert all(hasattr(memory, name) for name in memory.__all__)


async def test_swarm_agent_task_lifecycle_with_cas_and_cascades(store: TieredStore, committed) -> None:
    swarm = await store.swarms.put("s1", name="alpha", status="running", data={"topology": "mesh"})
    assert swarm.version == 1 and swarm.data == {"topology": "mesh"}
    assert committed("SELECT id, version FROM swarms") == [("s1", 1)]  # written through
    with pytest.raises(Conflict, match="if_version=1"):
        await store.swarms.put("s1", name="alpha", status="stopped", if_version=0)
    assert (await store.swarms.put("s1", name="alpha", status="stopped", if_version=1)).version == 2
    await store.agents.put("a1", kind="coder", status="idle", swarm_id="s1")
    await store.agents.put("a2", kind="tester", status="busy", swarm_id="s1")
    await store.tasks.put("t1", status="open", swarm_id="s1", agent_id="a1", priority=3, data={"goal": "x"})
    assert [a.id for a in await store.agents.list(swarm_id="s1")] == ["a1", "a2"]
    assert [a.id for a in await store.agents.list(status="busy")] == ["a2"]
    assert (await store.tasks.get("t1")).priority == 3
    with pytest.raises(InvalidArgument, match="does not exist"):
        await store.agents.put("a3", kind="coder", status="idle", swarm_id="missing")
    await store.agents.delete("a1")
    assert (await store.tasks.get("t1")).agent_id is None  # unassigned, not deleted
    assert await store.swarms.delete("s1", if_version=2) is True
    assert await store.agents.list() == [] and await store.tasks.list() == []
    assert await store.swarms.get("s1") is None


async def test_a_deleted_record_created_again_continues_its_version_so_a_stale_cas_cannot_match(store: TieredStore) -> None:
    assert (await store.swarms.put("s1", name="a", status="running")).version == 1
    assert (await store.swarms.put("s1", name="a", status="paused")).version == 2
    assert await store.swarms.delete("s1") is True
    assert (await store.swarms.put("s1", name="b", status="running", if_version=0)).version == 3
    with pytest.raises(Conflict, match="if_version=3"):
        await store.swarms.put("s1", name="c", status="running", if_version=1)  # held from the first s1


async def test_cascaded_deletes_keep_versions_and_a_cleared_agent_id_is_a_new_version(store: TieredStore) -> None:
    await store.swarms.put("s1", name="a", status="running")
    await store.agents.put("a1", kind="coder", status="idle", swarm_id="s1")
    await store.agents.put("a1", kind="coder", status="busy", swarm_id="s1")  # version 2
    await store.agents.put("a2", kind="coder", status="idle")
    task = await store.tasks.put("t1", status="open", agent_id="a2")
    net = await store.networks.put("n1", weights=b"w", metadata={}, agent_id="a2")
    await store.agents.delete("a2")  # ON DELETE SET NULL: the task and the network change
    assert (await store.tasks.get("t1")).version == task.version + 1
    assert (await store.networks.get("n1")).version == net.version + 1
    with pytest.raises(Conflict):
        await store.tasks.put("t1", status="done", if_version=task.version)
    await store.swarms.delete("s1")  # cascades to a1, which leaves its version behind
    assert await store.agents.get("a1") is None
    assert (await store.agents.put("a1", kind="coder", status="idle")).version == 3


async def test_record_tombstones_are_forgotten_after_the_horizon(store_at) -> None:
    async with store_at(tombstone_horizon=0.001) as store:
        await store.swarms.put("s1", name="a", status="running")
        await store.swarms.put("s1", name="a", status="paused")
        await store.swarms.delete("s1")
        await anyio.sleep(0.05)  # record tombstones age by SQLite's clock (cascades have no other)
        await store.sweep()
        assert (await store.swarms.put("s1", name="a", status="running")).version == 1


async def test_networks_keep_metadata_as_json_and_weights_as_bytes(store_at) -> None:
    weights = bytes(range(256)) * 100
    async with store_at() as store:
        net = await store.networks.put("n1", weights=weights, metadata={"sizes": [2, 3, 1]})
        assert net.version == 1
    async with store_at() as store:
        again = await store.networks.get("n1")
        assert again.weights == weights and again.metadata == {"sizes": [2, 3, 1]}
        assert [n.id for n in await store.networks.list()] == ["n1"]
        with pytest.raises(InvalidArgument, match="bytes"):
            await store.networks.put("n2", weights="nope")  # type: ignore[arg-type]


async def test_events_are_append_only_and_ordered(store: TieredStore, clock) -> None:
    first = await store.events.append("agent_spawned", agent_id="a1", data={"kind": "coder"})
    batch = await store.events.append_many([("task_done", {"ok": True}, "s1", None, "t1"), ("tick", None, None, None, None)])
    seqs = [first.seq, *(e.seq for e in batch)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    listed = await store.events.list()
    assert [e.kind for e in listed] == ["agent_spawned", "task_done", "tick"]
    assert [e.kind for e in await store.events.list(after_seq=first.seq)] == ["task_done", "tick"]
    assert [e.kind for e in await store.events.list(swarm_id="s1")] == ["task_done"]
    assert listed[0].time == clock.now and listed[0].data == {"kind": "coder"}


async def test_events_can_be_listed_by_time_window_and_by_kinds(store: TieredStore, clock) -> None:
    await store.events.append("old")
    clock.advance(100)
    await store.events.append("a")
    await store.events.append("b")
    clock.advance(100)
    await store.events.append("a")
    start = clock.now - 200
    assert [e.kind for e in await store.events.list(since=start + 100)] == ["a", "b", "a"]
    assert [e.kind for e in await store.events.list(since=start + 100, until=start + 200)] == ["a", "b"]
    assert [e.kind for e in await store.events.list(kinds=["a", "old"])] == ["old", "a", "a"]
    assert await store.events.list(kinds=[]) == []
