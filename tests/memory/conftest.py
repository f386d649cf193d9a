"""Fixtures for the memory store: real SQLite files in tmp_path and a clock tests move by hand."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from swarm_mcp.memory import StoreConfig, TieredStore, open_store


class FakeClock:
    """Unix time that moves only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "swarm.db"


OpenStore = Callable[..., AbstractAsyncContextManager[TieredStore]]


@pytest.fixture
def store_at(db_path: Path, clock: FakeClock) -> OpenStore:
    """`async with store_at(**config) as store:` opens the test database. The background flusher
    and sweeper are slowed to an hour unless a test asks otherwise, so tests flush explicitly."""

    def opener(**overrides: Any) -> AbstractAsyncContextManager[TieredStore]:
        settings: dict[str, Any] = {"path": db_path, "flush_interval": 3600.0, "sweep_interval": 3600.0}
        settings.update(overrides)
        return open_store(StoreConfig(**settings), clock=clock)

    return opener


@pytest.fixture
async def store(store_at: OpenStore) -> AsyncIterator[TieredStore]:
    async with store_at() as s:
        yield s


CommittedRows = Callable[..., list[tuple[Any, ...]]]


@pytest.fixture
def committed(db_path: Path) -> CommittedRows:
    """`committed(sql, params)`: rows as an independent connection sees them, i.e. only what has
    committed. Defaults to (namespace, key, version) of every entry."""

    def rows(sql: str = "SELECT namespace, key, version FROM entries ORDER BY namespace, key",
             params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(db_path)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    return rows
