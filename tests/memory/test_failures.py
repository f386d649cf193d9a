"""A corrupt file is refused; write failures are clear errors while reads keep working."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarm_mcp.errors import Unavailable
from swarm_mcp.memory import StoreConfig, StoreCorrupt, open_store

async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(db_path: Path) -> None:
    garbage = os.urandom(4096)
    db_path.write_bytes(garbage)
    with pytest.raises(StoreCorrupt) as caught:
        async with open_store(StoreConfig(path=db_path)):
            pass
    message = str(caught.value)
    assert str(db_path) in message and "backup" in message and "move it aside" in message
    assert db_path.read_bytes() == garbage


async def test_a_damaged_database_fails_the_check_at_open(store_at, db_path: Path) -> None:
    async with store_at() as store:
        for i in range(2000):
            await store.put("ns", f"k{i}", "x" * 200)
    data = bytearray(db_path.read_bytes())
    for offset in range(4096 * 3, len(data) - 4096, 4096):  # scribble over every page but the first two
        data[offset + 8:offset + 64] = os.urandom(56)
    db_path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match="swarm.db"):
        async with store_at():
            pass


async def test_a_full_disk_fails_durable_writes_clearly_and_keeps_reads(store_at, committed) -> None:
    # max_db_bytes makes SQLite report SQLITE_FULL exactly like a full disk
    async with store_at(max_db_bytes=200 * 1024) as store:
        await store.put("ns", "small", "kept", durable=True)
        for i in range(200):
            await store.put("ns", f"big{i}", "x" * 4000)
        with pytest.raises(Unavailable, match="full") as caught:
            await store.flush()
        assert "kept in memory" in str(caught.value)
        with pytest.raises(Unavailable, match="full"):
            await store.put("ns", "durable", 1, durable=True)
        stats = await store.stats()
        assert stats["flush"]["failures"] >= 2 and "full" in stats["flush"]["error"]
        assert stats["pending_writes"] == 201
        assert (await store.get("ns", "small")).value == "kept"
        assert (await store.get("ns", "big7")).value == "x" * 4000  # dirty entries stay served
        # free space: the pending writes go through
        for i in range(200):
            await store.delete("ns", f"big{i}")
        await store.flush()
        assert (await store.stats())["flush"]["error"] is None
    assert committed() == [("ns", "durable", 1), ("ns", "small", 1)]


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(writable dir, the same dir read-only). Root ignores permissions, so as root the
    read-only view is a read-only bind mount; without the privilege for it the test skips."""
    source = tmp_path / "data"
    source.mkdir()
    if os.geteuid() != 0:
        yield source, source
        for p in source.iterdir():
            p.chmod(0o644)
        source.chmod(0o755)
        return
    view = tmp_path / "ro-view"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(source), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only directory as root here: {mounted.stderr.decode().strip()}")
    try:
        yield source, view
    finally:
        subprocess.run(["umount", str(view)], check=True)


def _make_read_only(source: Path, view: Path) -> None:
    if source == view:
        for p in source.iterdir():
            p.chmod(0o444)
        source.chmod(0o555)
    else:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)


async def test_a_read_only_data_dir_serves_reads_and_refuses_writes_clearly(read_only_dir) -> None:
    source, view = read_only_dir
    async with open_store(StoreConfig(path=source / "swarm.db")) as store:
        await store.put("ns", "k", "hello world")
    _make_read_only(source, view)
    path = view / "swarm.db"
    async with open_store(StoreConfig(path=path)) as store:
        assert (await store.stats())["read_only"]
        assert (await store.get("ns", "k")).value == "hello world"
        assert [h.entry.key for h in await store.search("hello")] == ["k"]
        with pytest.raises(Unavailable, match="read-only") as caught:
            await store.put("ns", "k2", 1)
        assert str(path) in str(caught.value)
        with pytest.raises(Unavailable, match="read-only"):
            await store.agents.put("a1", kind="coder", status="idle")
    with pytest.raises(Unavailable, match="writable") as caught:
        async with open_store(StoreConfig(path=view / "new.db")):
            pass
    assert "new.db" in str(caught.value)


async def test_a_damage_report_that_is_not_utf8_is_still_a_corrupt_store(tmp_path: Path) -> None:
    from swarm_mcp.memory._schema import _quick_check

    class Damaged:  # what aiosqlite raises when quick_check's text holds bytes from scribbled pages
        async def execute_fetchall(self, sql: str) -> list:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(StoreCorrupt, match="not UTF-8"):
        await _quick_check(Damaged(), tmp_path / "swarm.db")  # type: ignore[arg-type]
