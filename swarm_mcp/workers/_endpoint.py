"""Where this daemon's own Claude Code workers reach it over Streamable HTTP.

When the daemon serves a TCP port, that port's `/mcp` (a wildcard bind is reached on loopback),
with the configured bearer token if there is one. Otherwise (stdio only) a private loopback
listener is opened the first time a worker needs one, protected by a random per-daemon token
(`secrets.token_urlsafe(32)`) that only the workers' MCP config files carry. The listener is a
child of the daemon's supervision tree (`serve`), started before the swarm engine, so it stops
after every worker has been stopped.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import anyio

from ..errors import Unavailable
from ._launch import Endpoint

if TYPE_CHECKING:
    from ..app import App

__all__ = ("DaemonEndpoint", "loopback_url")

OPEN_TIMEOUT = 30.0
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def loopback_url(url: str) -> str:
    """`url` with a wildcard host (0.0.0.0, ::) replaced by the matching loopback address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in _WILDCARDS:
        return url
    target = _WILDCARDS[host]
    shown = f"[{target}]" if ":" in target else target
    return urlunsplit(parts._replace(netloc=f"{shown}:{parts.port}" if parts.port else shown))


class DaemonEndpoint:
    """This daemon's HTTP endpoint for its workers; see the module docstring."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(32)
        self._app: App | None = None
        self._wanted = anyio.Event()
        self._ready = anyio.Event()
        self._url: str | None = None

    def bind(self, app: App) -> None:
        """Attach the daemon whose transports and tools the endpoint serves (once it exists)."""
        self._app = app

    @property
    def loopback(self) -> str | None:
        """The private loopback listener's URL, once it is open."""
        return self._url

    async def get(self) -> Endpoint:
        """The endpoint a worker starting now should use, opening the loopback listener if needed.

        Raises:
            Unavailable: the loopback listener did not open in time.
        """
        app = self._app
        if app is None:
            raise Unavailable("the daemon is still starting; retry the task in a moment")
        served = app.transports.endpoints.get("http")
        if served is not None:
            return Endpoint(loopback_url(served), app.config.resolved_token)
        self._wanted.set()
        with anyio.move_on_after(OPEN_TIMEOUT):
            await self._ready.wait()
        if self._url is None:
            raise Unavailable(f"the loopback HTTP listener for Claude workers did not open within {OPEN_TIMEOUT:g} s; "
                              "see the daemon log, or serve TCP (serve --tcp) so workers use that port")
        return Endpoint(self._url, self.token)

    async def serve(self) -> None:
        """Run until cancelled (a daemon child); open the loopback listener when a worker first asks."""
        await self._wanted.wait()
        app = self._app
        assert app is not None
        from ..tools import build_registry
        from ..transports.loopback import serve_loopback_http

        try:
            async with anyio.create_task_group() as tg:
                self._url = await tg.start(serve_loopback_http, app, build_registry(app, app.config.tools), self.token)
                self._ready.set()
        finally:
            self._url, self._ready = None, anyio.Event()  # a restarted child opens a new one
