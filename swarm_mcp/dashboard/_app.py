"""The dashboard's HTTP side: a read-only page, its static files, a JSON snapshot and one
server-sent event stream per page, behind the same token and DNS-rebinding checks as `/mcp`.

    GET /                           the page (GET /?token=<token> signs a browser in: see below)
    GET /dashboard/static/<file>    its script, styles and the vendored chart library
    GET /dashboard/api/state        everything the page draws, as JSON
    GET /dashboard/api/events       text/event-stream: `snapshot`, then `update`s and `figures`

Authentication, when the daemon has a token: `Authorization: Bearer <token>` (as for `/mcp`), or
the dashboard cookie. A browser cannot send the header, so `GET /?token=<token>` answers with a
redirect to `/` that sets the cookie (HttpOnly, SameSite=Strict) and drops the token from the
address bar. The cookie holds an HMAC of the token, not the token: it opens the dashboard, which
only reads, and never `/mcp`. Without a token the dashboard is as open as `/mcp` on loopback.

Bounds: at most `max_streams` event streams at once (more get 503); each stream's backlog is a
bounded feed subscription, and a page that falls behind gets a fresh snapshot, never a replay;
updates are coalesced to at most one per `UPDATE_EVERY` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.resources
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio
import orjson
import structlog

from ._state import Dirty, figures, snapshot, update

if TYPE_CHECKING:
    from ..app import App

__all__ = ("COOKIE", "DashboardApp", "cookie_value")

log = structlog.get_logger("swarm_mcp.dashboard")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

COOKIE = "swarm_mcp_dashboard"
UPDATE_EVERY = 0.25
FIGURES_EVERY = 5.0
KEEPALIVE = 15.0
QUEUE = 1024
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
          ".LICENSE": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8"}
_PATHS = frozenset({"/", "/dashboard/api/state", "/dashboard/api/events"})
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)?$")
_PAGE_SECURITY = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def cookie_value(token: str) -> str:
    """What the dashboard cookie holds for `token`: an HMAC, so the cookie is not the token."""
    return hmac.new(token.encode(), b"swarm-mcp dashboard", hashlib.sha256).hexdigest()


def _load_static() -> dict[str, tuple[bytes, str]]:
    """Every file the page may fetch, read once (a fixed set: no path reaches the file system)."""
    root = importlib.resources.files(__package__) / "static"
    files: dict[str, tuple[bytes, str]] = {}
    for entry in root.iterdir():
        items = list(entry.iterdir()) if entry.is_dir() else [entry]
        for item in items:
            if item.is_file():
                name = item.name if item is entry else f"{entry.name}/{item.name}"
                suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
                files[name] = (item.read_bytes(), _TYPES.get(suffix, "application/octet-stream"))
    return files


_UNAUTHORIZED_PAGE = b"""<!doctype html><meta charset="utf-8"><title>swarm-mcp dashboard: sign in</title>
<body style="font:15px system-ui;margin:3em;max-width:40em"><h1>swarm-mcp dashboard</h1>
<p>This daemon requires its bearer token. Run <code>swarm-mcp dashboard</code> on this machine: it opens the
page signed in (or prints how to). Or open <code>/?token=&lt;token&gt;</code> once, with the token from
<code>SWARM_MCP_TOKEN</code> or the daemon's <code>--token-file</code>; the page then keeps a cookie.</p></body>"""


