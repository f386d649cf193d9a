"""One TCP port, two protocols: the first bytes of a connection decide.

An HTTP request line (`POST /mcp HTTP/1.1`, …) goes to Streamable HTTP once its headers are
complete; anything else is served as newline-delimited JSON-RPC (a first line that is not JSON
gets -32700 like any other). Every connection shares the one daemon. With a token set, HTTP
requires `Authorization: Bearer <token>` and a line connection's first line must carry it
(`transports.lines`); off loopback a token is required.

Bounds, per listener: at most `max_connections` connections (more get a 503 or a -32002 line and
are closed); a connection must show its protocol and, for HTTP, complete its first request's
headers within `header_timeout`; line connections also close after `idle_timeout` idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import orjson
import structlog

from ..config import ConfigError, is_loopback_host
from .http import HttpFront
from .lines import LineListener, busy_error

if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("Listener", "serve_tcp", "sniff", "sniffing")

log = structlog.get_logger("swarm_mcp.tcp")

_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")
_LONGEST_METHOD = max(len(m) for m in _HTTP_METHODS)
_MAX_HEAD_BYTES = 16 * 1024  # as h11's own limit: a longer head is handed over and refused there


def sniff(first: bytes) -> str | None:
    """'http', 'lines', or None when more bytes are needed to tell."""
    if any(first.startswith(method) for method in _HTTP_METHODS):
        return "http"
    if any(method.startswith(first) for method in _HTTP_METHODS) and len(first) < _LONGEST_METHOD:
        return None
    return "lines"


def _head_complete(buffer: bytes) -> bool:
    return b"\n\r\n" in buffer or b"\n\n" in buffer


def _http_busy(open_connections: int, limit: int) -> bytes:
    body = orjson.dumps({
        "error": "busy",
        "message": f"This swarm-mcp listener already has {open_connections} connections (max_connections is {limit}); "
        "close an idle connection or try again shortly.",
    })
    return (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode() + body
    )


class _Sniffer(asyncio.Protocol):
    """Buffers a connection's first bytes until the protocol is known (and, for HTTP, the first
    request's headers are complete), then hands the transport over, or refuses it when the
    listener is full."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._refuse = False
        self._done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        listener = self._listener
        if listener.open_connections >= listener.max_connections:
            if listener.refusing >= 16:  # a flood: do not even explain
                transport.abort()
                self._done = True
                return
            self._refuse = True
            listener.refusing += 1
        else:
            listener.sniffing += 1
        timeout = listener.app.config.header_timeout
        if timeout:  # 0: no limit
            self._timer = asyncio.get_running_loop().call_later(timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._buffer += data
        kind = sniff(self._buffer)
        if kind == "http" and not _head_complete(self._buffer) and len(self._buffer) < _MAX_HEAD_BYTES:
            return
        if kind is not None:
            self._hand_over(kind)

    def eof_received(self) -> bool:
        if self._buffer and not self._done and sniff(self._buffer) != "http":
            self._hand_over("lines")  # a short line then EOF: still a line client
            return True
        return False  # nothing, or an unfinished HTTP request: close

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _too_slow(self) -> None:
        if not self._done and self._transport is not None:
            log.info("connection_timed_out", reason="protocol or request headers incomplete", bytes=len(self._buffer),
                     peer=self._transport.get_extra_info("peername"))
            self._finish()
            lines = self._listener.lines
            if lines is not None and sniff(self._buffer) != "http":  # a silent or half-line client reads lines: tell it why
                self._transport.write(lines.too_slow_error(self._listener.app.config.header_timeout))
            self._transport.close()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        if self._refuse:
            self._listener.refusing -= 1
        else:
            self._listener.sniffing -= 1

    def _hand_over(self, kind: str) -> None:
        assert self._transport is not None
        refuse = self._refuse
        self._finish()
        listener = self._listener
        if refuse:
            count, limit = listener.open_connections, listener.max_connections
            log.warning("connection_refused", reason="max_connections", open=count, protocol=kind)
            self._transport.write(_http_busy(count, limit) if kind == "http" else busy_error(count, limit))
            self._transport.close()
        elif kind == "http":
            listener.http.take_over(self._transport, self._buffer)
        elif listener.lines is not None:
            listener.lines.take(self._transport, self._buffer)
        else:
            self._transport.write(_HTTP_ONLY)
            self._transport.close()


_HTTP_ONLY = orjson.dumps({"jsonrpc": "2.0", "id": None, "error": {
    "code": -32600, "message": "This listener serves Streamable HTTP only (POST /mcp); JSON-RPC lines are not offered here",
}}) + b"\n"


class Listener:
    """One TCP listener's connections: sniffing, HTTP (`http`, set once the port is bound and
    before the first connection is accepted) and, when offered, line clients (`lines`)."""

    def __init__(self, app: App, lines: LineListener | None, max_connections: int) -> None:
        self.app = app
        self.lines = lines
        self.http: HttpFront
        self.max_connections = max_connections
        self.sniffing = 0
        self.refusing = 0

    @property
    def open_connections(self) -> int:
        return self.sniffing + (self.lines.connections if self.lines is not None else 0) + self.http.open_connections


def sniffing(listener: Listener) -> Callable[[], asyncio.Protocol]:
    """The protocol factory for `loop.create_server`: each connection is sniffed, capped and timed."""
    return lambda: _Sniffer(listener)


async def serve_tcp(
    app: App,
    registry: ToolRegistry,
    host: str,
    port: int,
    *,
    task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on host:port until the daemon stops; `task_status.started` gets the base URL.

    Raises:
        ConfigError: a non-loopback bind without a token, or the port cannot be bound.
    """
    loopback = is_loopback_host(host)
    token = app.config.resolved_token
    if not loopback and token is None:
        raise ConfigError(
            f"binding to {host} (not loopback) requires a bearer token: set SWARM_MCP_TOKEN or pass --token-file, "
            "or bind 127.0.0.1"
        )
    loop = asyncio.get_running_loop()
    async with anyio.create_task_group() as tg:
        listener = Listener(app, LineListener(app, registry, tg, transport="tcp-lines", token=token), app.config.max_connections)
        try:
            server = await loop.create_server(sniffing(listener), host, port, reuse_address=True, start_serving=False)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --tcp port") from exc
        bound_port = server.sockets[0].getsockname()[1]
        listener.http = HttpFront(app, registry, host, bound_port, token)
        async with listener.http.running():
            await server.start_serving()
            shown = f"[{host}]" if ":" in host else host
            base = f"http://{shown}:{bound_port}"
            app.transports.serving("http", f"{base}/mcp")
            app.transports.serving("tcp-lines", f"tcp://{shown}:{bound_port}")
            app.lock.set_tcp_url(f"{base}/mcp")
            log.info("tcp_listening", url=f"{base}/mcp", lines=f"tcp://{shown}:{bound_port}", auth=token is not None,
                     max_connections=listener.max_connections)
            task_status.started(base)
            await app.stopping.wait()
            server.close()
            listener.http.begin_shutdown()
            with anyio.move_on_after(app.config.shutdown_grace + 0.1):
                while listener.open_connections:
                    await anyio.sleep(0.01)
            listener.http.force_close()
