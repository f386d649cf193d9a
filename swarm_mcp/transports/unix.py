"""The line protocol on a Unix socket in the data dir: the local channel, private to its user.

`<data dir>/swarm-mcp.sock` (mode 0600, in the 0700 data dir) speaks exactly what stdio speaks:
newline-delimited JSON-RPC, both protocol eras, with the same token rule as TCP lines (a first
line carrying the token when one is set; see `transports.lines`). Every `serve` offers it unless
`unix_socket` is false. The owner records the path in its lock file, so a second `swarm-mcp`
on the same data dir can find it; a socket left by a crashed owner is replaced (whoever holds
the data-dir lock owns the path; `local_socket`), and the socket is removed on exit.

A connection's first line may instead be a control request (`swarm_mcp.control`): an attached
session's hello (the connection then carries that session's MCP lines, as its own MCP session),
`swarm-mcp status` or `swarm-mcp stop`.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import structlog

from ..control import HELLO, STATUS, STOP, parse_control
from ..errors import SwarmError
from ..lifecycle import AttachedSession, owner_status
from ..local_socket import MAX_SOCKET_PATH_BYTES, bind_socket, socket_path_fits
from ..protocol import INVALID_PARAMS, SERVER_SHUTTING_DOWN, RpcError, encode_error, encode_result
from .lines import UNAUTHORIZED, LineListener, busy_error

if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("MAX_SOCKET_PATH_BYTES", "serve_unix")

log = structlog.get_logger("swarm_mcp.unix")

MAX_VERSION_CHARS = 64  # a hello's version is logged and shown by `status`
MAX_TOOLS_CHARS = 256


class _Accept(asyncio.Protocol):
    """Reads a connection's first line: a control request is answered here; anything else (an MCP
    client, its authentication line) goes to the line listener with the bytes read so far."""

    def __init__(self, lines: LineListener, max_connections: int) -> None:
        self._lines = lines
        self._max = max_connections
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._lines.connections >= self._max:
            log.warning("connection_refused", reason="max_connections", open=self._lines.connections, transport="unix")
            transport.write(busy_error(self._lines.connections, self._max))
            transport.close()
            self._done = True
            return
        timeout = self._lines.app.config.header_timeout
        if timeout:
            self._timer = asyncio.get_running_loop().call_later(timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._buffer += data
        end = self._buffer.find(b"\n")
        if end >= 0:
            self._first_line(self._buffer[:end], self._buffer[end + 1 :])
        elif len(self._buffer) > self._lines.app.config.max_line_bytes:
            self._hand_over(self._buffer)  # the line engine discards it and says why

    def eof_received(self) -> bool:
        if self._buffer and not self._done:
            self._first_line(self._buffer, b"")
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def _finish(self) -> None:
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        if not self._done and self._transport is not None:
            self._finish()
            self._transport.write(self._lines.too_slow_error(self._lines.app.config.header_timeout))
            self._transport.close()

    def _hand_over(self, data: bytes, attached: AttachedSession | None = None) -> None:
        assert self._transport is not None
        self._finish()
        self._lines.take(self._transport, data, attached=attached)

    def _first_line(self, line: bytes, rest: bytes) -> None:
        control = parse_control(line)
        if control is None:
            self._hand_over(self._buffer)
            return
        assert self._transport is not None
        self._finish()
        request_id, method, params = control
        try:
            reply, attached = self._control(request_id, method, params)
        except RpcError as error:
            self._transport.write(encode_error(request_id, error))
            self._transport.close()
            return
        self._transport.write(reply)
        if attached is not None:
            self._lines.take(self._transport, rest, attached=attached)
        else:
            self._transport.close()

    def _control(self, request_id: Any, method: str, params: dict[str, Any]) -> tuple[bytes, AttachedSession | None]:
        lines, app = self._lines, self._lines.app
        if lines.token is not None:
            presented = params.get("token")
            if not isinstance(presented, str) or not hmac.compare_digest(presented.encode(), lines.token):
                log.warning("line_unauthorized", transport="unix", reason=f"{method} without the right token")
                raise RpcError(UNAUTHORIZED, f"Unauthorized: {method} needs this server's token in params.token "
                               "(SWARM_MCP_TOKEN or the --token-file of the server)")
        pid = params.get("pid") if type(params.get("pid")) is int else None
        if method == STATUS:
            return encode_result(request_id, owner_status(app)), None
        if method == STOP:
            log.info("stop_requested", by_pid=pid, attached_sessions=len(app.attached))
            app.request_stop(f"swarm-mcp stop (pid {pid})" if pid else "swarm-mcp stop")
            return encode_result(request_id, {"pid": os.getpid(), "attached_sessions": len(app.attached)}), None
        assert method == HELLO
        version, tools = params.get("version"), params.get("tools")
        if not isinstance(version, str) or not 0 < len(version) <= MAX_VERSION_CHARS or not version.isprintable() \
                or not (tools is None or isinstance(tools, str) and len(tools) <= MAX_TOOLS_CHARS):
            raise RpcError(INVALID_PARAMS, f"{HELLO} needs params.version (a printable string of at most {MAX_VERSION_CHARS} "
                           f"characters) and optionally params.tools (areas, comma-separated, at most {MAX_TOOLS_CHARS})")
        mine = app.identity.version
        reply: dict[str, Any] = {"pid": os.getpid(), "version": mine, "kind": app.role.kind,
                                 "data_dir": str(app.config.data_dir), "handover": False}
        if app.role.hands_over_to(version, mine, serves_tcp="http" in app.transports.endpoints):
            log.info("handing_over", to_version=version, to_pid=pid, attached_sessions=len(app.attached))
            app.handover_to = version
            app.request_stop(f"handover to swarm-mcp {version} (pid {pid})")
            reply["handover"] = True
            return encode_result(request_id, reply), None
        if app.stopping.is_set():
            raise RpcError(SERVER_SHUTTING_DOWN, "This owner is stopping; attach again in a moment (the next owner takes over)")
        try:
            lines.registry_for(tools)
        except SwarmError as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from None
        log.info("session_attached", pid=pid, version=version, tools=tools, attached_sessions=len(app.attached) + 1)
        return encode_result(request_id, reply), AttachedSession(pid, version, tools)


async def serve_unix(
    app: App, registry: ToolRegistry, *, listener: socket.socket | None = None,
    task_status: anyio.abc.TaskStatus[Path | None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve line clients on the data dir's socket until the daemon stops; `task_status.started`
    gets the socket path, or None when the path is too long for a Unix socket (logged).
    `listener` is the socket already bound at the path (`local_socket.bind_socket`); without
    one it is bound here.

    Raises:
        Unavailable: something that is not a socket is in the way, or binding fails.
    """
    path = app.config.socket_path
    if listener is None:
        if not socket_path_fits(path):
            log.warning("unix_socket_skipped", path=str(path),
                        reason=f"the path is longer than {MAX_SOCKET_PATH_BYTES} bytes; use a shorter --data-dir")
            task_status.started(None)
            return
        listener = bind_socket(path)
    loop = asyncio.get_running_loop()
    async with anyio.create_task_group() as tg:
        lines = LineListener(app, registry, tg, transport="unix", token=app.config.resolved_token)
        try:
            server = await loop.create_unix_server(lambda: _Accept(lines, app.config.max_connections), sock=listener)
        except OSError as exc:
            listener.close()
            raise SwarmError(f"cannot serve the Unix socket {path}: {exc.strerror}") from exc
        identity = path.stat().st_ino
        try:
            app.transports.serving("unix", str(path))
            app.transports.serving("attached", str(path))
            app.lock.set_socket_path(str(path))
            log.info("unix_listening", path=str(path), auth=lines.token is not None)
            task_status.started(path)
            await app.stopping.wait()
            server.close()
            with anyio.move_on_after(app.config.shutdown_grace + 0.1):
                while lines.connections:
                    await anyio.sleep(0.01)
        finally:
            with anyio.CancelScope(shield=True):
                server.close()
                try:
                    if path.lstat().st_ino == identity:
                        path.unlink()
                except FileNotFoundError:
                    pass
                app.lock.set_socket_path(None)
