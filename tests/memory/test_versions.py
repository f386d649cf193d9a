"""Versions never go backwards: deleted and expired keys leave tombstones, so a compare-and-set
that read a version before a delete can never be satisfied by the key written again (no ABA)."""

from __future__ import annotations

import pytest

from swarm_mcp.memory import TieredStore, VersionConflict


async def test_delete_then_recreate_cannot_satisfy_a_stale_if_version(store: TieredStore) -> None:
    await store.put("ns", "lock", {"owner": "a"})
    seen = await store.get("ns", "lock")  # a slow writer reads version 1 ...
    assert seen.version == 1
    await store.delete("ns", "lock")  # ... meanwhile the key is deleted and written again
    recreated = await store.put("ns", "lock", {"owner": "b"}, if_version=0)
    assert recreated.version == 2
    with pytest.raises(VersionConflict) as caught:
        await store.put("ns", "lock", {"owner": "a"}, if_version=seen.version)
    assert caught.value.actual == 2
    with pytest.raises(VersionConflict):
        await store.delete("ns", "lock", if_version=seen.version)
    assert (await store.get("ns", "lock")).value == {"owner": "b"}


async def test_the_last_version_survives_a_committed_delete_and_a_restart(store_at, committed) -> None:
    async with store_at() as store:
        await store.put("ns", "k", 1)
        await store.put("ns", "k", 2)
        await store.delete("ns", "k", durable=True)
        assert committed("SELECT namespace, key, version FROM tombstones") == [("ns", "k", 2)]
        # the deleted slot left the hot tier: the version comes back from the tombstone
        assert await store.get("ns", "k") is None
        assert (await store.put("ns", "k", 3, if_version=0)).version == 3
        await store.delete("ns", "k")
    async with store_at() as store:
        with pytest.raises(VersionConflict) as caught:
            await store.put("ns", "k", "stale", if_version=2)
        assert caught.value.actual == 0  # absent ...
        assert (await store.put("ns", "k", 4)).version == 4  # ... yet it continues from 3


async def test_a_key_deleted_before_it_was_ever_flushed_still_keeps_its_version(store: TieredStore, committed) -> None:
    await store.put("ns", "k", 1)
    await store.put("ns", "k", 2)
    await store.delete("ns", "k")
    await store.flush()
    assert committed() == []
    assert committed("SELECT version FROM tombstones") == [(2,)]
    assert (await store.put("ns", "k", 3)).version == 3


async def test_expiry_keeps_the_version_until_the_tombstone_horizon(store_at, clock, committed) -> None:
    async with store_at(tombstone_horizon=100.0) as store:
        await store.put("ns", "k", 1, ttl=10)
        await store.put("ns", "k", 2, ttl=10)
        await store.flush()
        clock.advance(11)
        assert await store.sweep() == 1
        assert committed() == []
        assert committed("SELECT version FROM tombstones") == [(2,)]
        again = await store.put("ns", "k", 3, if_version=0)
        assert again.version == 3
        await store.delete("ns", "k")
        await store.flush()
        clock.advance(101)
        await store.sweep()  # past the horizon the tombstone is forgotten, as documented
        assert committed("SELECT count(*) FROM tombstones") == [(0,)]
    async with store_at(tombstone_horizon=100.0) as store:
        assert (await store.put("ns", "k", 4)).version == 1


async def test_import_brings_a_deleted_key_back_above_its_tombstone(store: TieredStore, tmp_path) -> None:
    await store.put("ns", "k", "v1")
    dump = tmp_path / "k.jsonl"
    await store.export(dump)  # version 1 in the file
    for value in ("v2", "v3"):
        await store.put("ns", "k", value)
    await store.delete("ns", "k")
    report = await store.import_(dump, mode="merge")
    assert report.imported == 1
    entry = await store.get("ns", "k")
    assert entry.value == "v1" and entry.version == 4


async def test_replace_leaves_tombstones_for_what_it_deletes(store: TieredStore, tmp_path) -> None:
    await store.put("ns", "k", "old")
    dump = tmp_path / "ns.jsonl"
    await store.export(dump, namespace="ns")
    for value in ("a", "b"):
        await store.put("ns", "k", value)
    await store.import_(dump, mode="replace")
    entry = await store.get("ns", "k")
    assert entry.value == "old" and entry.version == 4
