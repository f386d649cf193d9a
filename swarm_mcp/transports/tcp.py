"""One TCP port, two protocols: the first bytes of a connection decide.

An HTTP request line (`POST /mcp HTTP/1.1`, …) goes to Streamable HTTP; anything else is served as
newline-delimited JSON-RPC (a first line that is not JSON gets -32700 like any other). Every
connection shares the one daemon. The line protocol has no authentication, so on a non-loopback
listener it is refused with an explanatory error, and HTTP requires the bearer token.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import structlog

from ..config import ConfigError, is_loopback_host
from ..protocol import RpcError, Session, serve_line_connection
from ..protocol._wire import INVALID_REQUEST, encode_error
from .http import HttpFront

if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("serve_tcp", "sniff")

log = structlog.get_logger("swarm_mcp.tcp")

_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")
_LONGEST_METHOD = max(len(m) for m in _HTTP_METHODS)


def sniff(first: bytes) -> str | None:
    """'http', 'lines', or None when more bytes are needed to tell."""
    if any(first.startswith(method) for method in _HTTP_METHODS):
        return "http"
    if any(method.startswith(first) for method in _HTTP_METHODS) and len(first) < _LONGEST_METHOD:
        return None
    return "lines"


class _Sniffer(asyncio.Protocol):
    """Buffers a connection's first bytes until the protocol is known, then hands the transport over."""

    def __init__(self, listener: _Listener) -> None:
        self._listener = listener
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        kind = sniff(self._buffer)
        if kind is not None:
            self._hand_over(kind)

    def eof_received(self) -> bool:
        if self._buffer:
            self._hand_over("lines")  # a short line then EOF: still a line client
            return True
        return False

    def _hand_over(self, kind: str) -> None:
        assert self._transport is not None
        if kind == "http":
            self._listener.http.take_over(self._transport, self._buffer)
        else:
            self._listener.take_lines(self._transport, self._buffer)


class _Listener:
    def __init__(self, app: App, registry: ToolRegistry, http: HttpFront, loopback: bool, tg: anyio.abc.TaskGroup):
        self.app = app
        self.registry = registry
        self.http = http
        self.loopback = loopback
        self.tg = tg
        self.line_connections = 0

    def take_lines(self, transport: asyncio.Transport, first_bytes: bytes) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self.app.config.max_line_bytes, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        reader.feed_data(first_bytes)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        self.tg.start_soon(self._serve_lines, reader, writer)

    async def _serve_lines(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not self.loopback:
            writer.write(
                encode_error(
                    None,
                    RpcError(
                        INVALID_REQUEST,
                        "The JSON-RPC line protocol has no authentication, so it is refused on this non-loopback "
                        "listener. Use Streamable HTTP at /mcp with `Authorization: Bearer <token>`, or run a "
                        "loopback listener (--tcp 127.0.0.1:PORT) for line clients.",
                    ),
                )
            )
            writer.close()
            log.warning("line_client_refused", peer=peer)
            return
        self.app.transports.opened("tcp-lines")
        self.line_connections += 1
        try:
            await serve_line_connection(
                reader,
                writer,
                Session(self.app.identity, self.registry, "tcp-lines"),
                stopping=self.app.stopping,
                shutdown_grace=self.app.config.shutdown_grace,
                max_line_bytes=self.app.config.max_line_bytes,
            )
        finally:
            self.line_connections -= 1
            self.app.transports.closed("tcp-lines")
            writer.close()


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
    http = HttpFront(app, registry, host, port, token)
    loop = asyncio.get_running_loop()
    async with anyio.create_task_group() as tg, http.running():
        listener = _Listener(app, registry, http, loopback, tg)
        try:
            server = await loop.create_server(lambda: _Sniffer(listener), host, port, reuse_address=True)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; pick another --tcp port") from exc
        bound_port = server.sockets[0].getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{shown}:{bound_port}"
        app.transports.serving("http", f"{base}/mcp")
        app.transports.serving("tcp-lines", f"tcp://{shown}:{bound_port}")
        app.lock.set_tcp_url(f"{base}/mcp")
        log.info("tcp_listening", url=f"{base}/mcp", lines=f"tcp://{shown}:{bound_port}", auth=token is not None)
        task_status.started(base)
        await app.stopping.wait()
        server.close()
        http.begin_shutdown()
        with anyio.move_on_after(app.config.shutdown_grace + 0.1):
            while http.open_connections or listener.line_connections:
                await anyio.sleep(0.01)
        http.force_close()
