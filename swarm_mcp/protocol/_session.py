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
    RequestId,
    RpcError,
)

__all__ = ("CallInfo", "ProgressFn", "ServerIdentity", "Session", "ToolHost", "has_modern_envelope", "progress_token")

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
Era = Literal["legacy", "modern"]


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


_CAPABILITIES: dict[str, Any] = {"tools": {"listChanged": False}}
_INVALID_PARAMS = RpcError(INVALID_PARAMS, "Invalid request parameters", "")
_LEGACY_METHODS = frozenset({"initialize", "ping", "tools/list", "tools/call"})
_MODERN_METHODS = frozenset({"server/discover", "tools/list", "tools/call"})


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


def _check_tools_call(params: Mapping[str, Any] | None) -> tuple[str, Mapping[str, Any] | None]:
    p = params or {}
    name, arguments = p.get("name"), p.get("arguments")
    if not isinstance(name, str) or not isinstance(arguments, dict | None):
        raise _INVALID_PARAMS
    return name, arguments


class Session:
    """Protocol state of one connection. `handle` runs in message order, so it decides the era
    and the handshake synchronously; only tool calls return an awaitable to run concurrently."""

    def __init__(self, identity: ServerIdentity, tools: ToolHost, transport: str) -> None:
        self.identity = identity
        self.tools = tools
        self.transport = transport
        self.era: Era | None = None
        self.protocol_version = LATEST_HANDSHAKE
        self.client_info: Mapping[str, Any] | None = None
        self.initialized = False

    @property
    def initialize_accepted(self) -> bool:
        return self.client_info is not None or self.initialized

    def notification(self, method: str, params: Mapping[str, Any] | None) -> None:
        if method == "notifications/initialized" and self.era != "modern":
            self.initialized = True

    def handle(
        self, request_id: RequestId, method: str, params: Mapping[str, Any] | None, progress: ProgressFn | None
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Answer one request: a result dict now, or an awaitable for the result.

        Raises:
            RpcError: the request is refused (its JSON-RPC error reply).
        """
        if self.era is None:
            self.era = "modern" if method != "initialize" and has_modern_envelope(params) else "legacy"
        if self.era == "legacy":
            return self._legacy(request_id, method, params, progress)
        return self._modern(request_id, method, params, progress)

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
        if method not in _LEGACY_METHODS:
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
        name, arguments = _check_tools_call(params)
        return self.tools.call_tool(name, arguments, CallInfo(self.transport, request_id, progress))

    def _initialize_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "protocolVersion": self.protocol_version,
            "capabilities": _CAPABILITIES,
            "serverInfo": self.identity.info(),
        }
        if self.identity.instructions is not None:
            result["instructions"] = self.identity.instructions
        return result

    # -- 2026-07-28 era --------------------------------------------------------------------

    def _modern(
        self, request_id: RequestId, method: str, params: Mapping[str, Any] | None, progress: ProgressFn | None
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
        _check_envelope(params)
        if method not in _MODERN_METHODS:
            raise _method_not_found(method)
        if method == "server/discover":
            return self.stamp(
                {
                    "supportedVersions": list(MODERN_VERSIONS),
                    "capabilities": _CAPABILITIES,
                    **({"instructions": self.identity.instructions} if self.identity.instructions else {}),
                    "ttlMs": 0,
                    "cacheScope": "private",
                }
            )
        if method == "tools/list":
            _check_tools_list(params)
            return self.stamp({"tools": self.tools.list_tools(), "ttlMs": 0, "cacheScope": "private"})
        name, arguments = _check_tools_call(params)
        return self._stamped(self.tools.call_tool(name, arguments, CallInfo(self.transport, request_id, progress)))

    async def _stamped(self, result: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        return self.stamp(await result)

    def stamp(self, result: dict[str, Any]) -> dict[str, Any]:
        """Add `resultType` and the `serverInfo` `_meta` stamp that 2026-era results carry."""
        result.setdefault("resultType", "complete")
        meta = result.get("_meta")
        result["_meta"] = {**(meta if isinstance(meta, dict) else {}), SERVER_INFO_KEY: self.identity.info()}
        return result


def _check_envelope(params: Mapping[str, Any] | None) -> None:
    """The SDK's modern-request ladder: envelope present, version a string, version served."""
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
