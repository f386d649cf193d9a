"""The command line: every subcommand has --help; config, version and claude behave as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from support import REPO_ROOT, server_env


def run_cli(*args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarm_mcp", *args],
        env={**server_env(home), **(env or {})},
        capture_output=True, text=True, timeout=timeout, cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", ["serve", "claude", "dashboard", "config", "version", "bench"])
def test_every_subcommand_has_help(tmp_path: Path, command: str) -> None:
    done = run_cli(command, "--help", home=tmp_path)
    assert done.returncode == 0 and "usage: swarm-mcp" in done.stdout


def test_no_command_prints_usage_and_fails(tmp_path: Path) -> None:
    done = run_cli(home=tmp_path)
    assert done.returncode == 2 and "serve" in done.stderr


def test_version_names_swarm_mcp_python_and_the_sdk(tmp_path: Path) -> None:
    done = run_cli("version", home=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("swarm-mcp 0.1.0") and "mcp 2.3.0" in done.stdout


def test_config_shows_each_value_and_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("memory_flush_ms = 25\n")
    done = run_cli("config", "--json", "--log-level", "debug", home=tmp_path, env={"SWARM_MCP_MAX_LINE_BYTES": "5000"})
    rows = {row["name"]: row for row in orjson.loads(done.stdout)}
    assert rows["log_level"] == {"name": "log_level", "value": "debug", "source": "flag --log-level"}
    assert rows["max_line_bytes"]["value"] == "5000" and rows["max_line_bytes"]["source"] == "env SWARM_MCP_MAX_LINE_BYTES"
    assert rows["memory_flush_ms"]["value"] == "25" and rows["memory_flush_ms"]["source"].startswith("file ")
    assert rows["data_dir"] == {"name": "data_dir", "value": str(tmp_path), "source": "env SWARM_MCP_HOME"}
    table = run_cli("config", home=tmp_path).stdout
    assert "memory_flush_ms" in table and "default" in table


def test_a_bad_setting_exits_with_a_usage_error_naming_it(tmp_path: Path) -> None:
    done = run_cli("config", "--set", "memory_flush_ms=fast", home=tmp_path)
    assert done.returncode == 2 and "memory_flush_ms" in done.stderr and "whole number" in done.stderr


def test_claude_without_a_binary_lists_where_it_looked_and_how_to_install(tmp_path: Path) -> None:
    done = run_cli("claude", "-p", "hi", home=tmp_path, env={"PATH": "/nonexistent", "HOME": str(tmp_path), "CLAUDE_BIN": ""})
    assert done.returncode == 1
    for place in ("$CLAUDE_BIN", "PATH", "~/.local/bin/claude", "/usr/local/bin/claude"):
        assert place in done.stderr
    assert "npm install -g @anthropic-ai/claude-code" in done.stderr


def _stub_claude(folder: Path, record: Path) -> Path:
    """An executable that records its arguments and the config file it was given."""
    folder.mkdir(parents=True, exist_ok=True)
    stub = folder / "claude"
    stub.write_text(f'#!/bin/sh\necho "$@" > {record}\ncat "$2" >> {record}\n')
    stub.chmod(0o755)
    return stub


def test_claude_never_runs_a_binary_from_the_current_directory(tmp_path: Path) -> None:
    record = tmp_path / "ran"
    _stub_claude(tmp_path / "project" / "node_modules" / ".bin", record)
    done = subprocess.run(
        [sys.executable, "-m", "swarm_mcp", "claude", "-p", "hi"],
        env={**server_env(tmp_path / "data"), "PATH": "/nonexistent", "HOME": str(tmp_path), "CLAUDE_BIN": "",
             "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=60, cwd=str(tmp_path / "project"), stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1 and "not found" in done.stderr and "node_modules" not in done.stderr
    assert not record.exists()


def test_claude_says_which_binary_runs_and_writes_its_config_privately_never_through_a_symlink(tmp_path: Path) -> None:
    home, record, victim = tmp_path / "data", tmp_path / "ran", tmp_path / "victim.json"
    home.mkdir(mode=0o700)
    victim.write_text("precious")
    (home / "claude-mcp.json").symlink_to(victim)
    stub = _stub_claude(tmp_path / "bin", record)
    done = run_cli("claude", "-p", "hi", home=home, env={"CLAUDE_BIN": str(stub)})
    assert done.returncode == 0, done.stderr
    assert f"running Claude Code {stub} (found via $CLAUDE_BIN)" in done.stderr
    config = home / "claude-mcp.json"
    assert victim.read_text() == "precious" and not config.is_symlink()
    assert config.stat().st_mode & 0o777 == 0o600
    assert record.read_text().startswith(f"--mcp-config {config} --strict-mcp-config -p hi") and '"mcpServers"' in record.read_text()


def test_claude_print_config_masks_the_bearer_token_unless_asked(tmp_path: Path) -> None:
    token = "t" * 40
    url = "http://127.0.0.1:9/mcp"
    masked = run_cli("claude", "--print-config", "--attach", url, home=tmp_path, env={"SWARM_MCP_TOKEN": token})
    assert masked.returncode == 0 and token not in masked.stdout
    header = orjson.loads(masked.stdout)["mcpServers"]["swarm-http"]["headers"]["Authorization"]
    assert header.startswith("Bearer <set, 40 characters")
    shown = run_cli("claude", "--print-config", "--show-token", "--attach", url, home=tmp_path, env={"SWARM_MCP_TOKEN": token})
    assert orjson.loads(shown.stdout)["mcpServers"]["swarm-http"]["headers"]["Authorization"] == f"Bearer {token}"


def test_claude_print_config_uses_this_installs_absolute_paths(tmp_path: Path) -> None:
    done = run_cli("claude", "--print-config", home=tmp_path)
    entry = orjson.loads(done.stdout)["mcpServers"]["swarm"]
    assert entry["command"] == sys.executable and Path(entry["command"]).is_absolute()
    assert entry["args"][:3] == ["-m", "swarm_mcp", "serve"] and str(tmp_path) in entry["args"]
    assert entry["alwaysLoad"] is True and entry["type"] == "stdio"
    attached = orjson.loads(run_cli("claude", "--print-config", "--attach", "http://127.0.0.1:9/mcp", home=tmp_path).stdout)
    assert attached == {"mcpServers": {"swarm-http": {"type": "http", "url": "http://127.0.0.1:9/mcp", "alwaysLoad": True}}}


def test_the_shipped_claude_config_has_a_stdio_and_an_http_server() -> None:
    servers = orjson.loads((REPO_ROOT / "scripts" / "claude_config.json").read_bytes())["mcpServers"]
    assert servers["swarm"]["type"] == "stdio" and servers["swarm"]["alwaysLoad"] is True
    assert servers["swarm-http"] == {"type": "http", "url": "http://127.0.0.1:8765/mcp", "alwaysLoad": True}
