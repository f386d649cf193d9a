"""Serve one newline-delimited JSON-RPC connection (stdio, or a TCP line client).

Every line gets exactly one reply unless it is a notification: bad JSON gets -32700 with id null,
an oversize line gets -32600 and is discarded, and the connection stays open either way. Tool
calls run concurrently in the connection's task group; `notifications/cancelled` cancels one
(and it is then never answered). When reading stops (EOF, or the daemon stopping), requests
already received are answered; once the daemon is stopping they get `shutdown_grace` seconds,
then are cancelled and answered with a shutting-down error.

`LineLimits` bounds what one connection may hold: at most `max_in_flight` requests run at once
(reading stops until one finishes), and a listener's connection is closed when its first line
does not arrive within `first_line_timeout`, or when nothing is in flight and no line has
arrived for `idle_timeout` (a `ping` keeps an idle connection open).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import structlog

from ._session import ProgressFn, Session, progress_token
from ._wire import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    SERVER_SHUTTING_DOWN,
    Invalid,
    Notification,
    Request,
    RequestId,
    Response,
    RpcError,
    classify,
    coerce_id,
    encode_error,
    encode_notification,
    encode_result,
)

__all__ = ("LineLimits", "LineSink", "Oversize", "read_bounded_line", "serve_line_connection")

log = structlog.get_logger("swarm_mcp.lines")


class LineSink(Protocol):
    """Where replies go: an asyncio `StreamWriter` satisfies it."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def is_closing(self) -> bool: ...

    async def wait_closed(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LineLimits:
    """Per-connection bounds; None means unbounded (stdio has no timeouts: its peer owns the process)."""

    max_in_flight: int | None = None
    first_line_timeout: float | None = None
    idle_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Oversize:
    """A line longer than the limit was read and thrown away."""

    size: int


async def read_bounded_line(reader: asyncio.StreamReader) -> bytes | Oversize | None:
    """Next line (without its newline), `Oversize` if it exceeded the reader's limit, `None` at EOF.

    The reader's `limit` is the line limit; an oversize line is discarded in limit-sized pieces
    without ever buffering more than about twice the limit.
    """
    try:
        return (await reader.readuntil(b"\n"))[:-1]
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None  # a last line without a newline still counts
    except asyncio.LimitOverrunError as exc:
        discarded = 0
        pending = exc.consumed
        while True:
            await reader.readexactly(pending)
            discarded += pending
            try:
                discarded += len(await reader.readuntil(b"\n"))
                return Oversize(discarded)
            except asyncio.IncompleteReadError as tail:
                return Oversize(discarded + len(tail.partial))
            except asyncio.LimitOverrunError as more:
                pending = more.consumed


@dataclass(slots=True)
class _InFlight:
    handle: Any = None  # the request's TaskHandle: cancelling it cancels the request
    cancelled_by_peer: bool = False


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    sink: LineSink
    session: Session
    stopping: anyio.Event
    shutdown_grace: float
    max_line_bytes: int
    limits: LineLimits = LineLimits()
    in_flight: dict[RequestId, _InFlight] = field(default_factory=dict)
    idle: anyio.Event = field(default_factory=anyio.Event)
    slot_free: anyio.Event = field(default_factory=anyio.Event)
    peer_gone: bool = False
    channel_started: bool = False
    channel_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    lines_read: int = 0
    last_line_at: float = field(default_factory=time.monotonic)

    # -- writing ---------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        if self.write(data):
            await self.drain()

    def write(self, data: bytes) -> bool:
        """Queue `data` on the transport (no await, so no cancellation can cut it off)."""
        if self.peer_gone:
            return False
        try:
            self.sink.write(data)
        except (ConnectionError, RuntimeError, OSError):
            self.peer_gone = True  # the client left; its other requests still finish quietly
            return False
        return True

    async def drain(self) -> None:
        """Wait while the transport's buffer is over its high-water mark (backpressure)."""
        try:
            await self.sink.drain()
        except (ConnectionError, RuntimeError, OSError):
            self.peer_gone = True

    async def notify(self, method: str, params: Mapping[str, Any]) -> None:
        """Send one notification through this connection's writer (progress, log messages, updates)."""
        await self.send(encode_notification(method, params))

    def start_channel(self, tg: anyio.abc.TaskGroup) -> None:
        """Once the session is initialized, run its notification channel (handshake era) beside the requests."""
        if self.channel_started:
            return
        channel = self.session.channel
        if channel is not None:
            self.channel_started = True
            tg.start_soon(self.run_channel, channel)

    async def run_channel(self, channel: Any) -> None:
        with self.channel_scope:  # cancelled when reading stops: a peer that stopped reading cannot hold it
            await channel.run(self.notify)

    def progress_for(self, params: Mapping[str, Any] | None) -> ProgressFn | None:
        token = progress_token(params)
        if token is None:
            return None

        async def progress(value: float, total: float | None = None, message: str | None = None) -> None:
            body: dict[str, Any] = {"progressToken": token, "progress": value}
            if total is not None:
                body["total"] = total
            if message is not None:
                body["message"] = message
            await self.send(encode_notification("notifications/progress", body))

        return progress

    # -- reading ---------------------------------------------------------------------------

    async def read_loop(self, tg: anyio.abc.TaskGroup) -> None:
        most = self.limits.max_in_flight
        while True:
            while most is not None and len(self.in_flight) >= most:
                self.slot_free = anyio.Event()
                await self.slot_free.wait()  # backpressure: the peer's further lines wait in the socket
            line = await read_bounded_line(self.reader)
            if line is None:
                return
            self.lines_read += 1
            self.last_line_at = time.monotonic()
            if isinstance(line, Oversize):
                await self.send(
                    encode_error(
                        None,
                        RpcError(
                            INVALID_REQUEST,
                            f"Request too large: a {line.size}-byte line exceeds the {self.max_line_bytes}-byte limit; "
                            "it was discarded. Send smaller messages or raise max_line_bytes "
                            "(--max-line-bytes / SWARM_MCP_MAX_LINE_BYTES).",
                        ),
                    )
                )
                continue
            if not line.strip():
                continue
            await self.dispatch(classify(line), tg)

    async def dispatch(self, message: Request | Notification | Response | Invalid, tg: anyio.abc.TaskGroup) -> None:
        match message:
            case Request(request_id, method, params):
                key = coerce_id(request_id)
                if key in self.in_flight:
                    await self.send(
                        encode_error(request_id, RpcError(INVALID_REQUEST, f"request id {request_id!r} is already in flight"))
                    )
                    return
                try:
                    outcome = self.session.handle(request_id, method, params, self.progress_for(params), self.notify)
                except RpcError as error:
                    await self.send(encode_error(request_id, error))
                    return
                if isinstance(outcome, dict):
                    await self.send(encode_result(request_id, outcome))
                    self.start_channel(tg)
                    return
                entry = _InFlight()
                self.in_flight[key] = entry
                self.idle = anyio.Event()
                entry.handle = tg.start_soon(self.run_request, request_id, key, outcome, entry)
            case Notification(method, params):
                if method == "notifications/cancelled":
                    self.cancel_from_peer(params)
                else:
                    self.session.notification(method, params)
                    self.start_channel(tg)
            case Invalid(request_id, error):
                await self.send(encode_error(request_id, error))
            case Response(request_id):
                log.debug("unexpected_response_dropped", request_id=request_id)

    def cancel_from_peer(self, params: Mapping[str, Any] | None) -> None:
        request_id = (params or {}).get("requestId")
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            entry = self.in_flight.get(coerce_id(request_id))
            if entry is not None:
                entry.cancelled_by_peer = True
                entry.handle.cancel()

    async def run_request(
        self, request_id: RequestId, key: RequestId, outcome: Awaitable[dict[str, Any]], entry: _InFlight
    ) -> None:
        """Run one request in its own task (cancelled through `entry.handle`) and answer it. The
        reply is queued without an await, so a cancellation after the result cannot lose it; a
        request cancelled by the server stopping is answered with a shutting-down error, one the
        peer cancelled is never answered."""
        try:
            try:
                reply = encode_result(request_id, await outcome)
            except RpcError as error:
                reply = encode_error(request_id, error)
            except Exception:
                error_id = f"{time.time_ns() & 0xFFFFFFFF:08x}"
                log.exception("request_failed", error_id=error_id, request_id=request_id)
                reply = encode_error(request_id, RpcError(INTERNAL_ERROR, f"Internal error (error id {error_id})"))
            except anyio.get_cancelled_exc_class():
                if not entry.cancelled_by_peer:
                    self.write(encode_error(
                        request_id,
                        RpcError(SERVER_SHUTTING_DOWN, "The server is shutting down; this request was cancelled before it finished"),
                    ))
                raise
            if not entry.cancelled_by_peer and self.write(reply):
                await self.drain()
        finally:
            del self.in_flight[key]
            self.slot_free.set()
            self.last_line_at = time.monotonic()  # an answer just went out: the idle clock starts now
            if not self.in_flight:
                self.idle.set()

    # -- lifecycle -------------------------------------------------------------------------

    async def close_when_idle(self, reading: anyio.CancelScope) -> None:
        """Stop reading when the first line is late or the connection sits idle (see `LineLimits`)."""
        first, idle = self.limits.first_line_timeout, self.limits.idle_timeout
        started = time.monotonic()
        while True:
            if not self.lines_read and first:
                due, reason = started + first, f"no complete line within {first} s of connecting"
            elif idle:
                if self.in_flight:
                    await self.idle.wait()  # busy is not idle
                    continue
                due, reason = self.last_line_at + idle, f"idle for {idle} s"
            else:
                return
            now = time.monotonic()
            if now >= due:
                log.info("line_connection_timed_out", reason=reason)
                await self.send(encode_error(None, RpcError(
                    INVALID_REQUEST, f"Closing this connection: {reason}. Reconnect to go on (a ping keeps a connection open)",
                )))
                reading.cancel()
                return
            await anyio.sleep(due - now)

    async def finish_in_flight(self) -> None:
        """Wait for in-flight requests; once stopping, give them the grace period, then cancel."""
        if not self.in_flight:
            return
        async with anyio.create_task_group() as waiters:

            async def stop_after_grace() -> None:
                await self.stopping.wait()
                await anyio.sleep(self.shutdown_grace)
                waiters.cancel_scope.cancel()

            async def stop_when_peer_leaves() -> None:
                await self.sink.wait_closed()
                waiters.cancel_scope.cancel()

            waiters.start_soon(stop_after_grace)
            waiters.start_soon(stop_when_peer_leaves)
            await self.idle.wait()
            waiters.cancel_scope.cancel()
        for entry in list(self.in_flight.values()):
            entry.handle.cancel()


async def serve_line_connection(
    reader: asyncio.StreamReader,
    sink: LineSink,
    session: Session,
    *,
    stopping: anyio.Event,
    shutdown_grace: float,
    max_line_bytes: int,
    on_eof: Callable[[], None] | None = None,
    limits: LineLimits = LineLimits(),
) -> None:
    """Serve `session` over one line connection until EOF, `stopping` or a timeout of `limits`,
    then settle in-flight work.

    `on_eof` runs when the peer closes its side (stdio uses it to stop the daemon).
    """
    conn = _Connection(reader, sink, session, stopping, shutdown_grace, max_line_bytes, limits)
    async with anyio.create_task_group() as requests:
        async with anyio.create_task_group() as reading:

            async def stop_reading_when_stopping() -> None:
                await stopping.wait()
                reading.cancel_scope.cancel()

            reading.start_soon(stop_reading_when_stopping)
            if limits.first_line_timeout or limits.idle_timeout:
                reading.start_soon(conn.close_when_idle, reading.cancel_scope)
            try:
                await conn.read_loop(requests)
            except (ConnectionError, OSError):
                conn.peer_gone = True
            else:
                if on_eof is not None:
                    on_eof()
            reading.cancel_scope.cancel()
        session.close()  # its channel stops sending; answers to requests already received still go out
        conn.channel_scope.cancel()
        await conn.finish_in_flight()
