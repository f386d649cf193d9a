"""MCP server semantics for one connection, both protocol eras, without I/O.

Mirrors what the SDK's `Server` serves (checked by differential tests against it): the client's
first request picks the era. `initialize` (or any request without the 2026-07-28 envelope) opens
the handshake era: versions are negotiated, requests other than `ping` wait for `initialize`,
and enveloped requests are refused. A request carrying `params._meta[protocolVersion]` opens
the 2026-07-28 era: every request carries its own envelope, `server/discover` replaces the
handshake, there is no `ping`, and every result carries `resultType` and the `serverInfo` stamp.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ._wire import (
    CLIENT_CAPABILITIES_KEY,
    HANDSHAKE_VERSIONS,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LATEST_HANDSHAKE,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    PROTOCOL_VERSION_KEY,
    SERVER_INFO_KEY,
    UNSUPPORTED_PROTOCOL_VERSION,
    LOG_LEVEL_KEY,
    RequestId,
    ResourceNotFound,
    RpcError,
)

__all__ = (
    "LOG_LEVELS",
    "CallInfo",
    "Notify",
    "ProgressFn",
    "ServerIdentity",
    "Session",
    "SessionChannel",
    "SurfaceHost",
    "ToolHost",
    "has_modern_envelope",
    "progress_token",
)

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
Notify = Callable[[str, Mapping[str, Any]], Awaitable[None]]  # send one notification (method, params)
Era = Literal["legacy", "modern"]
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")  # RFC 5424, ascending


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    name: str
    version: str
    instructions: str | None = None

    def info(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a tool call knows about its request: transport, id, and how to report progress."""

    transport: str
    request_id: RequestId | None = None
    progress: ProgressFn | None = None  # None when the client sent no progress token


class ToolHost(Protocol):
    """The tools a session serves (`swarm_mcp.tools.ToolRegistry` in the daemon)."""

    def list_tools(self) -> list[dict[str, Any]]: ...

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None, call: CallInfo) -> dict[str, Any]: ...


class SessionChannel(Protocol):
    """One handshake-era session's notifications: log messages at or above its level, updates of
    the resources it subscribed to, and changes of the resource list."""

    def set_level(self, level: str) -> None: ...

    def subscribe(self, uri: str) -> None:
        """Raises: RpcError: past the per-session bound on subscriptions."""

    def unsubscribe(self, uri: str) -> None: ...

    async def run(self, notify: Notify) -> None:
        """Send what happens through `notify` until `close` (or cancellation)."""

    def close(self) -> None: ...


class SurfaceHost(Protocol):
    """What a session serves besides tools (`swarm_mcp.surface.Surface` in the daemon). Methods
    return result dicts in their wire form, or raise `RpcError` (`ResourceNotFound` for a read of
    nothing)."""

    def capabilities(self) -> dict[str, Any]: ...

    async def list_resources(self, cursor: str | None) -> dict[str, Any]: ...

    async def list_resource_templates(self, cursor: str | None) -> dict[str, Any]: ...

    async def read_resource(self, uri: str) -> dict[str, Any]: ...

    async def list_prompts(self, cursor: str | None) -> dict[str, Any]: ...

    async def get_prompt(self, name: str, arguments: Mapping[str, str] | None) -> dict[str, Any]: ...

    async def complete(self, ref: Mapping[str, Any], argument: Mapping[str, Any],
                       context: Mapping[str, Any] | None) -> dict[str, Any]: ...

    def channel(self) -> SessionChannel: ...

    async def listen(self, request_id: RequestId, notifications: Mapping[str, Any], notify: Notify) -> dict[str, Any]:
        """Serve one `subscriptions/listen` stream: acknowledge, then send what it asked for until the daemon stops."""

    async def with_logs(self, level: str, work: Awaitable[dict[str, Any]], notify: Notify) -> dict[str, Any]:
        """Await `work`, sending log messages at or above `level` through `notify` meanwhile."""


_TOOLS_ONLY: dict[str, Any] = {"tools": {"listChanged": False}}
_INVALID_PARAMS = RpcError(INVALID_PARAMS, "Invalid request parameters", "")
_LEGACY_TOOL_METHODS = frozenset({"initialize", "ping", "tools/list", "tools/call"})
_MODERN_TOOL_METHODS = frozenset({"server/discover", "tools/list", "tools/call"})
_SURFACE_METHODS = frozenset({
    "resources/list", "resources/templates/list", "resources/read", "prompts/list", "prompts/get", "completion/complete",
})
_LEGACY_SURFACE = _SURFACE_METHODS | {"resources/subscribe", "resources/unsubscribe", "logging/setLevel"}
_MODERN_SURFACE = _SURFACE_METHODS | {"subscriptions/listen"}
_LISTEN_FILTER = {"toolsListChanged": bool, "promptsListChanged": bool, "resourcesListChanged": bool}


