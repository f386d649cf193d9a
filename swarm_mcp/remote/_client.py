"""An MCP session with a remote swarm-mcp daemon over Streamable HTTP, for `swarm-mcp worker`.

Lean on purpose: `initialize`, then `tools/call`, over one pooled HTTP client (httpx2, which the
MCP SDK already brings) with the bearer token on every request. Replies may be JSON or an SSE
stream; only our request's reply is read. A call cancelled on our side (the worker stopping)
sends `notifications/cancelled`, so the daemon stops waiting on our behalf (a long-polling
`task_claim` claims nothing more). If the daemon restarted and forgot the session, the call
re-initializes once and is sent again (a forgotten session never ran it).

Errors say what to do next: a malformed URL, an unreachable daemon, a refused token (401), a
wrong path (404), a tool's own error (`ToolError`, with the tool's text).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import anyio
import httpx2
import orjson

from ..errors import InvalidArgument, SwarmError, Unavailable

__all__ = ("DaemonClient", "ToolError", "Unauthorized", "check_url")

PROTOCOL_VERSION = "2025-06-18"
MAX_REPLY_BYTES = 32 * 2**20


class ToolError(SwarmError):
    """A tool answered `isError: true`; the message is the tool's own text."""

    def __init__(self, tool: str, text: str) -> None:
        super().__init__(f"{tool}: {text}")
        self.tool, self.text = tool, text


class Unauthorized(Unavailable):
    """The daemon refused our bearer token (HTTP 401)."""


def check_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host.

    Raises:
        InvalidArgument: it is not; the message shows the expected shape.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"--attach {url!r} is not an http(s) URL; give the daemon's MCP endpoint, "
                              "e.g. http://HOST:8765/mcp (what `swarm-mcp serve --tcp HOST:8765` serves)")
    return url


class DaemonClient:
    """One MCP session with the daemon at `url` (use as `async with`)."""

    def __init__(self, url: str, token: str | None, *, request_timeout: float = 90.0) -> None:
        self.url = check_url(url)
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        self._has_token = token is not None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(request_timeout, connect=10.0))
        self._ids = itertools.count(1)
        self._session: str | None = None
        self._version: str | None = None
        self.server_info: dict[str, Any] = {}

    async def __aenter__(self) -> DaemonClient:
        try:
            await self.initialize()
        except BaseException:
            await self._http.aclose()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        with anyio.CancelScope(shield=True):  # end the session (its waiting calls end with it), then close
            with anyio.move_on_after(2):
                if self._session is not None:
                    try:
                        await self._http.delete(self.url, headers=self._headers())
                    except httpx2.HTTPError:
                        pass
            await self._http.aclose()

    @property
    def session_id(self) -> str | None:
        """The daemon's id for this session (a new one after the daemon restarted)."""
        return self._session

    async def initialize(self) -> None:
        """Open a session (again).

        Raises:
            Unavailable: the daemon cannot be reached, refuses the token, or is not MCP at this URL.
        """
        self._session = self._version = None
        params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                  "clientInfo": {"name": "swarm-mcp-worker", "version": "1"}}
        result = await self._request("initialize", params)
        self._version = str(result.get("protocolVersion") or PROTOCOL_VERSION)
        self.server_info = dict(result.get("serverInfo") or {})
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The tool's structured result.

        Raises:
            ToolError: the tool refused (its text says why).
            Unavailable: the daemon cannot be reached or answered with an HTTP error.
        """
        try:
            result = await self._request("tools/call", {"name": name, "arguments": dict(arguments)})
        except _SessionGone:
            await self.initialize()
            result = await self._request("tools/call", {"name": name, "arguments": dict(arguments)})
        text = "".join(part.get("text", "") for part in result.get("content") or () if isinstance(part, dict))
        if result.get("isError"):
            raise ToolError(name, text or "(no message)")
        structured = result.get("structuredContent")
        if isinstance(structured, dict):
            return structured
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return {"text": text}
        return value if isinstance(value, dict) else {"value": value}

    # -- the wire ----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self._session is not None:
            headers["Mcp-Session-Id"] = self._session
        if self._version is not None:
            headers["Mcp-Protocol-Version"] = self._version
        return headers

    async def _request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        request_id = next(self._ids)
        try:
            reply = await self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params)})
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                try:
                    await self._post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                      "params": {"requestId": request_id, "reason": "the worker is stopping"}})
                except Exception:  # noqa: BLE001 - best effort: the daemon may be gone already
                    pass
            raise
        if reply.session is not None:
            self._session = reply.session
        for message in _messages(reply):
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    error = message["error"]
                    raise Unavailable(f"{self.url} answered {method} with error {error.get('code')}: "
                                      f"{error.get('message')}")
                return dict(message.get("result") or {})
        raise Unavailable(f"{self.url} sent no reply to {method} (HTTP {reply.status}); is it a swarm-mcp daemon?")

    async def _post(self, message: Mapping[str, Any]) -> _Reply:
        try:
            request = self._http.stream("POST", self.url, content=orjson.dumps(message), headers=self._headers())
            async with request as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_REPLY_BYTES:
                        raise Unavailable(f"{self.url} sent a reply over {MAX_REPLY_BYTES:,} bytes; "
                                          "is it a swarm-mcp daemon?")
        except httpx2.TimeoutException as exc:
            raise Unavailable(f"{self.url} did not answer in time ({type(exc).__name__}); "
                              "is the daemon overloaded?") from exc
        except httpx2.HTTPError as exc:
            raise Unavailable(f"cannot reach {self.url}: {exc or type(exc).__name__}; is `swarm-mcp serve --tcp` "
                              "running there, and is the address right?") from exc
        reply = _Reply(response.status_code, response.headers.get("content-type", ""),
                       response.headers.get("mcp-session-id"), bytes(body))
        if reply.status == 401:
            what = "refused the token" if self._has_token else "requires a bearer token"
            raise Unauthorized(f"{self.url} {what} (HTTP 401): pass the daemon's token with --token-file FILE or "
                               "SWARM_MCP_TOKEN (the token the daemon was started with)")
        if reply.status == 404 and self._session is not None and message.get("method") != "initialize":
            raise _SessionGone()
        if reply.status == 404:
            raise Unavailable(f"{self.url} answered 404: no MCP endpoint at this path; swarm-mcp serves it at /mcp")
        if reply.status >= 400:
            detail = reply.body[:300].decode(errors="replace").strip()
            raise Unavailable(f"{self.url} answered HTTP {reply.status}" + (f": {detail}" if detail else ""))
        return reply


class _Reply(NamedTuple):
    status: int
    content_type: str
    session: str | None
    body: bytes


class _SessionGone(Exception):
    """The daemon no longer knows our session (it restarted)."""


def _messages(reply: _Reply) -> list[dict[str, Any]]:
    """The JSON-RPC messages in a reply: one JSON object, or the `data:` lines of an SSE stream."""
    body = reply.body
    if reply.content_type.startswith("text/event-stream"):
        found = []
        for line in body.splitlines():
            if line.startswith(b"data:") and line[5:].strip():
                try:
                    found.append(orjson.loads(line[5:]))
                except orjson.JSONDecodeError:
                    continue
        return [m for m in found if isinstance(m, dict)]
    if not body.strip():
        return []
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    return [value] if isinstance(value, dict) else [m for m in value if isinstance(m, dict)]
