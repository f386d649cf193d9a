"""`memory_usage` through MCP (the SDK's in-memory client) on a real daemon with a real SQLite file."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from support import FakeClock, mcp_client


async def call(client: Any, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("memory_usage", arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def error_text(client: Any, **arguments: Any) -> str:
    result = await client.call_tool("memory_usage", arguments)
    assert result.is_error, result.structured_content
    return result.content[0].text


async def test_store_then_retrieve_returns_the_value_with_a_version_and_tags(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        stored = await call(client, action="store", key="plan", value={"steps": [1, 2]}, tags=["queen"], namespace="swarm:1")
        assert stored["entry"]["version"] == 1
        got = await call(client, action="retrieve", key="plan", namespace="swarm:1")
        assert got["found"] is True
        assert got["entry"]["value"] == {"steps": [1, 2]} and got["entry"]["tags"] == ["queen"]
        assert (await call(client, action="retrieve", key="plan"))["found"] is False  # other namespace


async def test_every_update_increments_the_version_and_compare_and_set_reports_conflicts(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await call(client, action="store", key="k", value=1)
        updated = await call(client, action="store", key="k", value=2, ifVersion=1)
        assert updated["entry"]["version"] == 2
        text = await error_text(client, action="store", key="k", value=3, ifVersion=1)
        assert "current version is 2" in text and "ifVersion=2" in text
        assert "does not exist" not in text
        absent_only = await error_text(client, action="store", key="k", value=9, ifVersion=0)
        assert "absent" in absent_only
        assert (await call(client, action="retrieve", key="k"))["entry"]["value"] == 2


async def test_an_expired_entry_is_never_returned(tmp_path: Path) -> None:
    clock = FakeClock()
    async with mcp_client(tmp_path, clock=clock) as (client, _):
        await call(client, action="store", key="short", value="x", ttl=10)
        await call(client, action="store", key="long", value="y", ttl=1000)
        clock.advance(11)
        assert (await call(client, action="retrieve", key="short"))["found"] is False
        listed = await call(client, action="list")
        assert [e["key"] for e in listed["entries"]] == ["long"]
        assert listed["entries"][0]["ttl_remaining_s"] == pytest.approx(989)


async def test_list_pages_by_prefix_with_a_cursor(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        for i in range(7):
            await call(client, action="store", key=f"task/{i}", value=i)
        await call(client, action="store", key="other", value=0)
        seen, cursor = [], None
        while True:
            args = {"action": "list", "prefix": "task/", "limit": 3}
            if cursor:
                args["cursor"] = cursor
            page = await call(client, **args)
            seen += [e["key"] for e in page["entries"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"task/{i}" for i in range(7)]


async def test_search_finds_words_in_values_keys_and_tags_filtered_by_namespace(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await call(client, action="store", key="a", value={"note": "the queen plans the hive"}, namespace="n1")
        await call(client, action="store", key="b", value="workers build", tags=["hive"], namespace="n1")
        await call(client, action="store", key="c", value="hive elsewhere", namespace="n2")
        hits = (await call(client, action="search", query="hive", namespace="n1"))["hits"]
        assert sorted(h["key"] for h in hits) == ["a", "b"]
        assert any("[" in h["snippet"] for h in hits)
        assert [h["key"] for h in (await call(client, action="search", query="hive", tags=["hive"]))["hits"]] == ["b"]


async def test_stats_change_when_the_state_changes(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        before = (await call(client, action="stats"))["stats"]
        for i in range(5):
            await call(client, action="store", key=f"k{i}", value="v" * 100, namespace="bulk", agentId=f"agent-{i % 2}")
        after = (await call(client, action="stats", detail="by-agent"))["stats"]
        assert after["entries"] == before["entries"] + 5
        assert after["namespaces"]["bulk"]["entries"] == 5 and after["namespaces"]["bulk"]["bytes"] >= 500
        assert after["agents"]["agent-0"]["entries"] == 3 and after["agents"]["agent-1"]["entries"] == 2
        assert after["process"]["rss_bytes"] > 10 * 2**20 and "jax" not in after["process"]  # heavy figures: detailed
        detailed = (await call(client, action="stats", detail="detailed"))["stats"]
        assert detailed["process"]["malloc_in_use_bytes"] > 0
        jax = detailed["process"]["jax"]  # reported only when JAX is loaded (other tests here may have loaded it)
        assert jax is None if "jax" not in sys.modules else jax["devices"][0]["platform"] == "cpu"
        assert after["files"]["db_bytes"] > 0


async def test_delete_removes_the_entry(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await call(client, action="store", key="gone", value=1)
        assert (await call(client, action="delete", key="gone", durable=True))["deleted"] is True
        assert (await call(client, action="retrieve", key="gone"))["found"] is False
        assert (await call(client, action="delete", key="gone"))["deleted"] is False


async def test_durable_store_is_committed_before_the_reply(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await call(client, action="store", key="safe", value={"x": 1}, durable=True)
        with sqlite3.connect(tmp_path / "swarm.db") as db:
            rows = db.execute("SELECT value FROM entries WHERE key = 'safe'").fetchall()
        assert rows == [('{"x":1}',)]


async def test_export_then_import_round_trips_entries_with_tags_metadata_and_versions(tmp_path: Path) -> None:
    async with mcp_client(tmp_path / "a") as (client, _):
        await call(client, action="store", key="x", value=[1, 2], tags=["t"], metadata={"m": 1}, namespace="ns")
        await call(client, action="store", key="x", value=[1, 2, 3], namespace="ns")
        await call(client, action="store", key="y", value="why", namespace="ns", ttl=3600)
        exported = await call(client, action="export", path="out/ns.jsonl", namespace="ns")
        assert exported["exported"] == 2
        original = {e["key"]: e for e in (await call(client, action="list", namespace="ns"))["entries"]}
    (tmp_path / "b" / "exports").mkdir(parents=True)
    (tmp_path / "b" / "exports" / "ns.jsonl").write_bytes((tmp_path / "a" / "exports" / "out" / "ns.jsonl").read_bytes())
    async with mcp_client(tmp_path / "b") as (client, _):
        report = (await call(client, action="import", path="ns.jsonl"))["report"]
        assert report["imported"] == 2
        copied = {e["key"]: e for e in (await call(client, action="list", namespace="ns"))["entries"]}
    for key in ("x", "y"):
        for field in ("value", "version", "tags", "metadata", "created", "updated", "expires_at"):
            assert copied[key][field] == original[key][field], (key, field)


async def test_backup_writes_a_consistent_sqlite_copy(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        for i in range(20):
            await call(client, action="store", key=f"k{i}", value=i)
        report = (await call(client, action="backup", path="backups/b1.db"))["report"]
        assert report["bytes"] > 0
    with sqlite3.connect(tmp_path / "exports" / "backups" / "b1.db") as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == 20


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"action": "store", "value": 1}, "needs 'key'"),
        ({"action": "store", "key": "k"}, "needs 'value'"),
        ({"action": "retrieve", "key": "k", "ttl": 5}, "does not take 'ttl'"),
        ({"action": "search"}, "needs 'query'"),
        ({"action": "export", "path": "../../outside.jsonl"}, "outside"),
        ({"action": "import", "path": "missing.jsonl"}, "no file at"),
        ({"action": "store", "key": "k", "value": 1, "namespace": "bad namespace!"}, "amespace"),
        ({"action": "store", "key": "x" * 600, "value": 1}, "512"),
        ({"action": "fly"}, "Input should be"),
        ({"action": "list", "limit": 0}, "greater than or equal to 1"),
    ],
)
async def test_bad_input_gets_an_error_that_says_what_to_do(tmp_path: Path, arguments: dict[str, Any], expected: str) -> None:
    async with mcp_client(tmp_path) as (client, _):
        assert expected in await error_text(client, **arguments)
        assert (await call(client, action="stats"))["action"] == "stats"  # still serving


async def test_a_value_over_the_size_limit_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, memory_max_value_bytes=1000) as (client, _):
        text = await error_text(client, action="store", key="big", value="x" * 5000)
        assert "1000" in text
        assert (await call(client, action="retrieve", key="big"))["found"] is False


@pytest.mark.parametrize(
    "target", ["@swarm.db", "@swarm.db-wal", "@swarm-mcp.lock", "@config.toml", ".", "..", "../swarm.db", "../../outside.jsonl"]
)
async def test_export_never_replaces_the_data_dirs_own_files_nor_leaves_its_folder(tmp_path: Path, target: str) -> None:
    home = tmp_path / "home"
    path = str(home / target[1:]) if target.startswith("@") else target
    async with mcp_client(home) as (client, _):
        await call(client, action="store", key="keep", value="me", durable=True)
        text = await error_text(client, action="export", path=path)
        assert "exports" in text and ("outside" in text or "folder" in text)
        assert (await call(client, action="retrieve", key="keep"))["entry"]["value"] == "me"  # still serving
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # nothing written next to the data dir
    async with mcp_client(home) as (client, _):  # the database and lock are intact: it opens again
        assert (await call(client, action="retrieve", key="keep"))["entry"]["value"] == "me"


async def test_export_and_backup_write_private_files_in_the_exports_folder_through_no_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "victim.jsonl"
    async with mcp_client(tmp_path / "home") as (client, app):
        await call(client, action="store", key="k", value=1)
        exported = await call(client, action="export", path="swarm.db")  # a file in exports/, not the database
        backup = await call(client, action="backup", path="nightly/b.db")
        (app.config.exports_dir / "link.jsonl").symlink_to(outside)
        assert "outside" in await error_text(client, action="export", path="link.jsonl")
    exports = tmp_path / "home" / "exports"
    assert exported["path"] == str(exports / "swarm.db") and backup["path"] == str(exports / "nightly" / "b.db")
    assert not outside.exists()
    for path in (exports, exports / "nightly"):
        assert path.stat().st_mode & 0o777 == 0o700
    for path in (exports / "swarm.db", exports / "nightly" / "b.db"):
        assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in exports.iterdir()) == ["link.jsonl", "nightly", "swarm.db"]  # no temporary files left


async def test_allow_external_paths_opens_only_the_listed_directories_and_never_the_data_dir(tmp_path: Path) -> None:
    shared, other = tmp_path / "shared", tmp_path / "other"
    shared.mkdir()
    other.mkdir()
    async with mcp_client(tmp_path / "home", allow_external_paths=[str(shared), str(tmp_path)]) as (client, _):
        await call(client, action="store", key="k", value=1)
        done = await call(client, action="export", path=str(shared / "out.jsonl"))
        assert done["path"] == str(shared / "out.jsonl") and (shared / "out.jsonl").stat().st_mode & 0o777 == 0o600
        # tmp_path is listed and holds the data dir, but the data dir's files stay out of reach
        assert "outside" in await error_text(client, action="export", path=str(tmp_path / "home" / "swarm.db"))
    async with mcp_client(tmp_path / "home2", allow_external_paths=[str(shared)]) as (client, _):
        assert "allow_external_paths" in await error_text(client, action="export", path=str(other / "out.jsonl"))


async def test_a_list_page_is_cut_by_bytes_and_paging_returns_every_entry_once(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, max_response_bytes=2**20) as (client, _):  # pages of at most 256 KiB
        for i in range(12):
            await call(client, action="store", key=f"big{i:02d}", value="x" * 100_000)
        seen: list[str] = []
        pages = 0
        cursor = None
        while True:
            page = await call(client, action="list", limit=1000, **({"cursor": cursor} if cursor else {}))
            assert 1 <= len(page["entries"]) <= 3
            seen += [e["key"] for e in page["entries"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == [f"big{i:02d}" for i in range(12)] and pages >= 4


async def test_a_value_nested_deeper_than_64_levels_is_refused_and_listing_keeps_working(tmp_path: Path) -> None:
    def nested(depth: int) -> Any:
        value: Any = 1
        for _ in range(depth):
            value = [value]
        return value

    async with mcp_client(tmp_path) as (client, _):
        for depth in (65, 253):
            assert "more than 64 levels deep" in await error_text(client, action="store", key="deep", value=nested(depth))
        assert "64 levels" in await error_text(client, action="store", key="m", value=1, metadata={"m": nested(80)})
        await call(client, action="store", key="ok", value=nested(64))
        listed = await call(client, action="list")
        assert [e["key"] for e in listed["entries"]] == ["ok"]
        exported = await call(client, action="export", path="deep.jsonl")
        line = b'{"namespace":"default","key":"deep","value":' + orjson.dumps(nested(100)) + b',"version":1,"created":1,"updated":1}'
        path = Path(exported["path"])
        path.write_bytes(path.read_bytes() + line + b"\n")
        assert "64 levels" in await error_text(client, action="import", path="deep.jsonl")
        assert (await call(client, action="retrieve", key="deep"))["found"] is False


async def test_writes_past_the_store_quota_are_refused_while_reads_and_deletes_keep_working(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, memory_max_bytes=2 * 2**20) as (client, _):
        stored = 0
        while True:
            result = await client.call_tool("memory_usage", {"action": "store", "key": f"k{stored}", "value": "v" * 100_000})
            if result.is_error:
                text = result.content[0].text
                break
            stored += 1
            assert stored < 40, "the quota never applied"
        assert "memory_max_bytes" in text and "reads keep working" in text
        assert (await call(client, action="retrieve", key="k0"))["entry"]["value"] == "v" * 100_000
        quota = (await call(client, action="stats"))["stats"]["quota"]
        assert quota["max_bytes"] == 2 * 2**20 and quota["used_bytes"] > 2**20
        for i in range(stored):
            await call(client, action="delete", key=f"k{i}", durable=True)
        with anyio.fail_after(10):  # room again once the search index has let go of the deleted values
            while (await client.call_tool("memory_usage", {"action": "store", "key": "after", "value": "v" * 100_000})).is_error:
                await anyio.sleep(0.05)
