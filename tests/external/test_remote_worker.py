"""`swarm-mcp worker` against a real `serve --tcp` with a token: it claims over authenticated HTTP,
runs the real Claude Code 2.1.197 (sandboxed, offline, the Messages stand-in as its model), whose
tool calls reach the same daemon with the same token, and reports; a signal mid-run gives the
subtask back with the reason."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from external_clients import ClaudeSandbox, tail, wait_until
from held_standin import HeldStandIn
from messages_standin import MessagesStandIn, running_standin
from process_groups import live_members
from support import REPO_ROOT, log_events, tcp_server

from swarm_mcp.client import HttpClient

pytestmark = pytest.mark.slow

TOKEN = "worker-test-token-" + "x" * 32


def start_worker(sandbox: ClaudeSandbox, standin: MessagesStandIn, home: Path, url: str, token_file: Path,
                 ) -> subprocess.Popen[bytes]:
    """`swarm-mcp worker` with the sandbox's environment (its Claude Code finds the stand-in model)."""
    env = sandbox.env(CLAUDE_BIN=str(sandbox.clients.claude), ANTHROPIC_BASE_URL=standin.base_url,
                      ANTHROPIC_API_KEY="test-key", PYTHONPATH=str(REPO_ROOT))
    home.mkdir()
    with open(home / "worker.stdout", "wb") as out, open(home / "worker.stderr", "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "swarm_mcp", "worker", "--attach", url, "--token-file", str(token_file),
             "--concurrency", "1", "--data-dir", str(home), "--set", f"claude_workdir={sandbox.cwd}"],
            env=env, cwd=str(sandbox.cwd), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
        )


def stop(worker: subprocess.Popen[bytes], signum: int = signal.SIGTERM, timeout: float = 20) -> int:
    if worker.poll() is None:
        worker.send_signal(signum)
    try:
        return worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise AssertionError(f"the worker did not stop within {timeout} s of {signal.Signals(signum).name}") from None


def tool(client: HttpClient, name: str, **arguments: Any) -> dict[str, Any]:
    result = client.call_tool(name, arguments)
    assert not result.get("isError"), result
    return dict(result["structuredContent"])


def worker_events(home: Path) -> list[dict[str, Any]]:
    return log_events((home / "worker.stderr").read_bytes())


def diagnostics(home: Path, daemon: Path, standin: MessagesStandIn) -> Callable[[], str]:
    return lambda: (f"worker stderr:\n{tail((home / 'worker.stderr').read_bytes())}\n"
                    f"daemon stderr:\n{tail((daemon / 'server.stderr').read_bytes())}\n{standin.transcript()}")


def private_token_file(path: Path) -> Path:
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def test_swarm_mcp_worker_claims_over_http_runs_claude_whose_tool_call_reaches_the_daemon_and_completes_the_task(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    daemon, home = tmp_path / "daemon", tmp_path / "worker"
    daemon.mkdir()
    marker = f"kept-by-a-remote-worker-{uuid.uuid4()}"
    standin = MessagesStandIn("mcp__swarm__memory_usage", {"action": "store", "key": "remote-e2e", "value": marker},
                              final_text=f"Stored {marker} remotely.")
    token_file = private_token_file(tmp_path / "token")

    with tcp_server(daemon, SWARM_MCP_TOKEN=TOKEN, SWARM_MCP_SWARM_LEARNING="false") as (port, _), \
            running_standin(standin), HttpClient("127.0.0.1", port, token=TOKEN, timeout=90) as admin:
        why = diagnostics(home, daemon, standin)
        admin.initialize()
        tool(admin, "swarm_init", topology="star", cognitivePattern="convergent")  # executor: client (claimed)
        tool(admin, "agent_spawn", type="coder", cognitivePattern="convergent")
        task = tool(admin, "task_orchestrate", task="Keep the marker for the team",
                    subtasks=[{"id": "keep", "description": f"Store {marker} in swarm memory"}])["task"]
        worker = start_worker(claude_sandbox, standin, home, f"http://127.0.0.1:{port}/mcp", token_file)
        try:
            done = tool(admin, "task_status", taskId=task["task_id"], wait=60)["task"]
            results = tool(admin, "task_results", taskId=task["task_id"], format="detailed")["results"]
            stored = tool(admin, "memory_usage", action="retrieve", key="remote-e2e")
        finally:
            code = stop(worker)
        assert done["state"] == "completed", why()

    assert code == 0 and (home / "worker.stdout").read_bytes() == b"", why()
    [result] = results
    assert result["result"]["text"] == f"Stored {marker} remotely." and result["result"]["claude"]["num_turns"] == 2
    assert stored["entry"]["value"] == marker, "Claude on the worker reached the daemon with the token"
    events = worker_events(home)
    [stopped] = [e for e in events if e["event"] == "worker_stopped"]
    assert stopped["reason"] == "SIGTERM" and stopped["claimed"] == 1 and stopped["completed"] == 1, why()
    daemon_log = log_events((daemon / "server.stderr").read_bytes())
    assert not [e for e in daemon_log if e["event"] == "http_unauthorized"], "every request carried the token"
    assert TOKEN not in (home / "worker.stderr").read_text(), "the token is never logged"
    assert list((home / "claude-runs").iterdir()) == []
    claude_sandbox.assert_stayed_offline()


def test_a_signal_while_claude_runs_kills_it_and_gives_the_subtask_back_with_the_reason(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    daemon, home = tmp_path / "daemon", tmp_path / "worker"
    daemon.mkdir()
    standin = HeldStandIn("mcp__swarm__none", {})
    token_file = private_token_file(tmp_path / "token")

    with tcp_server(daemon, SWARM_MCP_TOKEN=TOKEN, SWARM_MCP_SWARM_LEARNING="false") as (port, _), \
            running_standin(standin), HttpClient("127.0.0.1", port, token=TOKEN, timeout=90) as admin:
        why = diagnostics(home, daemon, standin)
        try:
            admin.initialize()
            tool(admin, "swarm_init", topology="star", cognitivePattern="convergent")
            tool(admin, "agent_spawn", type="coder", cognitivePattern="convergent")
            task = tool(admin, "task_orchestrate", task="Wait for the model",
                        subtasks=[{"id": "hang", "description": "Ask the model"}])["task"]
            worker = start_worker(claude_sandbox, standin, home, f"http://127.0.0.1:{port}/mcp", token_file)
            assert standin.arrived.wait(60), why()
            [started] = [e for e in worker_events(home) if e["event"] == "claude_started"]
            signalled = time.monotonic()
            code = stop(worker, signal.SIGINT)
            took = time.monotonic() - signalled
            [subtask] = tool(admin, "task_status", taskId=task["task_id"])["task"]["subtasks"]
        finally:
            standin.release.set()

    assert code == 0 and took < 10, why()
    wait_until(lambda: not live_members(started["pid"]), timeout=2, what=lambda: "the worker's Claude group to go")
    assert "stopped (SIGINT) before the subtask finished; it can run again elsewhere" in subtask["reason"], subtask
    assert subtask["state"] in ("assigned", "running") and subtask["attempts"] == 1, "given back, to be retried"
    [stopped] = [e for e in worker_events(home) if e["event"] == "worker_stopped"]
    assert stopped["given_back"] == 1 and stopped.get("completed", 0) == 0
    claude_sandbox.assert_stayed_offline()
