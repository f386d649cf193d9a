"""Line clients of a listener (TCP lines after the sniffer, and the Unix socket): authentication,
a connection cap, and timeouts, in front of the shared line engine.

With a token set, a connection's first line must carry it:

    {"jsonrpc": "2.0", "id": 0, "method": "swarm-mcp/authenticate", "params": {"token": "<token>"}}

A request gets `{}` back; the notification form (no `id`) gets no reply, so a relay can put it in
front of a client's own stream. Anything else first, a wrong token, or no line within
`header_timeout` gets a -32001 error and the connection is closed before any tool runs. Without a
token the first line is an ordinary MCP message. After that the connection is the plain line
protocol of stdio, bounded by `LineLimits` (requests in flight, idle timeout).
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import orjson
import structlog

from ..protocol import LineLimits, RpcError, Session, encode_error, encode_result, read_bounded_line, serve_line_connection
from ..protocol._wire import INVALID_REQUEST

if TYPE_CHECKING:
    from ..app import App
    from ..lifecycle import AttachedSession
    from ..tools import ToolRegistry

__all__ = ("AUTH_METHOD", "SERVER_BUSY", "UNAUTHORIZED", "LineListener", "busy_error")

log = structlog.get_logger("swarm_mcp.lines")

AUTH_METHOD = "swarm-mcp/authenticate"
UNAUTHORIZED = -32001
SERVER_BUSY = -32002
_HOW = (
    'send {"jsonrpc":"2.0","id":0,"method":"' + AUTH_METHOD + '","params":{"token":"<token>"}} as the first line '
    "(the token is SWARM_MCP_TOKEN or the --token-file of the server)"
)


def busy_error(open_connections: int, limit: int) -> bytes:
    return encode_error(
        None,
        RpcError(
            SERVER_BUSY,
            f"This listener already has {open_connections} connections (max_connections is {limit}); close an idle "
            "connection or try again shortly",
        ),
    )


def _areas_key(tools: str | None) -> str | None:
    """One spelling per set of tool areas ("swarm, memory,memory" is "memory,swarm"); None: all.
    Unknown names are kept, for `build_registry` to refuse."""
    from ..tools import AREAS

    chosen = {area.strip() for area in (tools or "").split(",") if area.strip()}
    if not chosen or chosen == set(AREAS):
        return None
    return ",".join([a for a in AREAS if a in chosen] + sorted(chosen - set(AREAS)))


class LineListener:
    """Serves the line connections a listener hands over; `connections` counts those open."""

    def __init__(self, app: App, registry: ToolRegistry, tg: anyio.abc.TaskGroup, *, transport: str, token: str | None) -> None:
        self.app = app
        self.registry = registry
        self.tg = tg
        self.transport = transport
        self.token = token.encode() if token is not None else None
        self.connections = 0
        self._registries: dict[str | None, ToolRegistry] = {_areas_key(app.config.tools): registry}

    def registry_for(self, tools: str | None) -> ToolRegistry:
        """The tools an attached session asked for (its own `tools` setting; None: every area),
        built once per set of areas however the session spelled it.

        Raises:
            InvalidArgument: an unknown area.
        """
        key = _areas_key(tools)
        registry = self._registries.get(key)
        if registry is None:
            from ..tools import build_registry

            registry = self._registries[key] = build_registry(self.app, key)
        return registry

    def too_slow_error(self, seconds: float) -> bytes:
        """The line a connection gets when nothing arrived within `header_timeout`."""
        if self.token is not None:
            return encode_error(None, RpcError(UNAUTHORIZED, f"Unauthorized (nothing arrived within {seconds} s): {_HOW}."))
        return encode_error(None, RpcError(INVALID_REQUEST, f"Nothing arrived within {seconds} s (header_timeout); send a request"))

    def take(self, transport: asyncio.Transport, first_bytes: bytes, *, attached: AttachedSession | None = None) -> None:
        """Serve `transport` (whose first bytes were already read) as a line connection; `attached`:
        an attached session whose hello was answered (authenticated, served like stdio)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self.app.config.max_line_bytes, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if first_bytes:
            reader.feed_data(first_bytes)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        self.connections += 1
        if attached is None:
            self.tg.start_soon(self._serve, reader, writer)
        else:
            self.tg.start_soon(self._serve_attached, reader, writer, attached)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        config = self.app.config
        self.app.transports.opened(self.transport)
        try:
            if self.token is not None and not await self._authenticate(reader, writer):
                return
            limits = LineLimits(
                max_in_flight=config.max_in_flight,
                first_line_timeout=None if self.token is not None else (config.header_timeout or None),
                idle_timeout=config.idle_timeout or None,
            )
            await serve_line_connection(
                reader, writer, Session(self.app.identity, self.registry, self.transport, self.app.surface), stopping=self.app.stopping,
                shutdown_grace=config.shutdown_grace, max_line_bytes=config.max_line_bytes, limits=limits,
            )
        finally:
            self.connections -= 1
            self.app.transports.closed(self.transport)
            writer.close()

    async def _serve_attached(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, attached: AttachedSession) -> None:
        """An attached session: its own MCP session (protocol version, tools), limited like stdio
        (no idle timeout: a Claude Code session may sit idle for hours behind it)."""
        config = self.app.config
        self.app.transports.opened("attached")
        key = self.app.attached.add(attached)
        try:
            session = attached.session = Session(self.app.identity, self.registry_for(attached.tools), "attached")
            await serve_line_connection(
                reader, writer, session, stopping=self.app.stopping, shutdown_grace=config.shutdown_grace,
                max_line_bytes=config.max_line_bytes, limits=LineLimits(max_in_flight=config.max_in_flight),
            )
        finally:
            self.app.attached.remove(key)
            self.connections -= 1
            self.app.transports.closed("attached")
            writer.close()

    async def _authenticate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        assert self.token is not None
        line: Any = None
        with anyio.move_on_after(self.app.config.header_timeout or None):
            line = await read_bounded_line(reader)
        message: Any = None
        if isinstance(line, bytes):
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                message = None
        request_id = message.get("id") if isinstance(message, dict) else None
        request_id = request_id if isinstance(request_id, str | int) and not isinstance(request_id, bool) else None
        params = message.get("params") if isinstance(message, dict) else None
        presented = params.get("token") if isinstance(params, dict) else None
        if (
            isinstance(message, dict)
            and message.get("method") == AUTH_METHOD
            and isinstance(presented, str)
            and hmac.compare_digest(presented.encode(), self.token)
        ):
            if request_id is not None:
                writer.write(encode_result(request_id, {}))
            return True
        if line is None:
            why = "nothing arrived" if not reader.at_eof() else "the connection closed"
            reason = f"{why} before the authentication line"
        elif isinstance(message, dict) and message.get("method") == AUTH_METHOD:
            reason = "wrong token"
        else:
            reason = "the first line was not the authentication line"
        log.warning("line_unauthorized", transport=self.transport, reason=reason, peer=writer.get_extra_info("peername"))
        writer.write(encode_error(request_id, RpcError(
            UNAUTHORIZED, f"Unauthorized ({reason}): this server requires its bearer token on every connection; {_HOW}.",
        )))
        await _linger(reader, writer)
        return False


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, seconds: float = 1.0,
                  max_bytes: int = 1 << 20) -> None:
    """Half-close, then read and drop what the peer had already sent (at most `max_bytes`, for at
    most `seconds`), so the close that follows is a FIN and not a RST: a RST, which closing a socket
    with unread input sends, can destroy the error line in the peer's buffer before it reads it."""
    try:
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        with anyio.move_on_after(seconds):
            dropped = 0
            while dropped < max_bytes and (chunk := await reader.read(65536)):
                dropped += len(chunk)
    except (ConnectionError, OSError):
        pass

