"""A private Streamable HTTP listener on 127.0.0.1, for this daemon's own Claude Code workers.

Opened only when a worker needs it and the daemon serves no TCP port (stdio-only mode): an
ephemeral loopback port, HTTP only (the JSON-RPC line protocol has no authentication, so it is
not offered here), and every request must carry `Authorization: Bearer <token>` with the
daemon's random per-process token, or it gets 401 before any tool runs. Connections are sniffed,
capped and timed like the daemon's own TCP listener (`transports.tcp`: `max_connections`,
`header_timeout`); a line client gets an error saying lines are not offered.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import structlog

from .http import HttpFront
from .tcp import Listener, sniffing

if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("serve_loopback_http",)

log = structlog.get_logger("swarm_mcp.loopback")

HOST = "127.0.0.1"


async def serve_loopback_http(
    app: App, registry: ToolRegistry, token: str, *, task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Serve /mcp on 127.0.0.1 (a free port) until cancelled; `task_status.started` gets the URL."""
    loop = asyncio.get_running_loop()
    listener = Listener(app, None, app.config.max_connections)
    server = await loop.create_server(sniffing(listener), HOST, 0, start_serving=False)
    try:
        port = server.sockets[0].getsockname()[1]
        http = listener.http = HttpFront(app, registry, HOST, port, token)  # the bound port: Host headers are checked against it
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
