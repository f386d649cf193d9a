"""The control lines swarm-mcp processes send a data dir's owner on its Unix socket.

A connection's first line may be one of these requests instead of MCP (the token, when the owner
requires one, travels in `params.token`):

    swarm-mcp/hello   {"version", "pid", "tools", "token"}   an attached session introduces itself;
                       the reply says who the owner is and whether it now hands over to this newer
                       version; the connection then carries that session's MCP lines unchanged
    swarm-mcp/status  {"token"}                               the owner's status; then closed
    swarm-mcp/stop    {"token", "pid"}                        a graceful stop (as SIGTERM); then closed

An owner older than this protocol answers a hello with -32601, and the attached session goes on
without one. Standard library and orjson only: the attach path imports this.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

__all__ = (
    "CONTROL_METHODS",
    "HELLO",
    "HELLO_ID",
    "STATUS",
    "STOP",
    "control_request",
    "is_newer",
    "parse_control",
    "version_key",
)

HELLO = "swarm-mcp/hello"
STATUS = "swarm-mcp/status"
STOP = "swarm-mcp/stop"
CONTROL_METHODS = frozenset({HELLO, STATUS, STOP})
HELLO_ID = "swarm-mcp:hello"


def control_request(method: str, request_id: str, **params: Any) -> bytes:
    """One control request line (`params` with None values left out)."""
    body = {key: value for key, value in params.items() if value is not None}
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": body}) + b"\n"


def parse_control(line: bytes) -> tuple[str | int | None, str, dict[str, Any]] | None:
    """(id, method, params) when `line` is a control request, else None (an ordinary MCP line)."""
    if b"swarm-mcp/" not in line:
        return None
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict) or message.get("method") not in CONTROL_METHODS:
        return None
    params = message.get("params")
    request_id = message.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        request_id = None
    return request_id, str(message["method"]), params if isinstance(params, dict) else {}


def version_key(version: str) -> tuple[int, ...]:
    """Orders release versions: "0.10.0" > "0.9.2"; only the leading numbers count ("1.2.0rc1" is 1.2.0)."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def is_newer(candidate: str, than: str) -> bool:
    return version_key(candidate) > version_key(than)
