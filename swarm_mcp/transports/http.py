"""Streamable HTTP at `/mcp`: the SDK's transport behind a bearer-token check, driven by uvicorn's
HTTP protocol on connections the TCP listener hands over. Every other path is the dashboard
(`swarm_mcp.dashboard`, imported on its first request), behind the same token and the same
Host/Origin lists.

DNS-rebinding protection is always on, with explicit lists: the Host header must name this
listener (the bind address, the loopback names, and for a wildcard bind this host's names and
addresses) with the port actually bound, and an Origin header, when sent, must be `http://` one of
those. (The SDK turns its own check on only for binds to 127.0.0.1, localhost and ::1, so a bind
to 127.0.0.2 or a LAN address would otherwise serve a page on any web site that rebinds a name.)
"""

from __future__ import annotations

import asyncio
import hmac
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
import structlog


if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("HttpFront", "allowed_hosts")

log = structlog.get_logger("swarm_mcp.http")

Scope = dict[str, Any]


class _BearerAuth:
    """Reject HTTP requests without `Authorization: Bearer <token>` (401) before the MCP app runs."""

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, presented = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(presented.strip(), self._token):
                log.warning("http_unauthorized", client=scope.get("client"), path=scope.get("path"), had_header=bool(header))
                body = orjson.dumps(
                    {
                        "error": "unauthorized",
                        "message": "This swarm-mcp endpoint requires `Authorization: Bearer <token>` "
                        "(the token in SWARM_MCP_TOKEN or --token-file on the server).",
                    }
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="swarm-mcp"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self._app(scope, receive, send)


def allowed_hosts(host: str, port: int) -> tuple[list[str], list[str]]:
    """(Host header values, Origin values) this listener accepts, each with the bound port."""
    names = {"127.0.0.1", "localhost", "[::1]", host if ":" not in host else f"[{host}]"}
    if host in ("0.0.0.0", "::", ""):
        names -= {"0.0.0.0", "[::]", ""}
        hostname = socket.gethostname()
        names |= {hostname, socket.getfqdn()}
        try:
            for info in socket.getaddrinfo(hostname, None):
                address = str(info[4][0])
                names.add(f"[{address}]" if ":" in address else address)
        except OSError:
            pass
    hosts = sorted(f"{name}:{port}" for name in names)
    origins = sorted(f"http://{name}:{port}" for name in names)
    if port == 80:  # the default port is left out of both headers
        hosts += sorted(names)
        origins += sorted(f"http://{name}" for name in names)
    return hosts, origins


class _Paths:
    """`/mcp` to the MCP app; every other path to the dashboard, built on its first request."""

    def __init__(self, mcp: Any, make_dashboard: Any) -> None:
        self._mcp = mcp
        self._make_dashboard = make_dashboard
        self._dashboard: Any = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path != "/mcp" and not path.startswith("/mcp/"):
            if self._dashboard is None:
                self._dashboard = self._make_dashboard()
            await self._dashboard(scope, receive, send)
            return
        await self._mcp(scope, receive, send)


class HttpFront:
    """Builds the ASGI app once and serves HTTP connections handed over by the TCP listener."""

    def __init__(self, app: App, registry: ToolRegistry, host: str, port: int, token: str | None) -> None:
        from mcp.server.transport_security import TransportSecuritySettings
        from uvicorn.config import Config as UvicornConfig
        from uvicorn.server import ServerState

        from ..sdk_server import build_sdk_server

        self._server = build_sdk_server(app, registry, transport="http")
        hosts, origins = allowed_hosts(host, port)
        security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)
        asgi: Any = self._server.streamable_http_app(
            streamable_http_path="/mcp",
            transport_security=security,
            host=host,
            max_request_body_size=app.config.max_http_body_bytes,
        )
        if token is not None:
            asgi = _BearerAuth(asgi, token)

        def dashboard() -> Any:
            from ..dashboard import DashboardApp

            return DashboardApp(app, hosts=hosts, origins=origins, token=token, max_streams=app.config.dashboard_max_streams)

        asgi = _Paths(asgi, dashboard)
        self._uvicorn = UvicornConfig(
            app=asgi,
            lifespan="off",
            http="h11",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=5,  # an idle keep-alive connection gives its slot back
        )
        self._uvicorn.load()
        self._state = ServerState()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the SDK's session manager (what the ASGI lifespan would do) around serving."""
        async with self._server.session_manager.run():
            yield

    def take_over(self, transport: asyncio.Transport, first_bytes: bytes) -> None:
        """Serve an HTTP connection whose first bytes were already read by the sniffer."""
        from uvicorn.protocols.http.h11_impl import H11Protocol

        protocol = H11Protocol(config=self._uvicorn, server_state=self._state, app_state={})
        transport.set_protocol(protocol)
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(first_bytes)

    @property
    def open_connections(self) -> int:
        return len(self._state.connections)

    def begin_shutdown(self) -> None:
        """Close idle keep-alive connections; busy ones close after their current response."""
        for connection in list(self._state.connections):
            connection.shutdown()

    def force_close(self) -> None:
        for connection in list(self._state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()