def has_modern_envelope(params: Mapping[str, Any] | None) -> bool:
    """Whether `params._meta` carries the 2026-07-28 protocol-version key (the era signal)."""
    if not params:
        return False
    meta = params.get("_meta")
    return isinstance(meta, Mapping) and PROTOCOL_VERSION_KEY in meta


def progress_token(params: Mapping[str, Any] | None) -> str | int | None:
    meta = params.get("_meta") if params else None
    if isinstance(meta, Mapping):
        token = meta.get("progressToken")
        if isinstance(token, str | int) and not isinstance(token, bool):
            return token
    return None


def _method_not_found(method: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, "Method not found", method)


def _check_meta(params: Mapping[str, Any] | None) -> None:
    if params is not None and "_meta" in params and not isinstance(params["_meta"], dict):
        raise _INVALID_PARAMS


def _check_initialize(params: Mapping[str, Any] | None) -> str:
    """Surface-validate `initialize` params; return the requested protocol version."""
    p = params or {}
    info = p.get("clientInfo")
    if (
        not isinstance(p.get("protocolVersion"), str)
        or not isinstance(p.get("capabilities"), dict)
        or not isinstance(info, dict)
        or not isinstance(info.get("name"), str)
        or not isinstance(info.get("version"), str)
    ):
        raise _INVALID_PARAMS
    return str(p["protocolVersion"])


def _check_tools_list(params: Mapping[str, Any] | None) -> None:
    if params is not None and "cursor" in params and not isinstance(params["cursor"], str | None):
        raise _INVALID_PARAMS


def _cursor(params: Mapping[str, Any] | None) -> str | None:
    _check_tools_list(params)
    return (params or {}).get("cursor")


def _string(params: Mapping[str, Any] | None, name: str) -> str:
    value = (params or {}).get(name)
    if not isinstance(value, str):
        raise _INVALID_PARAMS
    return value


def _strings(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _check_get_prompt(params: Mapping[str, Any] | None) -> tuple[str, Mapping[str, str] | None]:
    name = _string(params, "name")
    arguments = (params or {}).get("arguments")
    if arguments is not None and not _strings(arguments):
        raise _INVALID_PARAMS
    return name, arguments


def _check_complete(params: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any] | None]:
    p = params or {}
    ref, argument, context = p.get("ref"), p.get("argument"), p.get("context")
    if not isinstance(ref, dict) or not (
        (ref.get("type") == "ref/prompt" and isinstance(ref.get("name"), str) and isinstance(ref.get("title"), str | None))
        or (ref.get("type") == "ref/resource" and isinstance(ref.get("uri"), str))
    ):
        raise _INVALID_PARAMS
    if not isinstance(argument, dict) or not isinstance(argument.get("name"), str) or not isinstance(argument.get("value"), str):
        raise _INVALID_PARAMS
    if context is not None and (not isinstance(context, dict) or (context.get("arguments") is not None
                                                                   and not _strings(context["arguments"]))):
        raise _INVALID_PARAMS
    return ref, argument, context


def _check_level(params: Mapping[str, Any] | None) -> str:
    level = (params or {}).get("level")
    if level not in LOG_LEVELS:
        raise _INVALID_PARAMS
    return str(level)


