"""The worker's MCP session with a daemon: replies in either form, and a daemon that restarted."""

from __future__ import annotations

from pathlib import Path

import anyio
from support import config_for

from swarm_mcp.app import open_app
from swarm_mcp.remote import DaemonClient, ToolError
from swarm_mcp.remote._client import _messages, _Reply
from swarm_mcp.tools import build_registry
from swarm_mcp.transports.tcp import serve_tcp

TOKEN = "c" * 43


def test_a_reply_is_read_from_json_or_from_an_sse_stream() -> None:
    as_json = _Reply(200, "application/json", None, b'{"jsonrpc":"2.0","id":1,"result":{}}')
    as_sse = _Reply(200, "text/event-stream", "s", b'event: message\ndata: {"jsonrpc":"2.0","method":"n"}\n\n'
                                                  b'data: not json\n\ndata: {"jsonrpc":"2.0","id":2,"result":{}}\n\n')
    assert _messages(as_json) == [{"jsonrpc": "2.0", "id": 1, "result": {}}]
    assert _messages(as_sse) == [{"jsonrpc": "2.0", "method": "n"}, {"jsonrpc": "2.0", "id": 2, "result": {}}]
    assert _messages(_Reply(202, "", None, b"")) == []


async def test_after_the_daemon_restarts_the_session_is_opened_again_and_the_call_goes_through(tmp_path: Path) -> None:
    config = config_for(tmp_path, swarm_learning=False, token=TOKEN)
    async with open_app(config) as app, anyio.create_task_group() as tg:
        base = await tg.start(serve_tcp, app, build_registry(app), "127.0.0.1", 0)
        client = DaemonClient(f"{base}/mcp", TOKEN)
        await client.__aenter__()
        created = await client.call_tool("swarm_init", {"topology": "star"})
        first_session = client.session_id
        app.request_stop("restart")
    try:
        async with open_app(config) as app, anyio.create_task_group() as tg:
            port = int(base.rsplit(":", 1)[1])
            await tg.start(serve_tcp, app, build_registry(app), "127.0.0.1", port)
            status = await client.call_tool("swarm_status", {})
            try:
                await client.call_tool("task_claim", {"swarmId": "swarm-nope"})
            except ToolError as exc:
                refused = exc
            app.request_stop("done")
    finally:
        await client.__aexit__(None, None, None)
    assert [s["swarm_id"] for s in status["swarms"]] == [created["swarm"]["swarm_id"]]
    assert first_session is not None and client.session_id not in (None, first_session)
    assert refused.tool == "task_claim" and "No swarm with id 'swarm-nope'" in refused.text
