"""JSON-RPC 2.0 framing for line transports: classify one decoded line, build replies.

Pure functions; no I/O. The protocol-version constants mirror `mcp_types.version` of the SDK
we pin (a test checks they agree) so the stdio path never has to import the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = (
    "HANDSHAKE_VERSIONS",
    "MODERN_VERSIONS",
    "LATEST_HANDSHAKE",
    "LATEST_MODERN",
    "PROTOCOL_VERSION_KEY",
    "CLIENT_INFO_KEY",
    "CLIENT_CAPABILITIES_KEY",
    "SERVER_INFO_KEY",
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "SERVER_SHUTTING_DOWN",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "RESOURCE_NOT_FOUND",
    "LOG_LEVEL_KEY",
    "SUBSCRIPTION_ID_KEY",
    "RpcError",
    "ResourceNotFound",
    "Request",
    "Notification",
    "Response",
    "Invalid",
    "classify",
    "encode_result",
    "encode_error",
    "encode_notification",
    "coerce_id",
)

HANDSHAKE_VERSIONS: tuple[str, ...] = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS: tuple[str, ...] = ("2026-07-28",)
LATEST_HANDSHAKE = HANDSHAKE_VERSIONS[-1]
LATEST_MODERN = MODERN_VERSIONS[-1]

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_SHUTTING_DOWN = -32000
UNSUPPORTED_PROTOCOL_VERSION = -32022
RESOURCE_NOT_FOUND = -32002  # the handshake era's code; 2026-07-28 uses INVALID_PARAMS (SEP-2164)

RequestId = str | int
_UNSET: Any = object()


class RpcError(Exception):
    """A JSON-RPC error reply: raise it from a method handler."""

    def __init__(self, code: int, message: str, data: Any = _UNSET) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_wire(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not _UNSET:
            error["data"] = self.data
        return error


class ResourceNotFound(RpcError):
    """No resource at `uri`: -32002 in the handshake era, -32602 from 2026-07-28 (`for_era`), data `{uri}`."""

    def __init__(self, uri: str, detail: str) -> None:
        super().__init__(RESOURCE_NOT_FOUND, f"Resource not found: {detail}", {"uri": uri})
        self.uri = uri

    def for_era(self, modern: bool) -> RpcError:
        return RpcError(INVALID_PARAMS if modern else RESOURCE_NOT_FOUND, self.message, self.data)


@dataclass(frozen=True, slots=True)
class Request:
    id: RequestId
    method: str
    params: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Response:
    """A reply from the peer to a request we sent (we send none today; logged and dropped)."""

    id: RequestId | None


@dataclass(frozen=True, slots=True)
class Invalid:
    """A line we must answer with an error: `id` is echoed when it could be read."""

    id: RequestId | None
    error: RpcError


Message = Request | Notification | Response | Invalid


def _valid_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def classify(line: bytes) -> Message:
    """Decode one line into a message, or an `Invalid` carrying the error to send back."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Invalid(None, RpcError(PARSE_ERROR, f"Parse error: the line is not valid JSON ({exc})"))
    if not isinstance(obj, dict):
        what = "a batch (JSON array)" if isinstance(obj, list) else f"a JSON {type(obj).__name__}"
        return Invalid(None, RpcError(INVALID_REQUEST, f"Invalid Request: expected one JSON-RPC object per line, got {what}"))
    raw_id = obj.get("id", _UNSET)
    echo_id = raw_id if _valid_id(raw_id) else None
    if obj.get("jsonrpc") != "2.0":
        return Invalid(echo_id, RpcError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"'))
    method = obj.get("method", _UNSET)
    if method is _UNSET:
        if "result" in obj or "error" in obj:
            return Response(echo_id)
        return Invalid(echo_id, RpcError(INVALID_REQUEST, 'Invalid Request: no "method" (and not a response)'))
    if not isinstance(method, str):
        return Invalid(echo_id, RpcError(INVALID_REQUEST, 'Invalid Request: "method" must be a string'))
    params = obj.get("params")
    if params is not None and not isinstance(params, dict):
        return Invalid(echo_id, RpcError(INVALID_REQUEST, 'Invalid Request: "params" must be an object'))
    if raw_id is _UNSET:
        return Notification(method, params)
    if not _valid_id(raw_id):
        return Invalid(None, RpcError(INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer'))
    return Request(raw_id, method, params)


def coerce_id(request_id: RequestId) -> RequestId:
    """"7" and 7 name the same request for cancellation (as the SDK and the TS SDK correlate them)."""
    if isinstance(request_id, str):
        try:
            return int(request_id)
        except ValueError:
            return request_id
    return request_id


def encode_result(request_id: RequestId, result: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}) + b"\n"


def encode_error(request_id: RequestId | None, error: RpcError) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error.to_wire()}) + b"\n"


def encode_notification(method: str, params: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params}) + b"\n"
