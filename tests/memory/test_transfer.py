"""Export, import (merge and replace) and backup."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.memory import EXPORT_FORMAT, StoreConfig, TieredStore, open_store


async def _fill(store: TieredStore, clock) -> None:
    await store.put("a", "k1", {"x": 1}, tags=["t1", "t2"], metadata={"agent_id": "ag"}, ttl=500)
    await store.put("a", "k1", {"x": 2}, tags=["t1", "t2"], metadata={"agent_id": "ag"}, ttl=500)
    await store.put("a", "k2", "text value")
    await store.put("b", "k1", [1, 2, 3])
    await store.get("b", "k1")
    await store.put("b", "short", 1, ttl=1)
    clock.advance(2)  # "short" has expired: left out of exports


async def _everything(store: TieredStore) -> list[tuple]:
    out = []
    for ns in ("a", "b", "c"):
        page = await store.list(ns, limit=1000)
        out += [(e.namespace, e.key, e.value, e.tags, e.metadata, e.agent_id, e.version, e.created, e.updated,
                 e.expires_at) for e in page.entries]
    return out


async def test_export_writes_a_versioned_header_then_one_entry_per_line(store: TieredStore, clock, tmp_path) -> None:
    await _fill(store, clock)
    out = tmp_path / "dump.jsonl"
    assert await store.export(out) == 3
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert lines[0]["format"] == EXPORT_FORMAT and lines[0]["version"] == 1 and lines[0]["namespace"] is None
    first = lines[1]
    assert first["key"] == "k1" and first["version"] == 2 and first["tags"] == ["t1", "t2"]
    assert first["metadata"] == {"agent_id": "ag"} and first["expires_at"] is not None


async def test_round_trip_into_an_empty_store_is_equal_in_both_modes(store: TieredStore, clock, tmp_path) -> None:
    await _fill(store, clock)
    out = tmp_path / "dump.jsonl"
    await store.export(out)
    before = await _everything(store)
    for mode in ("merge", "replace"):
        async with open_store(StoreConfig(path=tmp_path / f"{mode}.db"), clock=clock) as other:
            report = await other.import_(out, mode=mode)
            assert report.imported == 3 and report.skipped == 0
            assert await _everything(other) == before
            assert [h.entry.key for h in await other.search("text")] == ["k2"]


async def test_merge_keeps_the_newer_version(store: TieredStore, clock, tmp_path) -> None:
    await store.put("a", "k", "v1")
    out = tmp_path / "old.jsonl"
    await store.export(out)
    await store.put("a", "k", "v2")  # now version 2: newer than the file's
    await store.put("a", "gone", 1)
    await store.delete("a", "gone")
    report = await store.import_(out, mode="merge")
    assert (report.imported, report.skipped) == (0, 1)
    assert (await store.get("a", "k")).value == "v2"
    newer = tmp_path / "new.jsonl"
    await store.put("a", "k", "v3")
    await store.export(newer)
    await store.put("a", "k", "v1-again", if_version=None)
    await store.delete("a", "k")  # the store no longer has it: the import brings it back
    report = await store.import_(newer, mode="merge")
    assert report.imported == 1 and (await store.get("a", "k")).value == "v3"


async def test_replace_a_namespace_leaves_the_others_alone(store: TieredStore, clock, tmp_path) -> None:
    await store.put("a", "keep-me-not", 1)
    await store.put("a", "k", "old")
    await store.put("b", "other", 1)
    out = tmp_path / "a.jsonl"
    await store.put("scratch", "x", 1)
    await store.export(out, namespace="a")
    await store.put("a", "added-later", 1)
    await store.put("a", "k", "changed")
    report = await store.import_(out, mode="replace")
    assert report.deleted == 3 and report.imported == 2
    assert [e.key for e in (await store.list("a")).entries] == ["k", "keep-me-not"]
    assert (await store.get("a", "k")).value == "old"
    assert await store.get("a", "added-later") is None
    assert (await store.get("b", "other")).value == 1
    assert await store.search("changed") == []


async def test_replace_with_a_whole_store_export_replaces_everything(store: TieredStore, tmp_path) -> None:
    await store.put("a", "k", 1)
    out = tmp_path / "all.jsonl"
    await store.export(out)
    await store.put("z", "new", "word")
    await store.import_(out, mode="replace")
    assert await store.get("z", "new") is None
    assert (await store.stats())["entries"] == 1
    assert await store.search("word") == []


async def test_import_refuses_other_files_and_bad_lines_without_writing(store: TieredStore, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(InvalidArgument, match="not a swarm-mcp memory export"):
        await store.import_(bad)
    bad.write_text('{"format": "swarm-mcp-memory", "version": 99}\n')
    with pytest.raises(InvalidArgument, match="version 99"):
        await store.import_(bad)
    good = '{"namespace":"a","key":"k","value":1,"version":1,"created":1,"updated":1}'
    bad.write_text('{"format": "swarm-mcp-memory", "version": 1}\n' + good + '\n{"namespace":"bad ns"}\n')
    with pytest.raises(InvalidArgument, match="line 3"):
        await store.import_(bad)
    assert await store.get("a", "k") is None
    with pytest.raises(InvalidArgument, match="mode"):
        await store.import_(bad, mode="upsert")


async def test_backup_is_a_consistent_openable_copy(store: TieredStore, tmp_path, clock) -> None:
    for i in range(100):
        await store.put("a", f"k{i}", i)
    await store.swarms.put("s1", name="one", status="running")
    target = tmp_path / "backup.db"
    report = await store.backup(target)
    assert report.bytes == target.stat().st_size > 0 and report.pages > 0
    con = sqlite3.connect(target)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("SELECT count(*) FROM entries").fetchone() == (100,)
    con.close()
    async with open_store(StoreConfig(path=target), clock=clock) as restored:
        assert (await restored.get("a", "k42")).value == 42
        assert (await restored.swarms.get("s1")).name == "one"
        assert len(await restored.search("k42")) == 1
    with pytest.raises(InvalidArgument, match="live database"):
        await store.backup(store._config.path)