def _check_listen(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
    wanted = (params or {}).get("notifications")
    if not isinstance(wanted, dict):
        raise _INVALID_PARAMS
    for key, kind in _LISTEN_FILTER.items():
        if wanted.get(key) is not None and not isinstance(wanted[key], kind):
            raise _INVALID_PARAMS
    uris = wanted.get("resourceSubscriptions")
    if uris is not None and (not isinstance(uris, list) or not all(isinstance(u, str) for u in uris)):
        raise _INVALID_PARAMS
    return wanted


def _check_tools_call(params: Mapping[str, Any] | None) -> tuple[str, Mapping[str, Any] | None]:
    p = params or {}
    name, arguments = p.get("name"), p.get("arguments")
    if not isinstance(name, str) or not isinstance(arguments, dict | None):
        raise _INVALID_PARAMS
    return name, arguments


class Session:
    """Protocol state of one connection. `handle` runs in message order, so it decides the era
    and the handshake synchronously; tool calls and reads return an awaitable to run concurrently."""

    def __init__(self, identity: ServerIdentity, tools: ToolHost, transport: str, surface: SurfaceHost | None = None) -> None:
        self.identity = identity
        self.tools = tools
        self.transport = transport
        self.surface = surface
        self.era: Era | None = None
        self.protocol_version = LATEST_HANDSHAKE
        self.client_info: Mapping[str, Any] | None = None
        self.initialized = False
        self._channel: SessionChannel | None = None

    @property
    def initialize_accepted(self) -> bool:
        return self.client_info is not None or self.initialized

    @property
    def channel(self) -> SessionChannel | None:
        """The handshake-era notification channel, once the session is initialized (None before,
        in the 2026-07-28 era, and without a surface). The connection runs it."""
        if self._channel is None and self.surface is not None and self.era == "legacy" and self.initialize_accepted:
            self._channel = self.surface.channel()
        return self._channel

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def capabilities(self) -> dict[str, Any]:
        if self.surface is None:
            return _TOOLS_ONLY
        # In the 2026-07-28 era list changes reach listen streams, so the SDK derives every
        # `listChanged` (and `subscribe`) from `subscriptions/listen` being served; so do we.
        modern = self.era == "modern"
        capabilities = {"tools": {"listChanged": modern}, **self.surface.capabilities()}
        if modern:
            capabilities["prompts"] = {"listChanged": True}
            capabilities["resources"] = {"subscribe": True, "listChanged": True}
        return capabilities

    def notification(self, method: str, params: Mapping[str, Any] | None) -> None:
        if method == "notifications/initialized" and self.era != "modern":
            self.initialized = True

    def handle(
        self, request_id: RequestId, method: str, params: Mapping[str, Any] | None, progress: ProgressFn | None,
        notify: Notify | None = None,
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Answer one request: a result dict now, or an awaitable for the result. `notify` sends
        notifications related to this request (listen streams, 2026-era log messages).

        Raises:
            RpcError: the request is refused (its JSON-RPC error reply).
        """
        if self.era is None:
            self.era = "modern" if method != "initialize" and has_modern_envelope(params) else "legacy"
        if self.era == "legacy":
            return self._legacy(request_id, method, params, progress)
        return self._modern(request_id, method, params, progress, notify)

    def _served(self, method: str, tool_methods: frozenset[str], surface_methods: frozenset[str]) -> bool:
        return method in tool_methods or (self.surface is not None and method in surface_methods)

    def _surface_call(self, method: str, params: Mapping[str, Any] | None) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """The methods both eras serve from the surface (validated here as the SDK validates them)."""
        surface = self.surface
        assert surface is not None
        if method == "resources/list":
            return surface.list_resources(_cursor(params))
        if method == "resources/templates/list":
            return surface.list_resource_templates(_cursor(params))
        if method == "resources/read":
            return self._read(_string(params, "uri"))
        if method == "prompts/list":
            return surface.list_prompts(_cursor(params))
        if method == "prompts/get":
            return surface.get_prompt(*_check_get_prompt(params))
        return surface.complete(*_check_complete(params))

    async def _read(self, uri: str) -> dict[str, Any]:
        assert self.surface is not None
        try:
            return await self.surface.read_resource(uri)
        except ResourceNotFound as missing:
            raise missing.for_era(self.era == "modern") from None

    # -- handshake era ---------------------------------------------------------------------

    def _legacy(
        self, request_id: RequestId, method: str, params: Mapping[str, Any] | None, progress: ProgressFn | None
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        if method != "initialize" and has_modern_envelope(params):
            raise RpcError(
                INVALID_REQUEST,
                "this connection serves the handshake protocol era; "
                "requests carrying the 2026-07-28 envelope are not accepted on it",
            )
        if not self._served(method, _LEGACY_TOOL_METHODS, _LEGACY_SURFACE):
            raise _method_not_found(method)
        _check_meta(params)
        if method == "initialize":
            requested = _check_initialize(params)
            self.protocol_version = requested if requested in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE
            self.client_info = dict((params or {})["clientInfo"])
            return self._initialize_result()
        if method == "ping":
            return {}
        if not self.initialize_accepted:
            raise _INVALID_PARAMS
        if method == "tools/list":
            _check_tools_list(params)
            return {"tools": self.tools.list_tools()}
        if method == "tools/call":
            name, arguments = _check_tools_call(params)
            return self.tools.call_tool(name, arguments, CallInfo(self.transport, request_id, progress))
        if method in ("resources/subscribe", "resources/unsubscribe", "logging/setLevel"):
            level = _check_level(params) if method == "logging/setLevel" else None
            uri = _string(params, "uri") if level is None else ""
            channel = self.channel
            assert channel is not None
            if level is not None:
                channel.set_level(level)
            elif method == "resources/subscribe":
                channel.subscribe(uri)
            else:
                channel.unsubscribe(uri)
            return {}
        return self._surface_call(method, params)

    def _initialize_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "protocolVersion": self.protocol_version,
            "capabilities": self.capabilities(),
            "serverInfo": self.identity.info(),
        }
        if self.identity.instructions is not None:
            result["instructions"] = self.identity.instructions
        return result

    # -- 2026-07-28 era --------------------------------------------------------------------

    def _modern(
        self, request_id: RequestId, method: str, params: Mapping[str, Any] | None, progress: ProgressFn | None,
        notify: Notify | None,
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        if method == "initialize":
            requested = (params or {}).get("protocolVersion")
            data: dict[str, Any] = {"supported": list(MODERN_VERSIONS)}
            if isinstance(requested, str):
                data["requested"] = requested
            raise RpcError(
                UNSUPPORTED_PROTOCOL_VERSION,
                "connection is serving the 2026-07-28 protocol; the initialize handshake is not accepted",
                data,
            )
        level = _check_envelope(params)
        if not self._served(method, _MODERN_TOOL_METHODS, _MODERN_SURFACE):
            raise _method_not_found(method)
        if method == "server/discover":
            return self.stamp(
                {
                    "supportedVersions": list(MODERN_VERSIONS),
                    "capabilities": self.capabilities(),
                    **({"instructions": self.identity.instructions} if self.identity.instructions else {}),
                    "ttlMs": 0,
                    "cacheScope": "private",
                }
            )
        if method == "tools/list":
            _check_tools_list(params)
            return self.stamp({"tools": self.tools.list_tools(), "ttlMs": 0, "cacheScope": "private"})
        if method == "tools/call":
            name, arguments = _check_tools_call(params)
            work: Awaitable[dict[str, Any]] = self.tools.call_tool(name, arguments, CallInfo(self.transport, request_id, progress))
        elif method == "subscriptions/listen":
            assert self.surface is not None
            wanted = _check_listen(params)
            if notify is None:
                raise RpcError(INVALID_REQUEST, "subscriptions/listen needs a connection that can stream notifications")
            work = self.surface.listen(request_id, wanted, notify)
        else:
            outcome = self._surface_call(method, params)
            if isinstance(outcome, dict):
                return self.stamp(outcome)
            work = outcome
        if level is not None and notify is not None and self.surface is not None:
            work = self.surface.with_logs(level, work, notify)
        return self._stamped(work, cacheable=method in _CACHEABLE)

    async def _stamped(self, result: Awaitable[dict[str, Any]], *, cacheable: bool = False) -> dict[str, Any]:
        out = await result
        if cacheable:
            out = {**out, "ttlMs": 0, "cacheScope": "private"}
        return self.stamp(out)

    def stamp(self, result: dict[str, Any]) -> dict[str, Any]:
        """Add `resultType` and the `serverInfo` `_meta` stamp that 2026-era results carry."""
        result.setdefault("resultType", "complete")
        meta = result.get("_meta")
        result["_meta"] = {**(meta if isinstance(meta, dict) else {}), SERVER_INFO_KEY: self.identity.info()}
        return result


_CACHEABLE = frozenset({"resources/list", "resources/templates/list", "resources/read", "prompts/list"})


def _check_envelope(params: Mapping[str, Any] | None) -> str | None:
    """The SDK's modern-request ladder: envelope present, version a string, version served.
    Returns the request's log level opt-in, if any."""
    meta = params.get("_meta") if params else None
    if not isinstance(meta, Mapping):
        raise RpcError(
            INVALID_PARAMS,
            "params._meta must be an object carrying the required "
            f"{PROTOCOL_VERSION_KEY!r} and {CLIENT_CAPABILITIES_KEY!r} envelope keys",
        )
    missing = [key for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if key not in meta]
    if missing:
        raise RpcError(INVALID_PARAMS, f"params._meta is missing the required envelope key(s): {', '.join(missing)}")
    version = meta[PROTOCOL_VERSION_KEY]
    if not isinstance(version, str):
        raise RpcError(INVALID_PARAMS, "the protocol-version envelope value must be a string")
    if version not in MODERN_VERSIONS:
        raise RpcError(
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": list(MODERN_VERSIONS), "requested": version},
        )
    level = meta.get(LOG_LEVEL_KEY)
    if level is not None and level not in LOG_LEVELS:
        raise _INVALID_PARAMS
    return level
