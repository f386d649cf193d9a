"""The line protocol on a Unix socket in the data dir: the local channel, private to its user.

`<data dir>/swarm-mcp.sock` (mode 0600, in the 0700 data dir) speaks exactly what stdio speaks:
newline-delimited JSON-RPC, both protocol eras, with the same token rule as TCP lines (a first
line carrying the token when one is set; see `transports.lines`). Every `serve` offers it unless
`unix_socket` is false. The owner records the path in its lock file, so a second `swarm-mcp`
on the same data dir can find it; a socket left by a crashed owner is replaced (whoever holds
the data-dir lock owns the path), and the socket is removed on exit.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import structlog

from ..errors import Unavailable
from .lines import LineListener, busy_error

if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("MAX_SOCKET_PATH_BYTES", "serve_unix")

log = structlog.get_logger("swarm_mcp.unix")

MAX_SOCKET_PATH_BYTES = 107  # sun_path is 108 bytes with its terminating NUL


class _Accept(asyncio.Protocol):
    """Hands each accepted connection to the line listener, or refuses it when full."""

    def __init__(self, lines: LineListener, max_connections: int) -> None:
        self._lines = lines
        self._max = max_connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self._lines.connections >= self._max:
            log.warning("connection_refused", reason="max_connections", open=self._lines.connections, transport="unix")
            transport.write(busy_error(self._lines.connections, self._max))
            transport.close()
            return
        self._lines.take(transport, b"")


def _clear_stale(path: Path) -> None:
    """Remove a socket (or a link) a previous owner left; we hold the data-dir lock, so it is ours."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not (stat.S_ISSOCK(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        raise Unavailable(
            f"{path} exists and is not a socket; move it aside, or start with --set unix_socket=false"
        )
    path.unlink()


async def serve_unix(
    app: App, registry: ToolRegistry, *, task_status: anyio.abc.TaskStatus[Path | None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Serve line clients on the data dir's socket until the daemon stops; `task_status.started`
    gets the socket path, or None when the path is too long for a Unix socket (logged).

    Raises:
        Unavailable: something that is not a socket is in the way, or binding fails.
    """
    path = app.config.socket_path
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        log.warning("unix_socket_skipped", path=str(path),
                    reason=f"the path is longer than {MAX_SOCKET_PATH_BYTES} bytes; use a shorter --data-dir")
        task_status.started(None)
        return
    _clear_stale(path)
    loop = asyncio.get_running_loop()
    async with anyio.create_task_group() as tg:
        lines = LineListener(app, registry, tg, transport="unix", token=app.config.resolved_token)
        try:
            server = await loop.create_unix_server(lambda: _Accept(lines, app.config.max_connections), str(path))
        except OSError as exc:
            raise Unavailable(f"cannot serve the Unix socket {path}: {exc.strerror}; or start with --set unix_socket=false") from exc
        identity = path.stat().st_ino
        try:
            os.chmod(path, 0o600)
            app.transports.serving("unix", str(path))
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
