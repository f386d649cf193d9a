"""The daemon's `claude` executor without running Claude: where its workers reach the daemon,
who may use that endpoint, and refusals that say what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from support import config_for

from swarm_mcp.app import open_app
from swarm_mcp.client import HttpClient, McpError
from swarm_mcp.config import ConfigError
from swarm_mcp.tools import build_registry

NO_CLAUDE = {"PATH": "/nonexistent", "CLAUDE_BIN": ""}
TOKEN = "s" * 43


def initialize_status(url: str, token: str | None) -> int:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with HttpClient(parts.hostname, parts.port, path=parts.path, token=token) as client:
        try:
            client.initialize()
        except McpError as exc:
            return int(exc.code or 0)
    return 200


async def call(client: Any, tool: str, **arguments: Any) -> Any:
    return await client.call_tool(tool, arguments)


async def test_without_a_claude_binary_task_orchestrate_is_refused_naming_every_place_searched(tmp_path: Path) -> None:
    from mcp import Client

    from swarm_mcp.sdk_server import build_sdk_server

    config = config_for(tmp_path / "data", swarm_learning=False, claude_workdir=str(tmp_path))
    async with open_app(config, environ={**NO_CLAUDE, "HOME": str(tmp_path)}) as app:
        async with Client(build_sdk_server(app, build_registry(app), transport="memory")) as client:
            await call(client, "swarm_init", topology="star", executor="claude")
            await call(client, "agent_spawn", type="coder")
            refused = await call(client, "task_orchestrate", task="Write the parser")
            as_client = await call(client, "task_orchestrate", task="Write the parser", executor="client")
    assert refused.is_error and not as_client.is_error
    text = refused.content[0].text
    assert "executor 'claude' cannot run here: Claude Code binary not found" in text
    for place in ("$CLAUDE_BIN (not set)", "PATH (not set)", f"~/.local/bin/claude ({tmp_path}/.local/bin/claude)",
                  "/usr/local/bin/claude"):
        assert place in text
    assert "npm install -g @anthropic-ai/claude-code" in text and "Use executor 'client'" in text


async def test_in_stdio_mode_the_workers_listener_opens_on_demand_and_refuses_a_missing_or_wrong_token(
    tmp_path: Path,
) -> None:
    async with open_app(config_for(tmp_path, swarm_learning=False), environ=NO_CLAUDE) as app:
        before = app.claude.endpoint.loopback
        endpoint = await app.claude.endpoint.get()
        again = await app.claude.endpoint.get()
        statuses = [await anyio.to_thread.run_sync(initialize_status, endpoint.url, token)
                    for token in (None, "w" * 43, endpoint.token[:-1], endpoint.token)]
    assert before is None, "no listener until a worker needs one"
    assert again == endpoint and urlsplit(endpoint.url).hostname == "127.0.0.1"
    assert endpoint.token is not None and len(endpoint.token) >= 43
    assert statuses == [401, 401, 401, 200]


async def test_when_the_daemon_serves_tcp_its_workers_use_that_port_with_its_token(tmp_path: Path) -> None:
    from swarm_mcp.transports.tcp import serve_tcp

    async with open_app(config_for(tmp_path, swarm_learning=False, token=TOKEN), environ=NO_CLAUDE) as app:
        async with anyio.create_task_group() as tg:
            base = await tg.start(serve_tcp, app, build_registry(app), "0.0.0.0", 0)
            endpoint = await app.claude.endpoint.get()
            status = await anyio.to_thread.run_sync(initialize_status, endpoint.url, endpoint.token)
            app.request_stop("test")
    port = urlsplit(base).port
    assert endpoint.url == f"http://127.0.0.1:{port}/mcp" and endpoint.token == TOKEN and status == 200
    assert app.claude.endpoint.loopback is None, "no second listener"


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("claude_workers", "0", "must be positive"),
    ("claude_timeout", "0", "claude_timeout is 0; give the seconds one worker may run"),
])
async def test_worker_limits_that_cannot_work_are_refused_at_start(tmp_path: Path, setting: str, value: str,
                                                                  message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        async with open_app(config_for(tmp_path, **{setting: value}), environ=NO_CLAUDE):
            pass


def test_the_worker_settings_are_ordinary_settings_shown_by_swarm_mcp_config(tmp_path: Path) -> None:
    from swarm_mcp.config import load_config

    (tmp_path / "config.toml").write_text('[claude]\nworkers = 4\nbin = "/opt/claude/bin/claude"\n')
    config = load_config({"data_dir": str(tmp_path)}, {"SWARM_MCP_CLAUDE_TIMEOUT": "90"})
    rows = {name: (value, source) for name, value, source in config.describe()}
    assert (config.claude_workers, config.claude_timeout) == (4, 90.0)
    assert config.claude_bin == Path("/opt/claude/bin/claude")
    assert rows["claude_workers"] == ("4", f"file {tmp_path / 'config.toml'}")
    assert rows["claude_timeout"] == ("90.0", "env SWARM_MCP_CLAUDE_TIMEOUT")
    assert rows["claude_workdir"] == ("", "default")


def _raw_exchange(url: str, data: bytes) -> bytes:
    import socket

    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as raw:
        raw.sendall(data)
        return raw.makefile("rb").read()  # until the listener closes


async def test_the_workers_listener_caps_and_times_connections_and_offers_no_line_protocol(tmp_path: Path) -> None:
    config = config_for(tmp_path, swarm_learning=False, header_timeout="0.5", max_connections="1")
    async with open_app(config, environ=NO_CLAUDE) as app:
        endpoint = await app.claude.endpoint.get()
        lines = await anyio.to_thread.run_sync(_raw_exchange, endpoint.url, b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        slow = await anyio.to_thread.run_sync(_raw_exchange, endpoint.url, b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        parts = urlsplit(endpoint.url)
        holder = await anyio.connect_tcp(parts.hostname or "", parts.port or 0)  # takes the one slot
        async with holder:
            await anyio.sleep(0.05)
            full = await anyio.to_thread.run_sync(initialize_status, endpoint.url, endpoint.token)
        with anyio.fail_after(5):
            while (status := await anyio.to_thread.run_sync(initialize_status, endpoint.url, endpoint.token)) != 200:
                await anyio.sleep(0.05)
    assert b"serves Streamable HTTP only" in lines
    assert slow == b""  # half a request: closed after header_timeout, nothing served
    assert full == 503 and status == 200
