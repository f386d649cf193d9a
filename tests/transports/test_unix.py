"""The line protocol on the data dir's Unix socket: private, found through the lock file, replaced
when stale, removed on exit, and behind the token when one is set."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from support import REPO_ROOT, server_env, spawn_stdio

from swarm_mcp.client import LineClient, McpError

TOKEN = "unix-socket-token-for-tests-0123456789"


def test_every_serve_offers_the_line_protocol_on_a_private_socket_and_removes_it_on_exit(tmp_path: Path) -> None:
    sock = tmp_path / "swarm-mcp.sock"
    with spawn_stdio(tmp_path) as stdio:
        stdio.initialize()
        stdio.call_tool("memory_usage", {"action": "store", "key": "k", "value": "from stdio"})
        assert stat.S_ISSOCK(sock.lstat().st_mode) and stat.S_IMODE(sock.lstat().st_mode) == 0o600
        owner = orjson.loads((tmp_path / "swarm-mcp.lock").read_bytes())
        assert owner["socket"] == str(sock)
        with LineClient.connect_unix(owner["socket"]) as local:
            local.initialize()
            assert local.call_tool("memory_usage", {"action": "retrieve", "key": "k"})["structuredContent"]["entry"]["value"] == "from stdio"
            serving = local.call_tool("features_detect", {"category": "transports"})["structuredContent"]["transports"]["serving"]
            assert serving["unix"] == {"endpoint": str(sock), "open_connections": 1, "total_connections": 1}
    assert not sock.exists()


def test_a_socket_left_by_a_killed_owner_is_replaced(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as first:
        first.initialize()
        assert first.process is not None
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    assert (tmp_path / "swarm-mcp.sock").exists()  # stale: nobody accepts on it
    with spawn_stdio(tmp_path) as second:
        second.initialize()
        with LineClient.connect_unix(str(tmp_path / "swarm-mcp.sock")) as local:
            assert local.initialize()["serverInfo"]["name"] == "swarm-mcp"


def test_with_a_token_set_the_socket_requires_it_as_the_first_line(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path, SWARM_MCP_TOKEN=TOKEN) as stdio:
        stdio.initialize()  # stdio itself needs no token: its peer started this process
        with LineClient.connect_unix(str(tmp_path / "swarm-mcp.sock")) as local:
            with pytest.raises(McpError) as caught:
                local.initialize()
            assert caught.value.code == -32001
        with pytest.raises(McpError):
            LineClient.connect_unix(str(tmp_path / "swarm-mcp.sock"), token="not-the-token-" * 3)
        with LineClient.connect_unix(str(tmp_path / "swarm-mcp.sock"), token=TOKEN) as local:
            assert local.initialize()["serverInfo"]["name"] == "swarm-mcp"


def test_the_socket_can_be_turned_off(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path, "--set", "unix_socket=false") as stdio:
        stdio.initialize()
        assert not (tmp_path / "swarm-mcp.sock").exists()
        assert orjson.loads((tmp_path / "swarm-mcp.lock").read_bytes())["socket"] is None


def test_something_else_at_the_socket_path_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "swarm-mcp.sock").write_text("not a socket")
    done = subprocess.run([sys.executable, "-m", "swarm_mcp", "serve"], env=server_env(tmp_path), input=b"",
                          capture_output=True, timeout=60, cwd=str(REPO_ROOT))
    assert done.returncode == 2 and b"is not a socket; move it aside" in done.stderr and b"unix_socket=false" in done.stderr
    assert (tmp_path / "swarm-mcp.sock").read_text() == "not a socket"


def test_a_unix_listener_refuses_connections_over_max_connections(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path, "--set", "max_connections=2") as stdio:
        stdio.initialize()
        path = str(tmp_path / "swarm-mcp.sock")
        held = [LineClient.connect_unix(path) for _ in range(2)]
        try:
            for client in held:
                client.initialize()
            with socket.socket(socket.AF_UNIX) as extra:
                extra.settimeout(10)
                extra.connect(path)
                reply = orjson.loads(extra.makefile("rb").readline())
            assert reply["error"]["code"] == -32002 and "max_connections is 2" in reply["error"]["message"]
        finally:
            for client in held:
                client.close()


def _hello(path: Path, params: dict[str, object]) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(orjson.dumps({"jsonrpc": "2.0", "id": "h", "method": "swarm-mcp/hello", "params": params}) + b"\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\n" in data:
                break
        reply = dict(orjson.loads(data.split(b"\n", 1)[0]))
        if "error" in reply:
            assert sock.recv(65536) == b"", "a refused hello closes the connection"
        return reply


def test_a_hostile_hello_is_refused_with_what_it_needs_and_the_owner_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "swarm-mcp.sock"
    with spawn_stdio(tmp_path) as owner:
        owner.initialize()
        for params in ({}, {"version": 7}, {"version": "x" * 65}, {"version": "1.0\n"}, {"version": "1.0", "tools": ["memory"]},
                       {"version": "1.0", "tools": "memory," * 100}, {"version": "1.0", "tools": "memory,nope"}):
            error = _hello(path, params)["error"]
            assert isinstance(error, dict) and error["code"] == -32602, (params, error)
        assert "unknown tool area(s) ['nope']" in str(_hello(path, {"version": "1.0", "tools": "memory,nope"})["error"])
        assert _hello(path, {"version": "1.0", "tools": " swarm,memory,memory "})["result"]
        assert owner.request("ping") == {}
