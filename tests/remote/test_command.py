"""`swarm-mcp worker` as a process against a real `serve --tcp` with a token: the errors a user
must act on, and a clean stop that leaves no claim behind. (Claude runs: tests/external.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO_ROOT, log_events, server_env, tcp_server

from swarm_mcp.client import HttpClient

pytestmark = pytest.mark.slow

TOKEN = "k" * 43
WORKER = [sys.executable, "-m", "swarm_mcp", "worker"]


def write_token(path: Path, token: str) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def worker(home: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "worker.stdout", "wb") as out, open(home / "worker.stderr", "wb") as err:
        return subprocess.Popen([*WORKER, "--data-dir", str(home), *args], env=server_env(home, **env),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(REPO_ROOT))


def finished(process: subprocess.Popen[bytes], home: Path, timeout: float = 30) -> tuple[int, str, str]:
    process.wait(timeout=timeout)
    return process.returncode, (home / "worker.stdout").read_text(), (home / "worker.stderr").read_text()


def tool(client: HttpClient, name: str, **arguments: Any) -> dict[str, Any]:
    result = client.call_tool(name, arguments)
    assert not result.get("isError"), result
    return dict(result["structuredContent"])


def wait_for_event(home: Path, event: str, process: subprocess.Popen[bytes], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for logged in log_events((home / "worker.stderr").read_bytes()):
            if logged["event"] == event:
                return logged
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"no {event} from the worker: {(home / 'worker.stderr').read_text()[-3000:]}")


def test_the_worker_explains_a_bad_url_a_refused_token_an_unreachable_daemon_and_a_missing_binary(
    tmp_path: Path,
) -> None:
    daemon = tmp_path / "daemon"
    daemon.mkdir()
    right, wrong = write_token(tmp_path / "right", TOKEN), write_token(tmp_path / "wrong", "w" * 43)
    claude = {"SWARM_MCP_CLAUDE_BIN": "/bin/true"}
    with tcp_server(daemon, SWARM_MCP_TOKEN=TOKEN) as (port, _):
        url = f"http://127.0.0.1:{port}/mcp"
        runs = {
            "bad url": worker(tmp_path / "w1", "--attach", "127.0.0.1:8765", "--token-file", str(right), **claude),
            "no token": worker(tmp_path / "w2", "--attach", url, **claude),
            "wrong token": worker(tmp_path / "w3", "--attach", url, "--token-file", str(wrong), **claude),
            "wrong path": worker(tmp_path / "w4", "--attach", url[:-4] + "/nope", "--token-file", str(right), **claude),
            "no binary": worker(tmp_path / "w5", "--attach", url, "--token-file", str(right), PATH="/nonexistent",
                                HOME=str(tmp_path), CLAUDE_BIN=""),
        }
        outcomes = {name: finished(process, tmp_path / f"w{i}") for i, (name, process) in enumerate(runs.items(), 1)}
    gone = worker(tmp_path / "w6", "--attach", url, "--token-file", str(right), **claude)
    unreachable = finished(gone, tmp_path / "w6")

    def error(name: str) -> str:
        code, stdout, stderr = outcomes[name]
        assert stdout == "", "stdout stays empty"
        lines = [line for line in stderr.splitlines() if line.startswith("swarm-mcp worker: error: ")]
        assert len(lines) == 1, stderr
        return f"{code} {lines[0]}"

    assert error("bad url").startswith("2 ") and "is not an http(s) URL" in error("bad url")
    assert error("no token").startswith("1 ") and "requires a bearer token (HTTP 401)" in error("no token")
    assert "refused the token (HTTP 401): pass the daemon's token with --token-file" in error("wrong token")
    assert "answered 404: no MCP endpoint at this path; swarm-mcp serves it at /mcp" in error("wrong path")
    assert error("no binary").startswith("1 ")
    assert "Claude Code binary not found. Looked in: $CLAUDE_BIN" in error("no binary")
    assert unreachable[0] == 1 and "cannot reach" in unreachable[2] and "swarm-mcp serve --tcp" in unreachable[2]
    assert TOKEN not in "".join(o[2] for o in outcomes.values()), "the token is never logged"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_waiting_worker_at_once_with_exit_0_and_its_cancelled_claim_takes_nothing(
    tmp_path: Path, signum: signal.Signals
) -> None:
    daemon, home = tmp_path / "daemon", tmp_path / "worker"
    daemon.mkdir()
    token_file = write_token(tmp_path / "token", TOKEN)
    with tcp_server(daemon, SWARM_MCP_TOKEN=TOKEN, SWARM_MCP_SWARM_LEARNING="false") as (port, _):
        with HttpClient("127.0.0.1", port, token=TOKEN) as admin:
            admin.initialize()
            tool(admin, "swarm_init", topology="star")
            tool(admin, "agent_spawn", type="coder")
            process = worker(home, "--attach", f"http://127.0.0.1:{port}/mcp", "--token-file", str(token_file),
                             SWARM_MCP_CLAUDE_BIN="/bin/true")
            wait_for_event(home, "worker_started", process)
            os.kill(process.pid, signum)
            started = time.monotonic()
            code, stdout, stderr = finished(process, home, timeout=15)
            took = time.monotonic() - started
            tool(admin, "task_orchestrate", task="Write the parser", subtasks=[{"id": "p", "description": "Parse"}])
            claim = tool(admin, "task_claim")
    assert code == 0 and stdout == "" and took < 5, stderr
    stopped = [e for e in log_events(stderr.encode()) if e["event"] == "worker_stopped"]
    assert len(stopped) == 1 and stopped[0]["reason"] == signum.name
    assert claim["claimed"] is True, "the worker's long poll was cancelled on the daemon, so the work is still there"
