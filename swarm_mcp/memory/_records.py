"""Typed records for the other subsystems: swarms, agents, tasks, neural networks, events.

Unlike memory entries these are written through: each write is one SQLite transaction that has
committed when the call returns (it shares the store's write lock with the flusher, so it never
interleaves with a batch). Reads go straight to SQLite, on the store's read connection. Versioned records support
compare-and-set with `if_version` (0: only if absent), like entries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import orjson

from swarm_mcp.errors import Conflict, InvalidArgument, Unavailable

from ._limits import check_limit, check_version
from ._writer import in_writer_thread, transaction

if TYPE_CHECKING:
    from ._store import KVCore

MAX_ID_CHARS = 256
MAX_RECORDS_PAGE = 1_000


@dataclass(frozen=True, slots=True)
class SwarmRecord:
    id: str
    name: str
    status: str
    data: Mapping[str, Any]
    created: float
    updated: float
    version: int


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: str
    swarm_id: str | None
    kind: str
    status: str
    data: Mapping[str, Any]
    created: float
    updated: float
    version: int


@dataclass(frozen=True, slots=True)
class TaskRecord:
    id: str
    swarm_id: str | None
    agent_id: str | None
    status: str
    priority: int
    data: Mapping[str, Any]
    created: float
    updated: float
    version: int


@dataclass(frozen=True, slots=True)
class NetworkRecord:
    """A neural network: `metadata` (JSON: sizes, activation, training state) and `weights`
    (opaque bytes, e.g. a serialized pytree)."""

    id: str
    agent_id: str | None
    metadata: Mapping[str, Any]
    weights: bytes
    created: float
    updated: float
    version: int


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event; `seq` is assigned by the store and strictly increasing."""

    seq: int
    time: float
    kind: str
    swarm_id: str | None
    agent_id: str | None
    task_id: str | None
    data: Mapping[str, Any]


R = TypeVar("R")


