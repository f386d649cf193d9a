"""Streamable HTTP at /mcp on the shared TCP port: both eras, shared state, auth, DNS rebinding."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from mcp import Client
from support import REPO_ROOT, free_port, log_events, server_env, server_output, tcp_server

from swarm_mcp.client import HttpClient, LineClient, McpError, initialize_params

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("http")
    with tcp_server(home) as (port, process):
        yield port, process, home


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_sdks_http_client_works_in_both_eras(server, mode: str) -> None:
    port, _, _ = server
    async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"features_detect", "memory_usage"} <= names
        stored = await client.call_tool("memory_usage", {"action": "store", "key": f"via-{mode}", "value": mode})
        assert not stored.is_error and stored.structured_content["entry"]["version"] == 1


def test_http_and_line_clients_share_one_daemon_state(server) -> None:
    port, _, _ = server
    with HttpClient("127.0.0.1", port) as http:
        http.initialize()
        http.call_tool("memory_usage", {"action": "store", "key": "shared", "value": {"from": "http"}})
    with LineClient.connect("127.0.0.1", port) as line:
        line.initialize()
        got = line.call_tool("memory_usage", {"action": "retrieve", "key": "shared"})["structuredContent"]
        assert got["entry"]["value"] == {"from": "http"}
        transports = line.call_tool("features_detect", {"category": "transports"})["structuredContent"]["transports"]
        assert transports["serving"]["http"]["endpoint"] == f"http://127.0.0.1:{port}/mcp"
        assert transports["serving"]["tcp-lines"]["open_connections"] == 1


def test_a_request_with_a_foreign_host_header_is_refused(server) -> None:
    port, _, _ = server
    with HttpClient("127.0.0.1", port) as http:
        status, _, _ = http.post(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}, extra_headers={"Host": "evil.example:80"}
        )
        assert status == 421


def test_a_body_that_is_not_json_gets_a_parse_error(server) -> None:
    port, _, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", "/mcp", body=b"{nope",
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
        )
        response = connection.getresponse()
        body = orjson.loads(response.read())
    finally:
        connection.close()
    assert response.status == 400 and body["error"]["code"] == -32700


def test_serving_off_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "swarm_mcp", "serve", "--tcp", f"0.0.0.0:{free_port()}"],
        env=server_env(tmp_path), capture_output=True, timeout=60, cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert b"SWARM_MCP_TOKEN" in done.stderr and b"--token-file" in done.stderr


@pytest.fixture(scope="module")
def public_server(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("public")
    token_file = home / "token"
    token_file.write_text(TOKEN + "\n")
    with tcp_server(home, "--token-file", str(token_file), host="0.0.0.0") as (port, process):
        yield port, process, home


def test_off_loopback_http_without_the_bearer_token_is_rejected_before_any_tool_runs(public_server) -> None:
    port, _, home = public_server
    for token in (None, "wrong-token"):
        with HttpClient("127.0.0.1", port, token=token) as http:
            with pytest.raises(McpError) as caught:
                http.request("tools/call", {"name": "memory_usage", "arguments": {"action": "store", "key": "no", "value": 1}})
            assert caught.value.code == 401
    events = log_events(server_output(home)[1])
    assert not [e for e in events if e.get("event") == "tool_call"]
    assert [e for e in events if e.get("event") == "http_unauthorized"]


def test_off_loopback_http_with_the_token_works_and_the_token_never_reaches_the_log(public_server) -> None:
    port, _, home = public_server
    with HttpClient("127.0.0.1", port, token=TOKEN) as http:
        http.initialize()
        result = http.call_tool("features_detect", {"category": "transports"})
        assert result["structuredContent"]["transports"]["http_auth_required"] is True
    assert TOKEN.encode() not in server_output(home)[1]


def test_off_loopback_a_line_client_must_send_the_token_first_and_then_is_served(public_server) -> None:
    port, _, home = public_server
    for first in ({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                  {"jsonrpc": "2.0", "id": 1, "method": "swarm-mcp/authenticate", "params": {"token": "wrong-" * 8}}):
        with LineClient.connect("127.0.0.1", port) as line:
            line.send(first)
            reply = line.receive()
            assert reply["id"] == 1 and reply["error"]["code"] == -32001
            assert "swarm-mcp/authenticate" in reply["error"]["message"]
            with pytest.raises(EOFError):
                line.receive()
    with LineClient.connect("127.0.0.1", port, token=TOKEN) as line:
        line.initialize()
        assert not line.call_tool("features_detect", {"category": "cpu"})["isError"]
    assert TOKEN.encode() not in server_output(home)[1]


@pytest.mark.parametrize("first", ["initialize", "nothing"])
def test_with_a_token_set_a_loopback_line_client_without_it_is_refused_before_any_tool_runs(tmp_path: Path, first: str) -> None:
    with tcp_server(tmp_path, "--set", "header_timeout=0.5", SWARM_MCP_TOKEN=TOKEN) as (port, _):
        with LineClient.connect("127.0.0.1", port) as line:
            if first == "initialize":
                line.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()})
                line.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                           "params": {"name": "memory_usage", "arguments": {"action": "store", "key": "k", "value": 1}}})
            reply = line.receive()
            assert reply["error"]["code"] == -32001 and "swarm-mcp/authenticate" in reply["error"]["message"]
            with pytest.raises(EOFError):
                line.receive()
        with LineClient.connect("127.0.0.1", port, token=TOKEN) as line:
            line.initialize()
            assert line.call_tool("memory_usage", {"action": "retrieve", "key": "k"})["structuredContent"]["found"] is False
    expected = "line_unauthorized" if first == "initialize" else "connection_timed_out"
    assert [e for e in log_events(server_output(tmp_path)[1]) if e.get("event") == expected]


def test_a_loopback_bind_other_than_127_0_0_1_still_refuses_a_foreign_host_header(tmp_path: Path) -> None:
    with tcp_server(tmp_path, host="127.0.0.2") as (port, _):
        with HttpClient("127.0.0.2", port) as http:
            status, _, _ = http.post(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()},
                extra_headers={"Host": "evil.example"},
            )
            assert status == 421
            status, _, _ = http.post(
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()},
                extra_headers={"Origin": "http://evil.example"},
            )
            assert status == 403
        with HttpClient("127.0.0.2", port) as http:
            assert http.initialize()["serverInfo"]["name"] == "swarm-mcp"
