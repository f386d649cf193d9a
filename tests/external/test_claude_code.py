"""The real Claude Code 2.1.197 binary, sandboxed and offline, connects to our server, calls our
tools, runs our prompts as slash commands and reads our resources.

Every run gets a throwaway HOME and project folder, no credentials, and a tripwire proxy for any
connection to the outside; each test ends by asserting that Claude Code never tried one.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from external_clients import ClaudeSandbox, mcp_list_status, tail, wait_until
from messages_standin import MessagesStandIn, running_standin
from support import REPO_ROOT, SERVE, log_events, server_output, spawn_stdio, tcp_server

from swarm_mcp.client import LineClient

pytestmark = pytest.mark.slow

CONNECTED, FAILED = "✔ Connected", "✘ Failed to connect"
SWARM_MCP = [sys.executable, "-m", "swarm_mcp"]


def events(log: Path) -> list[dict[str, Any]]:
    return log_events(log.read_bytes()) if log.exists() else []


def logged(log: Path, event: str) -> list[dict[str, Any]]:
    return [e for e in events(log) if e["event"] == event]


def tool_calls(logged_events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["tool"], e["transport"], e["outcome"]) for e in logged_events if e["event"] == "tool_call"]


def diagnostics(
    sandbox: ClaudeSandbox, log: Path | None = None, standin: MessagesStandIn | None = None
) -> Callable[[], str]:
    def describe() -> str:
        parts = [sandbox.transcript()]
        if standin is not None:
            parts.append(standin.transcript())
        if log is not None:
            parts.append(f"server log {log}:\n" + (tail(log.read_bytes()) if log.exists() else "(none)"))
        return "\n".join(parts)

    return describe


def wait_for_clean_stop(log: Path, why: Callable[[], str]) -> None:
    """Claude Code stops a stdio server with SIGINT then SIGTERM; ours must log a finished stop."""
    wait_until(lambda: bool(logged(log, "daemon_stopped")), timeout=15, what=lambda: "for daemon_stopped\n" + why())


# -- claude mcp add / list -------------------------------------------------------------------


def test_claude_mcp_list_connects_to_our_stdio_server_added_with_claude_mcp_add(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    data, log = tmp_path / "data", tmp_path / "server.log"
    why = diagnostics(claude_sandbox, log)

    added = claude_sandbox.claude("mcp", "add", "swarm", "-e", f"PYTHONPATH={REPO_ROOT}", "--",
                                  *SERVE, "--data-dir", str(data), "--log-file", str(log))
    listed = claude_sandbox.claude("mcp", "list")

    assert added.returncode == 0, why()
    projects = json.loads((claude_sandbox.home / ".claude.json").read_text())["projects"].values()
    assert [p["mcpServers"]["swarm"] for p in projects if "swarm" in p.get("mcpServers", {})] == [{
        "type": "stdio", "command": SERVE[0], "args": [*SERVE[1:], "--data-dir", str(data), "--log-file", str(log)],
        "env": {"PYTHONPATH": str(REPO_ROOT)},
    }], "the server is configured in the sandbox's HOME, and nowhere else"
    assert mcp_list_status(listed.stdout, "swarm") == CONNECTED, why()
    wait_for_clean_stop(log, why)
    started = logged(log, "daemon_started")
    assert len(started) == 1 and started[0]["data_dir"] == str(data), why()
    assert [e["reason"] for e in logged(log, "daemon_stopping")] == ["SIGINT"]
    claude_sandbox.assert_stayed_offline()


def test_two_claude_mcp_list_health_checks_at_once_on_one_data_dir_are_both_connected(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    """Issue 10: each Claude Code session spawns its own `swarm-mcp serve`; on one data dir the
    second used to exit with code 3 (shown as failed). Now it attaches to the first."""
    data, log = tmp_path / "data", tmp_path / "server.log"
    other = ClaudeSandbox(claude_sandbox.clients, home=tmp_path / "home2", cwd=tmp_path / "project2",
                          tripwire=claude_sandbox.tripwire)
    other.home.mkdir()
    other.cwd.mkdir()
    sandboxes = (claude_sandbox, other)
    why = diagnostics(claude_sandbox, log)
    for sandbox in sandboxes:
        added = sandbox.claude("mcp", "add", "swarm", "-e", f"PYTHONPATH={REPO_ROOT}", "-e", "SWARM_MCP_DAEMON_IDLE_TIMEOUT=1",
                               "--", *SERVE, "--data-dir", str(data), "--log-file", str(log))
        assert added.returncode == 0, why()

    outputs: dict[int, str] = {}
    checks = [threading.Thread(target=lambda i=i, s=s: outputs.__setitem__(i, s.claude("mcp", "list").stdout))
              for i, s in enumerate(sandboxes)]
    for check in checks:
        check.start()
    for check in checks:
        check.join()
    assert [mcp_list_status(outputs[i], "swarm") for i in (0, 1)] == [CONNECTED, CONNECTED], why() + "\n" + other.transcript()

    # and, for certain, a check while another session owns the data dir: it attaches
    with spawn_stdio(tmp_path / "owner", "--data-dir", str(data)) as owner:
        owner.initialize()
        held = other.claude("mcp", "list")
        assert mcp_list_status(held.stdout, "swarm") == CONNECTED, other.transcript()
    attached = [e for e in events(log) if e["event"] == "session_attached" and e.get("logger") == "swarm_mcp.attach"]
    assert attached, why()
    wait_until(lambda: not (data / "swarm-mcp.sock").exists(), timeout=30, what=lambda: "every owner to stop\n" + why())
    for sandbox in sandboxes:
        sandbox.assert_stayed_offline()


def test_claude_mcp_list_connects_to_our_daemon_over_http_and_reports_it_failed_once_it_is_gone(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    why = diagnostics(claude_sandbox)

    with tcp_server(tmp_path) as (port, _process):
        url = f"http://127.0.0.1:{port}/mcp"
        added = claude_sandbox.claude("mcp", "add", "--transport", "http", "swarm-http", url)
        while_up = claude_sandbox.claude("mcp", "list")
    once_gone = claude_sandbox.claude("mcp", "list")

    assert added.returncode == 0, why()
    assert f"swarm-http: {url} (HTTP) - " in while_up.stdout, why()
    daemon_stderr = tail(server_output(tmp_path)[1])
    assert mcp_list_status(while_up.stdout, "swarm-http") == CONNECTED, f"{why()}\ndaemon stderr:\n{daemon_stderr}"
    assert mcp_list_status(once_gone.stdout, "swarm-http") == FAILED, why()
    claude_sandbox.assert_stayed_offline()


# -- swarm-mcp claude -p against the stand-in Messages API -----------------------------------


def print_mode_env(sandbox: ClaudeSandbox, standin: MessagesStandIn) -> dict[str, str]:
    """What a user running `swarm-mcp claude -p` needs, pointed at the stand-in (and this checkout)."""
    return sandbox.env(
        CLAUDE_BIN=str(sandbox.clients.claude),
        ANTHROPIC_BASE_URL=standin.base_url,
        ANTHROPIC_API_KEY="test-key",
        PYTHONPATH=str(REPO_ROOT),
    )


def tool_result_payload(block: dict[str, Any]) -> Any:
    """The JSON our tool returned, as Claude Code relayed it in a `tool_result` block."""
    content = block["content"]
    text = content if isinstance(content, str) else "".join(part["text"] for part in content if part["type"] == "text")
    return json.loads(text)


def test_swarm_mcp_claude_print_makes_the_real_binary_call_our_tool_and_the_call_arrives_in_the_server(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    data, log = tmp_path / "data", tmp_path / "server.log"
    marker = f"stored-by-claude-code-{uuid.uuid4()}"
    tool_input = {"action": "store", "key": "external-e2e", "value": marker, "tags": ["claude-code"], "durable": True}
    standin = MessagesStandIn("mcp__swarm__memory_usage", tool_input, final_text=f"Stored {marker}.")

    with running_standin(standin):
        why = diagnostics(claude_sandbox, log, standin)
        done = claude_sandbox.run(
            [*SWARM_MCP, "claude", "--data-dir", str(data), "--log-file", str(log),
             "-p", "Remember the marker in swarm memory.", "--allowedTools", "mcp__swarm__memory_usage"],
            env=print_mode_env(claude_sandbox, standin), timeout=120, diagnostics=why,
        )
        assert done.returncode == 0, why()
        assert done.stdout.strip() == f"Stored {marker}.", why()
        assert {"mcp__swarm__memory_usage", "mcp__swarm__features_detect"} <= standin.offered_tools(), why()
        results = standin.tool_results()
        assert len(results) == 1 and not results[0].get("is_error"), why()
        returned = tool_result_payload(results[0])
        assert returned["action"] == "store" and returned["entry"]["value"] == marker, why()
        assert {r.headers.get("x-api-key") for r in standin.requests if r.method == "POST"} == {"test-key"}, why()

    wait_for_clean_stop(log, why)
    assert tool_calls(events(log)) == [("memory_usage", "stdio", "ok")], why()
    config = json.loads((data / "claude-mcp.json").read_text())
    assert config["mcpServers"]["swarm"]["command"] == sys.executable
    with closing(sqlite3.connect(data / "swarm.db")) as db:
        rows = db.execute("SELECT value, tags, version FROM entries WHERE namespace = ? AND key = ?",
                          ("default", "external-e2e")).fetchall()
    assert [(json.loads(v), json.loads(tags), version) for v, tags, version in rows] == [(marker, ["claude-code"], 1)]
    claude_sandbox.assert_stayed_offline()


def test_swarm_mcp_claude_attach_makes_the_real_binary_call_a_running_daemon_over_http(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    daemon_home, launcher_home = tmp_path / "daemon", tmp_path / "launcher"
    daemon_home.mkdir()
    standin = MessagesStandIn("mcp__swarm-http__features_detect", {"category": "storage"}, final_text="Looked.")

    with tcp_server(daemon_home) as (port, _process), running_standin(standin):
        why = diagnostics(claude_sandbox, standin=standin)
        done = claude_sandbox.run(
            [*SWARM_MCP, "claude", "--data-dir", str(launcher_home), "--attach", f"http://127.0.0.1:{port}/mcp",
             "-p", "Where does the swarm keep its data?", "--allowedTools", "mcp__swarm-http__features_detect"],
            env=print_mode_env(claude_sandbox, standin), timeout=120, diagnostics=why,
        )
        assert done.returncode == 0 and done.stdout.strip() == "Looked.", why()
        assert "mcp__swarm-http__features_detect" in standin.offered_tools(), why()
        results = standin.tool_results()
        assert len(results) == 1 and not results[0].get("is_error"), why()
        assert tool_result_payload(results[0])["storage"]["data_dir"] == str(daemon_home), why()
    # the daemon has exited, so its log is complete
    assert tool_calls(log_events(server_output(daemon_home)[1])) == [("features_detect", "http", "ok")], why()
    claude_sandbox.assert_stayed_offline()


def user_texts(standin: MessagesStandIn) -> list[str]:
    """Every text a user turn carried in any Messages request Claude Code sent."""
    texts: list[str] = []
    for request in list(standin.requests):
        for message in request.body.get("messages", []) if isinstance(request.body, dict) else []:
            if message.get("role") != "user":
                continue
            content = message["content"]
            parts = [content] if isinstance(content, str) else [p.get("text", "") for p in content if p.get("type") == "text"]
            texts += [part for part in parts if part]
    return texts


def test_claude_code_runs_our_review_prompt_as_a_slash_command_and_reads_a_resource(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    """`/mcp__<server>__review <taskId>` resolves only through prompts/list and renders through
    prompts/get; the scripted model then reads `swarm://swarms/<id>` with Claude Code's
    ReadMcpResourceTool, and the resource's JSON comes back as the tool result."""
    daemon_home, launcher_home = tmp_path / "daemon", tmp_path / "launcher"
    daemon_home.mkdir()
    with tcp_server(daemon_home) as (port, _process):
        with LineClient.connect("127.0.0.1", port) as line:
            line.initialize()
            swarm = line.call_tool("swarm_init", {"topology": "star", "maxAgents": 2, "name": "seen-by-claude"})
            swarm_id = swarm["structuredContent"]["swarm"]["swarm_id"]
            line.call_tool("agent_spawn", {"swarmId": swarm_id, "type": "coder"})
            task = line.call_tool("task_orchestrate", {"task": "Write the parser", "swarmId": swarm_id, "subtasks": [
                {"id": "write", "description": "Write the parser", "type": "code"}]})["structuredContent"]["task"]["task_id"]
            claim = line.call_tool("task_claim", {"swarmId": swarm_id})["structuredContent"]
            line.call_tool("task_complete", {"taskId": claim["subtask_id"], "result": {"file": "parser-7f3a.py"}})
        uri = f"swarm://swarms/{swarm_id}"
        standin = MessagesStandIn("ReadMcpResourceTool", {"server": "swarm-http", "uri": uri}, final_text="Reviewed.")
        with running_standin(standin):
            why = diagnostics(claude_sandbox, standin=standin)
            done = claude_sandbox.run(
                [*SWARM_MCP, "claude", "--data-dir", str(launcher_home), "--attach", f"http://127.0.0.1:{port}/mcp",
                 "-p", f"/mcp__swarm-http__review {task}", "--allowedTools", "ReadMcpResourceTool"],
                env=print_mode_env(claude_sandbox, standin), timeout=120, diagnostics=why,
            )
            assert done.returncode == 0 and done.stdout.strip() == "Reviewed.", why()
            review = [text for text in user_texts(standin) if "parser-7f3a.py" in text]
            assert review and task in review[0], f"the review prompt's text never reached the model\n{why()}"
            results = standin.tool_results()
            assert len(results) == 1 and not results[0].get("is_error"), why()
            read = tool_result_payload(results[0])
            assert read["contents"][0]["uri"] == uri, why()
            assert json.loads(read["contents"][0]["text"])["name"] == "seen-by-claude", why()
    claude_sandbox.assert_stayed_offline()


def test_swarm_mcp_claude_keeps_the_data_dir_private_when_the_log_file_is_inside_it(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    """Server bug (found here): `configure_logging` creates the log file's parent first, with the
    default mode (0755 under umask 022), so the data dir's own `mkdir(mode=0o700)` finds it already
    there; the daemon then warns `data_dir_permissions` about a directory it created itself."""
    data = tmp_path / "data"

    done = claude_sandbox.run(
        [*SWARM_MCP, "claude", "--data-dir", str(data), "--log-file", str(data / "server.log"), "--version"],
        env=claude_sandbox.env(CLAUDE_BIN=str(claude_sandbox.clients.claude), PYTHONPATH=str(REPO_ROOT)),
    )

    assert done.returncode == 0 and done.stdout.startswith("2.1.197"), claude_sandbox.transcript()
    assert (data / "claude-mcp.json").exists()
    assert oct(data.stat().st_mode & 0o777) == oct(0o700)
