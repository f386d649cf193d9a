"""The MCP Inspector CLI 0.15.0, an independent client, lists and calls our tools over stdio and HTTP.

The Inspector opens one connection per run and prints the result as JSON; it exits 0 even when
the tool reports `isError`, so every assertion is on that JSON (and on the server's own log).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from external_clients import Inspector, tail, wait_until
from support import SERVE, log_events, server_env, server_output, tcp_server

pytestmark = pytest.mark.slow

# Tools these tests call; the server serves more (asserted as a subset, so new tools do not break them).
TOOLS = {"features_detect", "memory_usage"}


def stdio_env(home: Path) -> dict[str, str]:
    """The stdio server's settings, by environment (the Inspector passes its own on to the server)."""
    return server_env(home, SWARM_MCP_LOG_FILE=str(home / "server.log"))


def logged(path: Path) -> list[dict[str, Any]]:
    return log_events(path.read_bytes()) if path.exists() else []


def log_of(path: Path) -> Callable[[], str]:
    return lambda: f"server log {path}:\n" + (tail(path.read_bytes()) if path.exists() else "(none)")


def tool_calls(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["tool"], e["transport"], e["outcome"]) for e in events if e["event"] == "tool_call"]


# -- stdio -----------------------------------------------------------------------------------


def test_the_inspector_lists_our_tools_over_stdio(inspector: Inspector, tmp_path: Path) -> None:
    listed = inspector.call(*SERVE, method="tools/list", env=stdio_env(tmp_path),
                            diagnostics=log_of(tmp_path / "server.log"))

    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) >= TOOLS
    action = tools["memory_usage"]["inputSchema"]["properties"]["action"]
    assert action["type"] == "string" and "store" in action["enum"]
    assert tools["features_detect"]["inputSchema"]["properties"]["category"]["enum"][0] == "all"


def test_a_value_stored_through_the_inspector_over_stdio_is_read_back_by_a_second_connection(
    inspector: Inspector, tmp_path: Path
) -> None:
    env, diagnostics = stdio_env(tmp_path), log_of(tmp_path / "server.log")

    stored = inspector.call(
        *SERVE, method="tools/call", tool="memory_usage", env=env, diagnostics=diagnostics,
        arguments={"action": "store", "key": "greeting", "value": "hello from the inspector", "durable": "true"},
    )
    read = inspector.call(*SERVE, method="tools/call", tool="memory_usage", env=env, diagnostics=diagnostics,
                          arguments={"action": "retrieve", "key": "greeting"})

    assert stored["isError"] is False
    assert stored["structuredContent"]["entry"]["value"] == "hello from the inspector"
    assert json.loads(stored["content"][0]["text"]) == stored["structuredContent"]
    assert read["isError"] is False and read["structuredContent"]["found"] is True
    assert read["structuredContent"]["entry"]["value"] == "hello from the inspector"
    assert tool_calls(logged(tmp_path / "server.log")) == [("memory_usage", "stdio", "ok")] * 2


def test_a_tool_error_reaches_the_inspector_as_an_error_result_the_model_can_read(
    inspector: Inspector, tmp_path: Path
) -> None:
    result = inspector.call(*SERVE, method="tools/call", tool="memory_usage", env=stdio_env(tmp_path),
                            arguments={"action": "forget"}, diagnostics=log_of(tmp_path / "server.log"))

    assert result["isError"] is True
    message = result["content"][0]["text"]
    assert "'forget'" in message and "'store'" in message and "call memory_usage again" in message
    assert tool_calls(logged(tmp_path / "server.log")) == [("memory_usage", "stdio", "invalid_arguments")]


# -- Streamable HTTP -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real `swarm-mcp serve --tcp` daemon: its /mcp URL and its data dir."""
    home = tmp_path_factory.mktemp("inspector-http")
    with tcp_server(home) as (port, _process):
        yield f"http://127.0.0.1:{port}/mcp", home


def daemon_log(home: Path) -> Callable[[], str]:
    return lambda: "daemon stderr:\n" + tail(server_output(home)[1])


def test_the_inspector_lists_our_tools_over_http(inspector: Inspector, daemon: tuple[str, Path]) -> None:
    url, home = daemon

    listed = inspector.call(url, method="tools/list", diagnostics=daemon_log(home))

    assert {tool["name"] for tool in listed["tools"]} >= TOOLS


def test_the_inspector_calls_our_tools_over_http_and_the_calls_arrive_in_the_daemon(
    inspector: Inspector, daemon: tuple[str, Path]
) -> None:
    url, home = daemon

    storage = inspector.call(url, method="tools/call", tool="features_detect", arguments={"category": "storage"},
                             diagnostics=daemon_log(home))
    # `ttl` is `number | null` (an anyOf): the Inspector converts --tool-arg values only for plain
    # number/integer/boolean/object/array schemas, so it sends the string "3600" here.
    stored = inspector.call(url, method="tools/call", tool="memory_usage", diagnostics=daemon_log(home),
                            arguments={"action": "store", "key": "over-http", "value": "7", "ttl": "3600"})

    assert storage["isError"] is False and storage["structuredContent"]["storage"]["data_dir"] == str(home)
    assert stored["isError"] is False
    entry = stored["structuredContent"]["entry"]
    assert entry["value"] == "7", "an untyped value stays the string the Inspector was given"
    assert entry["expires_at"] - entry["created"] == pytest.approx(3600, abs=1e-3), "the string arrived as a number"
    wait_until(lambda: len(tool_calls(log_events(server_output(home)[1]))) >= 2, timeout=10, what=daemon_log(home))
    calls = tool_calls(log_events(server_output(home)[1]))
    assert ("features_detect", "http", "ok") in calls and ("memory_usage", "http", "ok") in calls


def test_a_stored_entry_never_reports_more_ttl_remaining_than_it_was_given(
    inspector: Inspector, tmp_path: Path
) -> None:
    """Server bug (found here): the store reply computes `ttl_remaining_s` from a clock reading
    taken before the write, so it reports slightly more than the ttl asked for (3600.00003 s)."""
    stored = inspector.call(*SERVE, method="tools/call", tool="memory_usage", env=stdio_env(tmp_path),
                            arguments={"action": "store", "key": "brief", "value": "x", "ttl": "3600"},
                            diagnostics=log_of(tmp_path / "server.log"))

    assert stored["isError"] is False
    assert stored["structuredContent"]["entry"]["ttl_remaining_s"] <= 3600
