"""The key-value API: put/get/delete, versions and compare-and-set, TTL, the hot tier."""

from __future__ import annotations

import pytest

from swarm_mcp.errors import InvalidArgument, LimitExceeded
from swarm_mcp.memory import Entry, TieredStore, VersionConflict


async def test_put_then_get_returns_every_field(store: TieredStore, clock) -> None:
    put = await store.put("default", "k", {"a": [1, 2]}, tags=["x", "y"], metadata={"agent_id": "ag-1", "n": 1}, ttl=60)
    got = await store.get("default", "k")
    assert isinstance(got, Entry)
    assert got.value == {"a": [1, 2]} and got.tags == ("x", "y") and got.metadata == {"agent_id": "ag-1", "n": 1}
    assert got.agent_id == "ag-1"
    assert got.version == put.version == 1
    assert got.created == got.updated == clock.now
    assert got.expires_at == clock.now + 60
    assert got.access_count == 1


async def test_every_update_increments_the_version_and_keeps_created(store: TieredStore, clock) -> None:
    first = await store.put("default", "k", 1)
    clock.advance(5)
    second = await store.put("default", "k", 2)
    await store.flush()
    clock.advance(5)
    third = await store.put("default", "k", 3)
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert third.created == first.created and third.updated == first.created + 10


async def test_get_of_a_missing_key_is_none(store: TieredStore) -> None:
    assert await store.get("default", "nope") is None


async def test_delete_removes_and_reports_whether_it_existed(store: TieredStore, committed) -> None:
    await store.put("default", "k", 1)
    await store.flush()
    assert await store.delete("default", "k") is True
    assert await store.get("default", "k") is None
    assert await store.delete("default", "k") is False
    await store.flush()
    assert committed() == []


async def test_a_stale_if_version_is_a_conflict_naming_the_current_version(store: TieredStore) -> None:
    await store.put("default", "k", 1)
    await store.put("default", "k", 2)
    with pytest.raises(VersionConflict) as caught:
        await store.put("default", "k", 3, if_version=1)
    assert caught.value.actual == 2 and caught.value.expected == 1
    assert "if_version=2" in str(caught.value)
    assert (await store.put("default", "k", 3, if_version=2)).version == 3


async def test_if_version_zero_writes_only_when_absent(store: TieredStore) -> None:
    assert (await store.put("default", "k", 1, if_version=0)).version == 1
    with pytest.raises(VersionConflict) as caught:
        await store.put("default", "k", 2, if_version=0)
    assert caught.value.actual == 1


async def test_conditional_delete_checks_the_version(store: TieredStore) -> None:
    await store.put("default", "k", 1)
    with pytest.raises(VersionConflict):
        await store.delete("default", "k", if_version=7)
    assert await store.delete("default", "k", if_version=1) is True


async def test_cas_on_a_key_that_is_only_on_disk_reads_its_version_through(store_at, clock) -> None:
    async with store_at() as store:
        await store.put("default", "k", 1)
        await store.put("default", "k", 2)
    async with store_at() as store:
        with pytest.raises(VersionConflict) as caught:
            await store.put("default", "k", 9, if_version=1)
        assert caught.value.actual == 2
        assert (await store.put("default", "k", 3, if_version=2)).version == 3


async def test_expired_entries_are_never_returned(store: TieredStore, clock) -> None:
    await store.put("default", "short", "x", ttl=10, tags=["t"])
    await store.put("default", "long", "x words", ttl=1000, tags=["t"])
    clock.advance(11)
    assert await store.get("default", "short") is None
    assert [e.key for e in (await store.list("default")).entries] == ["long"]
    assert [h.entry.key for h in await store.search("x")] == ["long"]
    assert (await store.stats())["entries"] == 1


async def test_an_expired_entry_counts_as_absent_for_writes_and_its_version_continues(store: TieredStore, clock) -> None:
    await store.put("default", "k", 1, ttl=10)
    clock.advance(11)
    again = await store.put("default", "k", 2, if_version=0)
    assert again.version == 2 and again.created == clock.now and again.access_count == 0


async def test_sweep_deletes_expired_rows_from_disk_and_memory(store: TieredStore, clock, committed) -> None:
    await store.put("default", "gone", 1, ttl=10)
    await store.put("default", "kept", 1)
    await store.flush()
    clock.advance(11)
    assert await store.sweep() == 1
    assert committed() == [("default", "kept", 1)]
    assert (await store.stats())["hot"]["entries"] == 1


async def test_expired_entries_on_disk_are_not_read_through(store_at, clock) -> None:
    async with store_at() as store:
        await store.put("default", "k", 1, ttl=10)
    clock.advance(11)
    async with store_at() as store:
        assert await store.get("default", "k") is None