def _check_id(what: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise InvalidArgument(f"{what} must be a non-empty string of up to {MAX_ID_CHARS} characters, not {value!r}")
    return value


def _json(what: str, value: Mapping[str, Any] | None) -> str:
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{what} must be a JSON object (a dict), not {type(value).__name__}")
    try:
        return orjson.dumps(dict(value)).decode()
    except TypeError as exc:
        raise InvalidArgument(f"{what} is not JSON-serializable ({exc})") from None


class _Table(Generic[R]):
    """One versioned table. `_columns` are the columns between `id` and `created`."""

    _table: str
    _columns: tuple[str, ...]
    _json_columns: frozenset[str] = frozenset({"data"})
    _what: str

    def __init__(self, core: KVCore) -> None:
        self._core = core

    def _record(self, row: tuple[Any, ...]) -> R:
        raise NotImplementedError

    def _decode(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        names = ("id", *self._columns, "created", "updated", "version")
        return tuple(orjson.loads(v) if n in self._json_columns else v for n, v in zip(names, row, strict=True))

    def _select(self) -> str:
        return f"SELECT id, {', '.join(self._columns)}, created, updated, version FROM {self._table}"

    async def get(self, record_id: str) -> R | None:
        """The record, or None."""
        _check_id(f"{self._what} id", record_id)
        rows = await self._core._reader.fetch_point(f"{self._select()} WHERE id = ?", (record_id,))
        return self._record(self._decode(tuple(rows[0]))) if rows else None

    async def _list(self, where: Mapping[str, Any], *, limit: int, after: str | None) -> list[R]:
        check_limit(limit, most=MAX_RECORDS_PAGE)
        clauses = [f"{name} = ?" for name, v in where.items() if v is not None]
        params: list[Any] = [v for v in where.values() if v is not None]
        if after is not None:
            clauses.append("id > ?")
            params.append(after)
        sql = self._select() + (f" WHERE {' AND '.join(clauses)}" if clauses else "") + " ORDER BY id LIMIT ?"
        rows = await self._core._reader.fetchall(sql, [*params, limit])
        return [self._record(self._decode(tuple(r))) for r in rows]

    async def _put(self, record_id: str, values: dict[str, Any], if_version: int | None) -> R:
        _check_id(f"{self._what} id", record_id)
        check_version(if_version)
        core = self._core
        if core._read_only is not None:
            raise core._read_only_error()
        now = core._clock()
        async with core._write_lock:
            with anyio.CancelScope(shield=True):  # one transaction, run as one call on the writer's thread
                try:
                    created, version = await in_writer_thread(core._db, self._write, record_id, values, if_version, now)
                except sqlite3.IntegrityError as exc:
                    raise InvalidArgument(
                        f"{self._what} {record_id!r} refers to a record that does not exist ({exc}); create it first"
                    ) from exc
                except sqlite3.Error as exc:
                    raise Unavailable(f"Could not write {self._what} {record_id!r} ({exc})") from exc
        row = (record_id, *values.values(), created, now, version)
        return self._record(self._decode(row))

    def _write(
        self, conn: sqlite3.Connection, record_id: str, values: dict[str, Any], if_version: int | None, now: float
    ) -> tuple[float, int]:
        """On the writer's thread: check `if_version`, upsert; (created, new version)."""
        with transaction(conn):
            row = conn.execute(f"SELECT version, created FROM {self._table} WHERE id = ?", (record_id,)).fetchone()
            if row is None:  # absent: continue from the version it had when deleted, if it was
                current, created = 0, now
                gone = conn.execute(_TOMBSTONE, (self._table, record_id)).fetchone()
                last = 0 if gone is None else gone[0]
            else:
                current, created = row
                last, gone = current, None
            if if_version is not None and if_version != current:
                raise Conflict(
                    f"{self._what} {record_id!r} was expected at version {if_version} but is at {current}"
                    f"{' (absent)' if current == 0 else ''}; read it again and retry with if_version={current}"
                )
            cols = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            updates = ", ".join(f"{c} = excluded.{c}" for c in values)
            conn.execute(
                f"INSERT INTO {self._table} (id, {cols}, created, updated, version) VALUES (?, {marks}, ?, ?, ?) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}, updated = excluded.updated, version = excluded.version",
                [record_id, *values.values(), created, now, last + 1],
            )
            if gone is not None:
                conn.execute(_FORGET_TOMBSTONE, (self._table, record_id))
        return created, last + 1

    async def delete(self, record_id: str, *, if_version: int | None = None) -> bool:
        """Delete the record (committed on return); True when it existed. Its version is kept
        (`record_tombstones`), so the id created again continues from it.

        Raises:
            Conflict: `if_version` did not match.
        """
        _check_id(f"{self._what} id", record_id)
        check_version(if_version)
        core = self._core
        if core._read_only is not None:
            raise core._read_only_error()
        async with core._write_lock:
            with anyio.CancelScope(shield=True):
                try:
                    return await in_writer_thread(core._db, self._remove, record_id, if_version)
                except sqlite3.Error as exc:
                    raise Unavailable(f"Could not delete {self._what} {record_id!r} ({exc})") from exc

    def _remove(self, conn: sqlite3.Connection, record_id: str, if_version: int | None) -> bool:
        """On the writer's thread: check `if_version`, delete (the trigger keeps the tombstone)."""
        with transaction(conn):
            row = conn.execute(f"SELECT version FROM {self._table} WHERE id = ?", (record_id,)).fetchone()
            current = 0 if row is None else row[0]
            if if_version is not None and if_version != current:
                raise Conflict(
                    f"{self._what} {record_id!r} was expected at version {if_version} but is at {current}; "
                    f"read it again and retry with if_version={current}"
                )
            conn.execute(f"DELETE FROM {self._table} WHERE id = ?", (record_id,))
        return current != 0


def _append_events(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], now: float) -> list[int]:
    """On the writer's thread, one transaction: insert the events in order; their `seq`s."""
    with transaction(conn):
        return [
            conn.execute(
                "INSERT INTO events (time, kind, swarm_id, agent_id, task_id, data) VALUES (?, ?, ?, ?, ?, ?)",
                (now, *row),
            ).lastrowid or 0
            for row in rows
        ]


_TOMBSTONE = "SELECT version FROM record_tombstones WHERE kind = ? AND id = ?"
_FORGET_TOMBSTONE = "DELETE FROM record_tombstones WHERE kind = ? AND id = ?"


class SwarmTable(_Table[SwarmRecord]):
    """`store.swarms`: one row per swarm."""

    _table, _columns, _what = "swarms", ("name", "status", "data"), "Swarm"

    def _record(self, row: tuple[Any, ...]) -> SwarmRecord:
        return SwarmRecord(*row)

    async def put(
        self, swarm_id: str, *, name: str, status: str, data: Mapping[str, Any] | None = None,
        if_version: int | None = None,
    ) -> SwarmRecord:
        """Create or replace a swarm (committed on return).

        Raises:
            Conflict: `if_version` did not match.
        """
        return await self._put(swarm_id, {"name": name, "status": status, "data": _json("data", data)}, if_version)

    async def list(self, *, status: str | None = None, limit: int = 100, after: str | None = None) -> list[SwarmRecord]:
        """Swarms in id order; pass the last id as `after` for the next page."""
        return await self._list({"status": status}, limit=limit, after=after)


class AgentTable(_Table[AgentRecord]):
    """`store.agents`: deleting a swarm deletes its agents."""

    _table, _columns, _what = "agents", ("swarm_id", "kind", "status", "data"), "Agent"

    def _record(self, row: tuple[Any, ...]) -> AgentRecord:
        return AgentRecord(*row)

    async def put(
        self, agent_id: str, *, kind: str, status: str, swarm_id: str | None = None,
        data: Mapping[str, Any] | None = None, if_version: int | None = None,
    ) -> AgentRecord:
        """Create or replace an agent (committed on return).

        Raises:
            Conflict: `if_version` did not match.
            InvalidArgument: `swarm_id` names no swarm.
        """
        _check_id("swarm_id", swarm_id, optional=True)
        values = {"swarm_id": swarm_id, "kind": kind, "status": status, "data": _json("data", data)}
        return await self._put(agent_id, values, if_version)

    async def list(
        self, *, swarm_id: str | None = None, status: str | None = None, limit: int = 100, after: str | None = None
    ) -> list[AgentRecord]:
        """Agents in id order, optionally of one swarm and/or status."""
        return await self._list({"swarm_id": swarm_id, "status": status}, limit=limit, after=after)


class TaskTable(_Table[TaskRecord]):
    """`store.tasks`: deleting a swarm deletes its tasks; deleting an agent unassigns them."""

    _table, _columns, _what = "tasks", ("swarm_id", "agent_id", "status", "priority", "data"), "Task"

    def _record(self, row: tuple[Any, ...]) -> TaskRecord:
        return TaskRecord(*row)

    async def put(
        self, task_id: str, *, status: str, swarm_id: str | None = None, agent_id: str | None = None,
        priority: int = 0, data: Mapping[str, Any] | None = None, if_version: int | None = None,
    ) -> TaskRecord:
        """Create or replace a task (committed on return).

        Raises:
            Conflict: `if_version` did not match.
            InvalidArgument: `swarm_id` or `agent_id` names no record.
        """
        _check_id("swarm_id", swarm_id, optional=True)
        _check_id("agent_id", agent_id, optional=True)
        values = {"swarm_id": swarm_id, "agent_id": agent_id, "status": status, "priority": int(priority),
                  "data": _json("data", data)}
        return await self._put(task_id, values, if_version)

    async def list(
        self, *, swarm_id: str | None = None, agent_id: str | None = None, status: str | None = None,
        limit: int = 100, after: str | None = None,
    ) -> list[TaskRecord]:
        """Tasks in id order, optionally filtered."""
        return await self._list({"swarm_id": swarm_id, "agent_id": agent_id, "status": status}, limit=limit, after=after)


class NetworkTable(_Table[NetworkRecord]):
    """`store.networks`: metadata as JSON, weights as a blob; written through."""

    _table, _columns, _what = "networks", ("agent_id", "metadata", "weights"), "Network"
    _json_columns = frozenset({"metadata"})

    def _record(self, row: tuple[Any, ...]) -> NetworkRecord:
        return NetworkRecord(*row)

    async def put(
        self, network_id: str, *, weights: bytes, metadata: Mapping[str, Any] | None = None,
        agent_id: str | None = None, if_version: int | None = None,
    ) -> NetworkRecord:
        """Create or replace a network (committed on return).

        Raises:
            Conflict: `if_version` did not match.
            InvalidArgument: `weights` is not bytes, or `agent_id` names no agent.
            LimitExceeded: the store quota (`StoreConfig.max_bytes`) has no room for it.
        """
        if not isinstance(weights, bytes | bytearray | memoryview):
            raise InvalidArgument(f"weights must be bytes, not {type(weights).__name__}")
        _check_id("agent_id", agent_id, optional=True)
        values = {"agent_id": agent_id, "metadata": _json("metadata", metadata), "weights": bytes(weights)}
        self._core.check_quota(len(values["weights"]), what=f"saving network {network_id!r}")
        record = await self._put(network_id, values, if_version)
        self._core.note_written(len(values["weights"]))
        return record

    async def list(self, *, agent_id: str | None = None, limit: int = 100, after: str | None = None) -> list[NetworkRecord]:
        """Networks in id order (weights included), optionally of one agent."""
        return await self._list({"agent_id": agent_id}, limit=limit, after=after)


class EventLog:
    """`store.events`: append-only, ordered by `seq`; written through."""

    def __init__(self, core: KVCore) -> None:
        self._core = core

    async def append(
        self, kind: str, *, data: Mapping[str, Any] | None = None, swarm_id: str | None = None,
        agent_id: str | None = None, task_id: str | None = None,
    ) -> EventRecord:
        """Append one event (committed on return) and return it with its `seq`."""
        return (await self.append_many([(kind, data, swarm_id, agent_id, task_id)]))[0]

    async def append_many(
        self, events: list[tuple[str, Mapping[str, Any] | None, str | None, str | None, str | None]]
    ) -> list[EventRecord]:
        """Append `(kind, data, swarm_id, agent_id, task_id)` tuples in one transaction, in order."""
        core = self._core
        if core._read_only is not None:
            raise core._read_only_error()
        rows = []
        for kind, data, swarm_id, agent_id, task_id in events:
            _check_id("kind", kind)
            for what, value in (("swarm_id", swarm_id), ("agent_id", agent_id), ("task_id", task_id)):
                _check_id(what, value, optional=True)
            rows.append((kind, swarm_id, agent_id, task_id, _json("data", data)))
        now = core._clock()
        async with core._write_lock:
            with anyio.CancelScope(shield=True):
                try:
                    seqs = await in_writer_thread(core._db, _append_events, rows, now)
                except sqlite3.Error as exc:
                    raise Unavailable(f"Could not append events ({exc})") from exc
        return [
            EventRecord(seq, now, kind, swarm_id, agent_id, task_id, orjson.loads(data))
            for seq, (kind, swarm_id, agent_id, task_id, data) in zip(seqs, rows, strict=True)
        ]

    async def recent(
        self, *, swarm_id: str | None = None, agent_id: str | None = None, kinds: Sequence[str] = (), limit: int = 20,
    ) -> list[EventRecord]:
        """The newest events, newest first, of one swarm or agent and of the given kinds (any when empty)."""
        check_limit(limit, most=MAX_RECORDS_PAGE)
        clauses, params = ["1"], []
        for name, value in (("swarm_id", swarm_id), ("agent_id", agent_id)):
            if value is not None:
                clauses.append(f"{name} = ?")
                params.append(value)
        if kinds:
            clauses.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params.extend(kinds)
        rows = await self._core._reader.fetchall(
            f"SELECT seq, time, kind, swarm_id, agent_id, task_id, data FROM events WHERE {' AND '.join(clauses)} "
            "ORDER BY seq DESC LIMIT ?",
            [*params, limit],
        )
        return [EventRecord(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6])) for r in rows]

    async def list(
        self, *, after_seq: int = 0, swarm_id: str | None = None, agent_id: str | None = None,
        kind: str | None = None, limit: int = 100, since: float | None = None, until: float | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[EventRecord]:
        """Events with `seq > after_seq` in order; pass the last `seq` back for the next page.
        `since`/`until`: only events with `since <= time < until`; `kinds`: only these kinds."""
        check_limit(limit, most=MAX_RECORDS_PAGE)
        clauses, params = ["seq > ?"], [after_seq]
        for name, value in (("swarm_id", swarm_id), ("agent_id", agent_id), ("kind", kind)):
            if value is not None:
                clauses.append(f"{name} = ?")
                params.append(value)
        if since is not None:
            clauses.append("time >= ?")
            params.append(since)
        if until is not None:
            clauses.append("time < ?")
            params.append(until)
        if kinds is not None:
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})" if kinds else "0")
            params.extend(kinds)
        rows = await self._core._reader.fetchall(
            f"SELECT seq, time, kind, swarm_id, agent_id, task_id, data FROM events WHERE {' AND '.join(clauses)} "
            "ORDER BY seq LIMIT ?",
            [*params, limit],
        )
        return [EventRecord(r[0], r[1], r[2], r[3], r[4], r[5], orjson.loads(r[6])) for r in rows]
