"""A private Streamable HTTP listener on 127.0.0.1, for this daemon's own Claude Code workers.

Opened only when a worker needs it and the daemon serves no TCP port (stdio-only mode): an
ephemeral loopback port, HTTP only (the JSON-RPC line protocol has no authentication, so it is
not offered here), and every request must carry `Authorization: Bearer <token>` with the
daemon's random per-process token, or it gets 401 before any tool runs.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import structlog

from .http import HttpFront

if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("serve_loopback_http",)

log = structlog.get_logger("swarm_mcp.loopback")

HOST = "127.0.0.1"


class _FirstBytes(asyncio.Protocol):
    """Hands a connection to the HTTP front once its first bytes arrive (h11 reads b"" as EOF)."""

    def __init__(self, front: list[HttpFront]) -> None:
        self._front = front  # set before the listener starts serving
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._front[0].take_over(self._transport, data)


async def serve_loopback_http(
    app: App, registry: ToolRegistry, token: str, *, task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Serve /mcp on 127.0.0.1 (a free port) until cancelled; `task_status.started` gets the URL."""
    loop = asyncio.get_running_loop()
    front: list[HttpFront] = []
    server = await loop.create_server(lambda: _FirstBytes(front), HOST, 0, start_serving=False)
    try:
        port = server.sockets[0].getsockname()[1]
        http = HttpFront(app, registry, HOST, port, token)  # the bound port: Host headers are checked against it
        front.append(http)
        async with http.running():
            await server.start_serving()
            url = f"http://{HOST}:{port}/mcp"
            app.transports.serving("http-workers", url)
            log.info("worker_http_listening", url=url, auth=True)
            try:
                task_status.started(url)
                await anyio.sleep_forever()
            finally:
                http.force_close()
    finally:
        server.close()
        app.transports.endpoints.pop("http-workers", None)
