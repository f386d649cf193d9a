"""The line driver: one reply per request, errors that keep the connection open, cancellation,
progress, and settling in-flight work at EOF and on stop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from support import LineHarness, running_app
from typing_extensions import TypedDict

from swarm_mcp.client import initialize_params
from swarm_mcp.errors import InvalidArgument
from swarm_mcp.protocol import LineLimits, Session
from swarm_mcp.tools import ToolContext, ToolRegistry


class Echo(TypedDict):
    text: str


class Gate:
    """Lets a test hold a tool call open and release it."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.release = anyio.Event()
        self.cancelled = anyio.Event()


def _test_tools(registry: ToolRegistry, gate: Gate) -> None:
    async def echo(text: str) -> Echo:
        """Echo the text."""
        return {"text": text}

    async def slow(ctx: ToolContext) -> Echo:
        """Wait for the test to release it, reporting progress on the way."""
        await ctx.report_progress(1, 2, "waiting")
        gate.entered.set()
        try:
            await gate.release.wait()
        except anyio.get_cancelled_exc_class():
            gate.cancelled.set()
            raise
        return {"text": "released"}

    async def refuse() -> Echo:
        """Always fails with an error the model can act on."""
        raise InvalidArgument("refused on purpose; call echo instead")

    for tool in (echo, slow, refuse):
        registry.add(tool)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[tuple[LineHarness, Gate]]:
    gate = Gate()
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        _test_tools(registry, gate)
        async with LineHarness(Session(app.identity, registry, "test"), max_line_bytes=1024, shutdown_grace=0.2) as h:
            h.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize_params()})
            assert (await h.receive())["id"] == 0
            h.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            yield h, gate
            gate.release.set()


def call(request_id: int | str, tool: str, arguments: dict[str, object] | None = None, **meta: object) -> dict[str, object]:
    params: dict[str, object] = {"name": tool, "arguments": arguments or {}}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def test_a_line_that_is_not_json_gets_parse_error_with_null_id_and_the_connection_stays_open(harness) -> None:
    h, _ = harness
    h.send(b"{this is not json")
    reply = await h.receive()
    assert reply["id"] is None and reply["error"]["code"] == -32700
    h.send(call(1, "echo", {"text": "still here"}))
    assert (await h.receive())["result"]["structuredContent"] == {"text": "still here"}


async def test_an_oversize_line_is_discarded_with_invalid_request_and_the_next_line_is_served(harness) -> None:
    h, _ = harness
    h.send(b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"' + b"x" * 5000 + b'"}}}')
    reply = await h.receive()
    assert reply["id"] is None and reply["error"]["code"] == -32600
    assert "1024-byte limit" in reply["error"]["message"] and "max_line_bytes" in reply["error"]["message"]
    h.send(call(6, "echo", {"text": "after"}))
    assert (await h.receive())["id"] == 6


async def test_notifications_never_get_replies(harness) -> None:
    h, _ = harness
    h.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    h.send({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {"x": 1}})
    h.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 999}})
    h.send({"jsonrpc": "2.0", "id": 7, "method": "ping"})
    assert await h.receive() == {"jsonrpc": "2.0", "id": 7, "result": {}}
    assert h.no_more_replies()


@pytest.mark.parametrize(
    ("line", "expected_id"),
    [
        (b"[1, 2]", None),
        (b'"a string"', None),
        (b'{"jsonrpc":"1.0","id":3,"method":"ping"}', 3),
        (b'{"jsonrpc":"2.0","id":4}', 4),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', None),
        (b'{"jsonrpc":"2.0","id":8,"method":"ping","params":[1]}', 8),
        (b'{"jsonrpc":"2.0","id":9,"method":42}', 9),
    ],
)
async def test_malformed_messages_get_invalid_request_echoing_a_readable_id(harness, line: bytes, expected_id) -> None:
    h, _ = harness
    h.send(line)
    reply = await h.receive()
    assert reply["error"]["code"] == -32600 and reply["id"] == expected_id


async def test_a_tool_error_is_an_is_error_result_not_a_protocol_error(harness) -> None:
    h, _ = harness
    h.send(call(1, "refuse"))
    result = (await h.receive())["result"]
    assert result["isError"] is True and "call echo instead" in result["content"][0]["text"]


async def test_progress_notifications_carry_the_clients_token_and_precede_the_result(harness) -> None:
    h, gate = harness
    h.send(call(1, "slow", progressToken="tok-1"))
    note = await h.receive()
    assert note == {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": "tok-1", "progress": 1, "total": 2, "message": "waiting"},
    }
    gate.release.set()
    assert (await h.receive())["result"]["structuredContent"] == {"text": "released"}