class DashboardApp:
    """An ASGI app for every path but `/mcp` on the daemon's HTTP listener."""

    def __init__(self, app: App, *, hosts: list[str], origins: list[str], token: str | None, max_streams: int) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}
        self.origins = {o.lower() for o in origins}
        self.token = token
        self.cookie = cookie_value(token) if token is not None else None
        self.max_streams = max_streams
        self.streams = 0
        self.static = _load_static()

    # -- checks -------------------------------------------------------------------------------

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        if self.token is None:
            return True
        scheme, _, presented = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(presented.strip(), self.token.encode()):
            return True
        assert self.cookie is not None
        for part in headers.get(b"cookie", b"").split(b";"):
            name, _, value = part.strip().partition(b"=")
            if name == COOKIE.encode() and hmac.compare_digest(value, self.cookie.encode()):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        host = headers.get(b"host", b"").decode("latin-1").lower()
        origin = headers.get(b"origin", b"").decode("latin-1").lower()
        if host not in self.hosts:
            log.warning("dashboard_refused", reason="host", host=host[:200])
            return await _plain(send, 421, b"Invalid Host header: this listener answers only to its own names")
        if origin and origin not in self.origins:
            log.warning("dashboard_refused", reason="origin", origin=origin[:200])
            return await _plain(send, 403, b"Invalid Origin header")
        method, path = scope["method"], scope["path"]
        reading = method in ("GET", "HEAD")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if reading and path == "/" and "token" in query and self.token is not None:
            return await self._sign_in(query["token"][0], send)
        if not self._authorized(headers):
            log.warning("dashboard_unauthorized", path=path[:200], client=scope.get("client"))
            if path == "/" and reading:
                return await _send(send, 401, _UNAUTHORIZED_PAGE, "text/html; charset=utf-8", _PAGE_SECURITY)
            return await _plain(send, 401, b"Unauthorized: send Authorization: Bearer <token>, or sign in at /?token=")
        if path not in _PATHS and not path.startswith("/dashboard/static/"):
            # any method: an MCP client sent to a wrong path learns where /mcp is
            return await _plain(send, 404, b"Not found: the dashboard is at /, MCP at /mcp")
        if not reading:
            return await _plain(send, 405, b"The dashboard only reads: GET", [(b"allow", b"GET, HEAD")])
        head = method == "HEAD"
        if path == "/":
            body, kind = self.static["index.html"]
            return await _send(send, 200, body, kind, [*_PAGE_SECURITY, (b"cache-control", b"no-store")], head=head)
        if path.startswith("/dashboard/static/"):
            name = path.removeprefix("/dashboard/static/")
            found = self.static.get(name) if _STATIC_NAME.match(name) and name != "index.html" else None
            if found is None:
                return await _plain(send, 404, b"Not found")
            return await _send(send, 200, found[0], found[1], [(b"cache-control", b"no-cache"),
                                                                (b"x-content-type-options", b"nosniff")], head=head)
        if path == "/dashboard/api/state":
            body = orjson.dumps(await snapshot(self.app))
            return await _send(send, 200, body, "application/json", [(b"cache-control", b"no-store")], head=head)
        if head:  # the event stream's headers only
            return await _send(send, 200, b"", "text/event-stream", [(b"cache-control", b"no-store")], head=True)
        return await self._events(receive, send)

    async def _sign_in(self, presented: str, send: Send) -> None:
        assert self.token is not None and self.cookie is not None
        if not hmac.compare_digest(presented.encode(), self.token.encode()):
            log.warning("dashboard_unauthorized", path="/", reason="wrong token")
            return await _send(send, 401, _UNAUTHORIZED_PAGE, "text/html; charset=utf-8", _PAGE_SECURITY)
        cookie = f"{COOKIE}={self.cookie}; Path=/; HttpOnly; SameSite=Strict".encode()
        await _send(send, 303, b"", "text/plain", [(b"location", b"/"), (b"set-cookie", cookie),
                                                   (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer")])

    # -- the event stream -----------------------------------------------------------------------

    async def _events(self, receive: Receive, send: Send) -> None:
        if self.streams >= self.max_streams:
            log.warning("dashboard_streams_full", streams=self.streams)
            return await _plain(send, 503, f"{self.streams} dashboard pages are open, the most this daemon serves "
                                           "(setting dashboard_max_streams); close one".encode(), [(b"retry-after", b"5")])
        self.streams += 1
        try:
            await self._stream(receive, send)
        finally:
            self.streams -= 1

    async def _stream(self, receive: Receive, send: Send) -> None:
        app = self.app
        with app.feed.subscribe(limit=QUEUE) as feed:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream"), (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no")]})
            async with anyio.create_task_group() as tg:

                async def until_gone() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                async def until_stopping() -> None:
                    await app.stopping.wait()
                    tg.cancel_scope.cancel()

                tg.start_soon(until_gone)
                tg.start_soon(until_stopping)
                await self._pump(feed, send)
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, feed: Any, send: Send) -> None:
        app = self.app
        await _event(send, "snapshot", await snapshot(app))
        next_figures = anyio.current_time() + FIGURES_EVERY
        while True:
            wait = max(0.0, min(KEEPALIVE, next_figures - anyio.current_time()))
            batch = None
            with anyio.move_on_after(wait):
                batch = await feed.receive()
            if batch is not None:
                await anyio.sleep(UPDATE_EVERY)  # coalesce a burst into one update
                more = feed.receive_nowait()
                if batch.lagged or (more is not None and more.lagged):
                    await _event(send, "snapshot", await snapshot(app))  # fell behind: start over, no replay
                    continue
                dirty = Dirty()
                dirty.add(batch.events + (more.events if more is not None else []))
                await _event(send, "update", update(app, dirty))
            if anyio.current_time() >= next_figures:
                await _event(send, "figures", await figures(app))
                next_figures = anyio.current_time() + FIGURES_EVERY
            elif batch is None:
                await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})


async def _event(send: Send, name: str, data: Any) -> None:
    await send({"type": "http.response.body", "body": b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n",
                "more_body": True})


async def _send(send: Send, status: int, body: bytes, content_type: str, extra: list[tuple[bytes, bytes]] | None = None,
                *, head: bool = False) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _plain(send: Send, status: int, message: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send(send, status, message + b"\n", "text/plain; charset=utf-8", extra)