async def test_lru_eviction_drops_only_clean_entries_and_read_through_restores_them(store_at) -> None:
    async with store_at(hot_max_entries=10, flush_max_dirty=10_000) as store:
        for i in range(25):  # all dirty: nothing may be evicted yet
            await store.put("default", f"k{i}", i)
        stats = await store.stats()  # flushes; then eviction brings the tier back to its bound
        assert stats["hot"]["entries"] == 10
        assert stats["hot"]["evictions"] == 15
        for i in range(25):
            assert (await store.get("default", f"k{i}")).value == i
        assert (await store.stats())["hot"]["misses"] >= 15


async def test_dirty_entries_survive_a_full_hot_tier(store_at) -> None:
    async with store_at(hot_max_entries=4, flush_max_dirty=10_000) as store:
        for i in range(12):
            await store.put("default", f"k{i}", i)
        # a tier full of dirty entries flushes (backpressure) instead of dropping writes
        assert all([(await store.get("default", f"k{i}")).value == i for i in range(12)])


async def test_hot_tier_bytes_bound_evicts(store_at) -> None:
    async with store_at(hot_max_bytes=2_000) as store:
        for i in range(20):
            await store.put("default", f"k{i}", "x" * 300)
        await store.flush()
        stats = await store.stats()
        assert stats["hot"]["bytes"] <= 2_000 and stats["hot"]["evictions"] > 0
        assert (await store.get("default", "k0")).value == "x" * 300


@pytest.mark.parametrize(
    ("namespace", "key", "error", "hint"),
    [
        ("bad space", "k", InvalidArgument, "A-Z"),
        ("n" * 129, "k", LimitExceeded, "128"),
        ("default", "", InvalidArgument, "non-empty"),
        ("default", "k" * 513, LimitExceeded, "512"),
    ],
)
async def test_names_out_of_limits_are_clear_errors(store: TieredStore, namespace, key, error, hint) -> None:
    with pytest.raises(error, match=hint):
        await store.put(namespace, key, 1)
    with pytest.raises(error, match=hint):
        await store.get(namespace, key)


async def test_values_over_the_size_limit_are_refused_with_the_setting_named(store_at) -> None:
    async with store_at(max_value_bytes=1_000) as store:
        with pytest.raises(LimitExceeded, match="max_value_bytes"):
            await store.put("default", "k", "x" * 1_000)
        assert await store.get("default", "k") is None
        await store.put("default", "k", "x" * 990)


async def test_default_value_limit_is_one_mebibyte(store: TieredStore) -> None:
    with pytest.raises(LimitExceeded, match="1048576"):
        await store.put("default", "k", "x" * 2**20)


async def test_non_json_values_and_bad_options_are_invalid_arguments(store: TieredStore) -> None:
    with pytest.raises(InvalidArgument, match="JSON"):
        await store.put("default", "k", {1, 2})
    with pytest.raises(InvalidArgument, match="ttl"):
        await store.put("default", "k", 1, ttl=0)
    with pytest.raises(InvalidArgument, match="if_version"):
        await store.put("default", "k", 1, if_version=-1)
    with pytest.raises(InvalidArgument, match="list of strings"):
        await store.put("default", "k", 1, tags="solo")
    with pytest.raises(InvalidArgument, match="Metadata"):
        await store.put("default", "k", 1, metadata=[1])


async def test_text_that_sqlite_cannot_store_is_refused_before_it_is_acknowledged(store: TieredStore) -> None:
    # a lone surrogate cannot be encoded as UTF-8: accepted, it would fail every flush after it
    for call in (
        store.put("default", "k\ud800", 1),
        store.put("default", "k", 1, tags=["t\udfff"]),
        store.put("default", "k", 1, agent_id="\ud800"),
        store.get("default", "k\ud800"),
        store.delete("default", "k\ud800"),
    ):
        with pytest.raises(InvalidArgument, match="surrogate"):
            await call
    assert store._dirty == {}
    await store.put("default", "k\u00e9\U0001d11e", 1)  # any valid Unicode is fine
    await store.flush()


def test_a_bad_config_is_refused_with_the_setting_named(db_path) -> None:
    from swarm_mcp.memory import StoreConfig

    with pytest.raises(InvalidArgument, match="hot_max_entries"):
        StoreConfig(path=db_path, hot_max_entries=0)
    with pytest.raises(InvalidArgument, match="synchronous"):
        StoreConfig(path=db_path, synchronous="EXTRA")  # type: ignore[arg-type]