async def test_no_progress_is_sent_without_a_token(harness) -> None:
    h, gate = harness
    h.send(call(1, "slow"))
    await gate.entered.wait()
    gate.release.set()
    assert (await h.receive())["id"] == 1


async def test_calls_run_concurrently_so_a_slow_call_does_not_block_others(harness) -> None:
    h, gate = harness
    h.send(call(1, "slow"))
    await gate.entered.wait()
    h.send(call(2, "echo", {"text": "fast"}))
    assert (await h.receive())["id"] == 2
    gate.release.set()
    assert (await h.receive())["id"] == 1


async def test_a_cancelled_request_is_cancelled_and_never_answered(harness) -> None:
    h, gate = harness
    h.send(call("req-7", "slow"))
    await gate.entered.wait()
    h.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "req-7", "reason": "user"}})
    with anyio.fail_after(5):
        await gate.cancelled.wait()
    h.send({"jsonrpc": "2.0", "id": 8, "method": "ping"})
    assert (await h.receive())["id"] == 8  # nothing for req-7 came first


async def test_a_duplicate_in_flight_id_is_refused_without_disturbing_the_first(harness) -> None:
    h, gate = harness
    h.send(call(1, "slow"))
    await gate.entered.wait()
    h.send(call(1, "echo", {"text": "dup"}))
    reply = await h.receive()
    assert reply["error"]["code"] == -32600 and "already in flight" in reply["error"]["message"]
    gate.release.set()
    assert (await h.receive())["result"]["structuredContent"] == {"text": "released"}


async def test_at_eof_requests_already_received_are_still_answered(tmp_path: Path) -> None:
    gate = Gate()
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        _test_tools(registry, gate)
        async with LineHarness(Session(app.identity, registry, "test")) as h:
            h.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize_params()})
            h.send(call(1, "slow"))
            h.eof()
            await gate.entered.wait()
            assert (await h.receive())["id"] == 0
            gate.release.set()
            assert (await h.receive())["result"]["structuredContent"] == {"text": "released"}
            await h.finished.wait()
            assert h.eof_seen


async def test_on_stop_in_flight_work_gets_the_grace_period_then_a_shutting_down_error(tmp_path: Path) -> None:
    gate = Gate()
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        _test_tools(registry, gate)
        async with LineHarness(Session(app.identity, registry, "test"), shutdown_grace=0.1) as h:
            h.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize_params()})
            await h.receive()
            h.send(call(1, "slow"))
            await gate.entered.wait()
            h.stopping.set()
            reply = await h.receive()
            assert reply["id"] == 1 and reply["error"]["code"] == -32000
            assert "shutting down" in reply["error"]["message"]
            assert gate.cancelled.is_set()
            with anyio.fail_after(2):
                await h.finished.wait()


@asynccontextmanager
async def _limited(tmp_path: Path, gate: Gate, limits: LineLimits) -> AsyncIterator[LineHarness]:
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        _test_tools(registry, gate)
        async with LineHarness(Session(app.identity, registry, "test"), limits=limits) as h:
            h.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize_params()})
            assert (await h.receive())["id"] == 0
            yield h
            gate.release.set()


async def test_a_connection_at_max_in_flight_is_not_read_until_a_request_finishes(tmp_path: Path) -> None:
    gate = Gate()
    async with _limited(tmp_path, gate, LineLimits(max_in_flight=2)) as h:
        h.send(call(1, "slow"))
        h.send(call(2, "slow"))
        h.send({"jsonrpc": "2.0", "id": 3, "method": "ping"})
        await gate.entered.wait()
        replies = []
        with anyio.move_on_after(0.3):
            while True:
                replies.append(await h.receive())
        assert [r.get("id") for r in replies if "id" in r] == []  # only progress notifications: the ping waits unread
        assert len(h.reader._buffer) > 0  # noqa: SLF001 - the ping is still in the read buffer
        gate.release.set()
        ids = set()
        while len(ids) < 3:
            reply = await h.receive()
            if "id" in reply:
                ids.add(reply["id"])
        assert ids == {1, 2, 3}


async def test_an_idle_line_connection_is_closed_but_one_with_a_request_in_flight_is_not(tmp_path: Path) -> None:
    gate = Gate()
    async with _limited(tmp_path, gate, LineLimits(idle_timeout=0.3)) as h:
        h.send(call(1, "slow"))
        await gate.entered.wait()
        await anyio.sleep(0.6)
        assert not h.finished.is_set()  # busy is not idle
        gate.release.set()
        while "id" not in (reply := await h.receive()):
            pass
        assert reply["id"] == 1
        with anyio.fail_after(2):
            await h.finished.wait()  # closed once idle, without an EOF from the peer
        assert not h.eof_seen
        assert "idle for 0.3 s" in (await h.receive())["error"]["message"]
