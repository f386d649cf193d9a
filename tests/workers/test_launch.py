"""How a worker is launched: the binary it runs, its private MCP config file, its command line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from swarm_mcp.errors import NotFound, Unavailable
from swarm_mcp.workers import Endpoint, claude_argv, locate_claude, mcp_config_file
from swarm_mcp.workers._launch import sweep_run_files

TOKEN = "t" * 43


def test_the_run_config_names_the_daemon_with_its_token_is_private_and_is_removed_afterwards(tmp_path: Path) -> None:
    with mcp_config_file(tmp_path, Endpoint("http://127.0.0.1:9/mcp", TOKEN)) as path:
        document = orjson.loads(path.read_bytes())
        mode = stat.S_IMODE(path.stat().st_mode)
        folder_mode = stat.S_IMODE(path.parent.stat().st_mode)
    assert document == {"mcpServers": {"swarm": {"type": "http", "url": "http://127.0.0.1:9/mcp", "alwaysLoad": True,
                                                  "headers": {"Authorization": f"Bearer {TOKEN}"}}}}
    assert (mode, folder_mode) == (0o600, 0o700)
    assert path.parent == tmp_path / "claude-runs" and not path.exists()
    assert TOKEN not in repr(Endpoint("http://x/mcp", TOKEN)), "an endpoint never shows its token"


def test_without_a_token_the_run_config_sends_no_header(tmp_path: Path) -> None:
    with mcp_config_file(tmp_path, Endpoint("http://127.0.0.1:9/mcp", None)) as path:
        assert "headers" not in orjson.loads(path.read_bytes())["mcpServers"]["swarm"]


def test_a_runs_folder_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "claude-runs").symlink_to(elsewhere)
    with pytest.raises(Unavailable, match="not a directory owned by this user; remove it"), \
            mcp_config_file(tmp_path / "data", Endpoint("http://127.0.0.1:9/mcp", TOKEN)):
        pass
    assert list(elsewhere.iterdir()) == []


def test_run_files_left_by_a_dead_process_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    folder = tmp_path / "claude-runs"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (folder / f"run-{dead.stdout.strip()}-00.json").write_text("{}")
    (folder / f"run-{os.getpid()}-01.json").write_text("{}")
    (folder / "notes.txt").write_text("")
    assert sweep_run_files(tmp_path) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", f"run-{os.getpid()}-01.json"]


def test_the_command_line_is_print_mode_with_json_output_and_only_the_daemons_tools() -> None:
    argv = claude_argv(Path("/opt/claude"), Path("/d/claude-runs/run-1-ab.json"))
    assert argv == ["/opt/claude", "-p", "--output-format", "json", "--mcp-config", "/d/claude-runs/run-1-ab.json",
                    "--strict-mcp-config", "--allowedTools", "mcp__swarm", "--disallowedTools",
                    "mcp__swarm__task_claim,mcp__swarm__task_complete,mcp__swarm__task_fail,mcp__swarm__task_heartbeat"]


def test_a_missing_workdir_is_named_before_any_run(tmp_path: Path) -> None:
    from swarm_mcp.workers import ClaudeRunner

    runner = ClaudeRunner(data_dir=tmp_path, environ={}, binary=Path("/bin/true"), cwd=tmp_path / "nowhere")
    with pytest.raises(NotFound, match="claude_workdir .*/nowhere is not a directory; create it"):
        runner.binary()


def test_claude_bin_wins_and_a_wrong_one_says_which_setting_to_fix(tmp_path: Path) -> None:
    binary = tmp_path / "claude"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert locate_claude(binary, {"PATH": "/nonexistent"}, tmp_path) == binary
    with pytest.raises(NotFound, match="claude_bin is .*/missing, which is not an executable file"):
        locate_claude(tmp_path / "missing", {"PATH": "/nonexistent"}, tmp_path)
    with pytest.raises(NotFound, match=r"Looked in: \$CLAUDE_BIN \(not set\); PATH"):
        locate_claude(None, {"PATH": "/nonexistent", "HOME": str(tmp_path)}, tmp_path)
