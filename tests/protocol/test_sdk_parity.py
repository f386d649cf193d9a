"""Our line engine answers exactly as the MCP SDK's own `Server` does, in both protocol eras.

Each scenario is played twice against the same tool registry: through `serve_line_connection`
(what stdio and TCP lines use) and through the SDK's `Server.run` (what Streamable HTTP uses).
Every reply must be equal, error codes, messages and `_meta` stamps included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
from mcp.shared.message import SessionMessage
from support import LineHarness, running_app
from typing_extensions import TypedDict

from swarm_mcp.client import initialize_params, modern_meta
from swarm_mcp.protocol import Session
from swarm_mcp.protocol import _wire as wire
from swarm_mcp.sdk_server import build_sdk_server
from swarm_mcp.tools import ToolContext, ToolRegistry

MOD = modern_meta()


class Echo(TypedDict):
    text: str


async def echo(ctx: ToolContext, text: str = "hi") -> Echo:
    """Echo the text, reporting progress halfway."""
    await ctx.report_progress(0.5, 1.0, "half")
    return {"text": text}


def req(request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def note(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def surface(meta: dict[str, Any] | None = None, first: int = 20) -> list[dict[str, Any]]:
    """The surface's methods, well-formed and not, with `_meta` (the 2026 envelope) when given."""
    m = {"_meta": meta} if meta is not None else {}
    calls: list[tuple[str, dict[str, Any] | None]] = [
        ("resources/list", {**m}),
        ("resources/list", {"cursor": "not-ours", **m}),
        ("resources/list", {"cursor": 3, **m}),
        ("resources/templates/list", {**m}),
        ("resources/read", {"uri": "memory://default/missing", **m}),
        ("resources/read", {"uri": "test://static-text", **m}),
        ("resources/read", {"uri": "swarm://swarms/swarm-none", **m}),
        ("resources/read", {"uri": "memory://default", **m}),
        ("resources/read", {**m}),
        ("resources/read", {"uri": 5, **m}),
        ("prompts/list", {**m}),
        ("prompts/get", {"name": "work", **m}),
        ("prompts/get", {"name": "orchestrate", "arguments": {"objective": "Ship it", "topology": "ring"}, **m}),
        ("prompts/get", {"name": "orchestrate", **m}),
        ("prompts/get", {"name": "review", "arguments": {"taskId": "task-none"}, **m}),
        ("prompts/get", {"name": "nope", **m}),
        ("prompts/get", {"name": "work", "arguments": {"swarmId": 3}, **m}),
        ("prompts/get", {**m}),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "orchestrate"},
                                 "argument": {"name": "topology", "value": "m"}, **m}),
        ("completion/complete", {"ref": {"type": "ref/resource", "uri": "memory://{namespace}/{key}"},
                                 "argument": {"name": "key", "value": ""}, "context": {"arguments": {"namespace": "x"}}, **m}),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                                 "argument": {"name": "arg1", "value": "test"}, **m}),
        ("completion/complete", {"ref": {"type": "ref/prompt"}, "argument": {"name": "a", "value": ""}, **m}),
        ("completion/complete", {"ref": {"name": "work"}, "argument": {"name": "a", "value": ""}, **m}),
        ("completion/complete", {"ref": {"type": "ref/resource", "uri": "x"}, "argument": {"name": "a"}, **m}),
        ("completion/complete", {"ref": {"type": "ref/resource", "uri": "x"}, "argument": {"name": "a", "value": ""},
                                 "context": {"arguments": {"a": 1}}, **m}),
    ]
    return [req(first + n, method, params) for n, (method, params) in enumerate(calls)]


SURFACE = surface()


def legacy(version: str) -> list[dict[str, Any]]:
    return [
        req(1, "initialize", initialize_params(version)),
        note("notifications/initialized"),
        req(2, "tools/list"),
        req(3, "tools/call", {"name": "echo", "arguments": {"text": "x"}, "_meta": {"progressToken": "t1"}}),
        req(4, "ping"),
        req(5, "nope"),
        req(6, "server/discover", {"_meta": MOD}),
        req(7, "tools/call", {"arguments": {}}),
        req(8, "resources/list"),
        req(9, "logging/setLevel", {"level": "info"}),
        req(10, "tools/call", {"name": "no_such_tool", "arguments": {}}),
        req(11, "tools/call", {"name": "echo", "arguments": {"text": 5}}),
        req(12, "initialize", initialize_params("2025-06-18")),
        req(13, "tools/list", {"cursor": 5}),
        *SURFACE,
        req(50, "resources/subscribe", {"uri": "swarm://swarms/none"}),
        req(51, "resources/subscribe", {}),
        req(52, "resources/unsubscribe", {"uri": "swarm://swarms/none"}),
        req(53, "resources/unsubscribe", {"uri": 7}),
        req(54, "logging/setLevel", {"level": "debug"}),
        req(55, "logging/setLevel", {"level": "loud"}),
        req(56, "logging/setLevel", {}),
        req(57, "subscriptions/listen", {"notifications": {"resourcesListChanged": True}}),
    ]


SCENARIOS: dict[str, list[dict[str, Any]]] = {
    **{f"handshake-{v}": legacy(v) for v in (*wire.HANDSHAKE_VERSIONS, "1999-01-01")},
    "requests-before-initialize": [
        req(1, "tools/list"),
        req(2, "ping"),
        req(3, "nope"),
        req(4, "initialize", {"protocolVersion": "2025-06-18"}),
        req(5, "initialize", initialize_params()),
        req(6, "tools/list"),
    ],
    "initialized-notification-alone-opens-the-gate": [
        note("notifications/initialized"),
        req(1, "tools/list"),
    ],
    "modern": [
        req(1, "server/discover", {"_meta": MOD}),
        req(2, "tools/list", {"_meta": MOD}),
        req(3, "tools/call", {"name": "echo", "arguments": {"text": "m"}, "_meta": {**MOD, "progressToken": "p"}}),
        req(4, "ping", {"_meta": MOD}),
        req(5, "tools/list"),
        req(6, "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
        req(7, "tools/list", {"_meta": {**MOD, "io.modelcontextprotocol/protocolVersion": "2030-01-01"}}),
        req(8, "tools/list", {"_meta": {**MOD, "io.modelcontextprotocol/protocolVersion": 5}}),
        req(9, "initialize", initialize_params()),
        req(10, "nope", {"_meta": MOD}),
        req(11, "logging/setLevel", {"level": "info", "_meta": MOD}),
        req(12, "tools/call", {"_meta": MOD}),
        req(13, "server/discover", {"_meta": {**MOD, "io.modelcontextprotocol/protocolVersion": "2025-06-18"}}),
        req(14, "tools/call", {"name": "nope", "arguments": {}, "_meta": MOD}),
        *surface(MOD),
        req(60, "resources/subscribe", {"uri": "swarm://swarms/none", "_meta": MOD}),
        req(61, "logging/setLevel", {"level": "debug", "_meta": MOD}),
        req(62, "resources/read", {"uri": "memory://default/missing",
                                   "_meta": {**MOD, "io.modelcontextprotocol/logLevel": "info"}}),
        req(63, "resources/list", {"_meta": {**MOD, "io.modelcontextprotocol/logLevel": "loud"}}),
        req(64, "subscriptions/listen", {"_meta": MOD}),
        req(65, "subscriptions/listen", {"notifications": {"resourceSubscriptions": "x"}, "_meta": MOD}),
    ],
    "modern-probe-with-unknown-version": [
        req(1, "server/discover", {"_meta": {**MOD, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}),
    ],
    "discover-without-envelope-is-handshake-era": [req(1, "server/discover")],
    "initialize-carrying-an-envelope-is-handshake-era": [req(1, "initialize", {**initialize_params(), "_meta": MOD})],
}


async def _replies_until(receive: Any, request_id: int | None) -> list[dict[str, Any]]:
    """Replies up to and including the one for `request_id` (progress notifications included)."""
    out = []
    if request_id is None:
        return out
    while True:
        reply = await receive()
        out.append(reply)
        if reply.get("id") == request_id and "method" not in reply:
            return out


async def play_ours(registry: ToolRegistry, app: Any, script: list[dict[str, Any]]) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = []
    async with LineHarness(Session(app.identity, registry, "test", app.surface)) as h:
        for message in script:
            h.send(message)
            replies += await _replies_until(h.receive, message.get("id"))
    return replies


async def play_sdk(registry: ToolRegistry, app: Any, script: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import orjson

    server = build_sdk_server(app, registry, transport="test")
    to_server_send, to_server_receive = anyio.create_memory_object_stream[Any](100)
    from_server_send, from_server_receive = anyio.create_memory_object_stream[Any](100)
    replies: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        with anyio.fail_after(5):
            message = await from_server_receive.receive()
        return orjson.loads(message.message.model_dump_json(by_alias=True, exclude_unset=True))

    async with from_server_receive, to_server_send, anyio.create_task_group() as tg:
        tg.start_soon(server.run, to_server_receive, from_server_send, server.create_initialization_options())
        for message in script:
            await to_server_send.send(SessionMessage(mcp_types.jsonrpc_message_adapter.validate_python(message)))
            replies += await _replies_until(receive, message.get("id"))
        tg.cancel_scope.cancel()
    return replies


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_line_engine_replies_equal_the_sdk_server_replies(tmp_path: Path, scenario: str) -> None:
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        registry.add(echo)
        ours = await play_ours(registry, app, SCENARIOS[scenario])
        theirs = await play_sdk(registry, app, SCENARIOS[scenario])
    assert ours == theirs
    assert len(ours) >= sum(1 for m in SCENARIOS[scenario] if "id" in m)


def test_protocol_version_constants_match_the_pinned_sdk() -> None:
    from mcp_types import version

    assert wire.HANDSHAKE_VERSIONS == version.HANDSHAKE_PROTOCOL_VERSIONS
    assert wire.MODERN_VERSIONS == version.MODERN_PROTOCOL_VERSIONS
    assert wire.LATEST_HANDSHAKE == version.LATEST_HANDSHAKE_VERSION
    assert wire.PROTOCOL_VERSION_KEY == mcp_types.PROTOCOL_VERSION_META_KEY
    assert wire.CLIENT_CAPABILITIES_KEY == mcp_types.CLIENT_CAPABILITIES_META_KEY
    assert wire.SERVER_INFO_KEY == mcp_types.SERVER_INFO_META_KEY
