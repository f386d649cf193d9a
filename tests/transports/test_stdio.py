"""stdio against a real `swarm-mcp serve` subprocess: both eras, stdout purity, and every way it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from mcp import Client, StdioServerParameters
from support import REPO_ROOT, log_events, modern_request, server_env, server_output, spawn_stdio

from swarm_mcp.client import LineClient, initialize_params


def test_a_stdio_session_lists_and_calls_tools(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        init = client.initialize()
        assert init["serverInfo"]["name"] == "swarm-mcp"
        assert init["capabilities"] == {"tools": {"listChanged": False}, "resources": {"subscribe": True, "listChanged": True},
                                        "prompts": {"listChanged": False}, "completions": {}, "logging": {}}
        names = [t["name"] for t in client.request("tools/list")["tools"]]
        assert "features_detect" in names
        result = client.call_tool("features_detect", {"category": "storage"})
        assert result["isError"] is False
        assert result["structuredContent"]["storage"]["data_dir"] == str(tmp_path)


def test_the_modern_era_is_served_on_stdio(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.send(modern_request(1, "server/discover"))
        discover = client.receive()["result"]
        assert discover["supportedVersions"] == ["2026-07-28"] and discover["resultType"] == "complete"
        client.send(modern_request(2, "tools/call", {"name": "features_detect", "arguments": {"category": "cpu"}}))
        result = client.receive()["result"]
        assert result["resultType"] == "complete" and result["structuredContent"]["cpu"]["logical_cores"] == os.cpu_count()
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "swarm-mcp"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_sdks_own_stdio_client_connects_in_both_eras(tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "swarm_mcp", "serve"], env=server_env(tmp_path), cwd=str(REPO_ROOT)
    )
    async with Client(params, mode=mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        tools = await client.list_tools()
        assert {"features_detect", "memory_usage"} <= {t.name for t in tools.tools}
        result = await client.call_tool("features_detect", {"category": "transports"})
        assert not result.is_error
        assert result.structured_content["transports"]["serving"]["stdio"]["open_connections"] == 1


# A real, successful call of every tool; a tool missing here fails the purity test below.
EVERY_TOOL: list[tuple[str, dict[str, object]]] = [
    ("features_detect", {"category": "all"}),
    ("memory_usage", {"action": "store", "key": "k", "value": {"v": 1}}),
    ("memory_usage", {"action": "search", "query": "k"}),
    ("neural_create", {"layers": [2, 2, 1], "network_id": "purity", "hidden_activation": "tanh", "output_activation": "tanh"}),
    ("neural_train", {"network_id": "purity", "inputs": [[0, 1], [1, 0]], "outputs": [[1], [-1]], "max_epochs": 20}),
    ("neural_run", {"network_id": "purity", "inputs": [[0, 1]]}),
    ("neural_test", {"network_id": "purity", "inputs": [[0, 1]], "outputs": [[1]]}),
    ("neural_save", {"network_id": "purity", "path": "purity.net"}),
    ("neural_load", {"path": "purity.net"}),
    ("neural_list", {}),
    ("neural_status", {}),
    ("swarm_init", {"topology": "star", "maxAgents": 4, "name": "purity"}),
    ("agent_spawn", {"type": "coder", "swarmId": "$swarm"}),
    ("agent_list", {}),
    ("task_orchestrate", {"task": "fix the login bug", "swarmId": "$swarm"}),
    ("task_claim", {}),
    ("task_heartbeat", {"taskId": "$subtask"}),
    ("task_complete", {"taskId": "$subtask", "result": "fixed"}),
    ("task_status", {"taskId": "$task", "detailed": True}),
    ("task_results", {"taskId": "$task"}),
    ("task_orchestrate", {"task": "Implement a, implement b", "strategy": "parallel", "swarmId": "$swarm"}),
    ("task_claim", {}),
    ("task_fail", {"taskId": "$subtask", "reason": "cannot", "retry": False}),
    ("task_cancel", {"taskId": "$task"}),
    ("swarm_status", {"verbose": True}),
    ("swarm_monitor", {"duration": 0.2, "interval": 0.1}),
    ("agent_metrics", {}),
    ("neural_patterns", {}),
    ("agent_stop", {"agentId": "$agent"}),
    ("neural_train", {"agentId": "all", "iterations": 2}),
    ("benchmark_run", {"type": "task", "iterations": 2}),
    ("swarm_destroy", {"swarmId": "$swarm"}),
    ("daa_init", {"enableLearning": True, "enableCoordination": True, "persistenceMode": "disk"}),
    ("daa_agent_create", {"id": "purity-daa", "capabilities": ["code"], "learningRate": 0.1}),
    ("daa_agent_create", {"id": "purity-peer", "cognitivePattern": "divergent"}),
    ("daa_agent_adapt", {"agentId": "purity-daa", "feedback": "Implemented the parser module", "performanceScore": 0.9}),
    ("daa_agent_adapt", {"agentId": "purity-daa", "feedback": "Ran the regression tests for the parser", "performanceScore": 0.8}),
    ("daa_agent_adapt", {"agentId": "purity-daa", "feedback": "Wrote unit tests for the exporter", "performanceScore": 0.2}),
    ("daa_knowledge_share", {"sourceAgentId": "purity-daa", "targetAgentIds": ["purity-peer"],
                             "knowledgeDomain": "parsing", "knowledgeContent": {"tip": "tokenize first"}}),
    ("daa_learning_status", {"detailed": True}),
    ("daa_cognitive_pattern", {"agentId": "purity-daa", "action": "analyze"}),
    ("daa_meta_learning", {"sourceDomain": "code", "targetDomain": "testing", "agentIds": ["purity-daa"]}),
    ("daa_workflow_create", {"id": "purity-wf", "name": "Purity", "steps": ["plan", "build"],
                             "dependencies": {"build": ["plan"]}}),
    ("daa_workflow_execute", {"workflowId": "purity-wf", "agentIds": ["purity-daa"], "timeout": 0.2}),
    ("daa_performance_metrics", {"category": "all", "timeRange": "1h"}),
]


def _resolve(arguments: dict[str, object], seen: dict[str, str]) -> dict[str, object]:
    """Arguments with `$swarm`, `$agent`, `$task` and `$subtask` taken from earlier results."""
    return {k: seen[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in arguments.items()}


def _remember(result: dict[str, object], seen: dict[str, str]) -> None:
    data = result.get("structuredContent") or {}
    assert isinstance(data, dict)
    for key, field in (("swarm", "swarm_id"), ("agent", "agent_id"), ("task", "task_id")):
        value = data.get(key)
        if isinstance(value, dict) and field in value:
            seen[key] = value[field]
    if data.get("claimed"):
        seen["subtask"] = str(data["subtask_id"])


def test_stdout_carries_only_protocol_messages_in_a_session_that_calls_every_tool(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        served = {t["name"] for t in client.request("tools/list")["tools"]}
        assert served == {name for name, _ in EVERY_TOOL}, "add new tools to EVERY_TOOL"
        seen: dict[str, str] = {}
        for name, arguments in EVERY_TOOL:
            result = client.call_tool(name, _resolve(arguments, seen))
            assert not result["isError"], (name, result["content"][0]["text"])
            _remember(result, seen)
        client.send(b"not json")
        client.writer.close()
        rest = client.reader.read()
        # every line was JSON (receive() parses each); now each must be JSON-RPC too: replies, or
        # notifications, which the client files under `notifications` when no request matches
        for message in [*client.notifications, *(orjson.loads(line) for line in rest.splitlines())]:
            assert message.get("jsonrpc") == "2.0" and ("id" in message or "method" in message), message
    assert any(e.get("event") == "jax_loaded" for e in log_events(server_output(tmp_path)[1])), "logs go to stderr"


def test_starting_and_listing_tools_does_not_import_jax(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        client.request("tools/list")
        client.call_tool("features_detect", {"category": "neural"})
        assert client.process is not None
        maps = Path(f"/proc/{client.process.pid}/maps").read_text()
        assert "jaxlib" not in maps and "xla_extension" not in maps


def test_numpy_is_loaded_only_by_the_first_call_that_needs_it(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        client.request("tools/list")
        for name, arguments in (("memory_usage", {}), ("features_detect", {"category": "all"}), ("neural_list", {})):
            assert not client.call_tool(name, arguments)["isError"]
        assert client.process is not None
        assert "_multiarray_umath" not in Path(f"/proc/{client.process.pid}/maps").read_text()
        client.call_tool("neural_create", {"layers": [2, 2, 1]})
        assert "_multiarray_umath" in Path(f"/proc/{client.process.pid}/maps").read_text()


def test_eof_on_stdin_answers_requests_already_received_and_exits_zero(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()})
        client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        for i in range(2, 12):
            client.send(
                {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                 "params": {"name": "features_detect", "arguments": {"category": "cpu"}}}
            )
        client.writer.close()
        replies = [orjson.loads(line) for line in client.reader.read().splitlines()]
        assert sorted(r["id"] for r in replies) == list(range(1, 12))
        assert client.process is not None
        assert client.process.wait(timeout=5) == 0


def _started(tmp_path: Path) -> LineClient:
    client = spawn_stdio(tmp_path)
    client.initialize()
    client.request("tools/list")
    return client


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGTERM]])
def test_signals_stop_the_server_within_a_second_with_exit_code_zero_while_stdin_stays_open(
    tmp_path: Path, signals: list[signal.Signals]
) -> None:
    with _started(tmp_path) as client:
        assert client.process is not None
        started = time.monotonic()
        for number, signum in enumerate(signals):
            if number:
                time.sleep(0.1)  # Claude Code: SIGINT, then SIGTERM ~100 ms later, stdin left open
            client.process.send_signal(signum)
        code = client.process.wait(timeout=10)
        elapsed = time.monotonic() - started
        assert code == 0
        assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"
    events = [e["event"] for e in log_events(server_output(tmp_path)[1])]
    assert "daemon_stopping" in events and "daemon_stopped" in events


def test_a_second_server_on_the_same_data_dir_attaches_to_its_owner_instead_of_exiting(tmp_path: Path) -> None:
    with _started(tmp_path) as owner:
        assert owner.process is not None
        second = subprocess.run(
            [sys.executable, "-m", "swarm_mcp", "serve"],
            env=server_env(tmp_path),
            input=b"",
            capture_output=True,
            timeout=30,
            cwd=str(REPO_ROOT),
        )
        assert second.returncode == 0 and second.stdout == b""
        attached = [e for e in log_events(second.stderr) if e["event"] == "session_attached"]
        assert [e["owner_pid"] for e in attached] == [owner.process.pid]  # (`attach = false`: exit 3, tests/test_attach.py)


def test_stdin_from_dev_null_is_an_immediate_eof_and_a_clean_exit(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "swarm_mcp", "serve"], env=server_env(tmp_path), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=30, cwd=str(REPO_ROOT))
    assert done.returncode == 0 and done.stdout == b""


def test_a_signal_while_a_request_is_in_flight_answers_it_and_exits_zero(tmp_path: Path) -> None:
    with _started(tmp_path) as client:
        created = client.call_tool("neural_create", {"layers": [2, 8, 1], "networkId": "long"})
        assert not created["isError"]
        client.send({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "neural_train", "arguments": {
            "networkId": "long", "inputs": [[0, 1], [0, 1]], "outputs": [[1], [0]], "maxEpochs": 10_000_000,
            "desiredError": 0}}})  # contradictory rows: it never reaches the desired error
        time.sleep(1.0)  # training is running
        assert client.process is not None
        client.process.send_signal(signal.SIGTERM)
        reply = client.receive_reply()
        assert client.process.wait(timeout=10) == 0
    assert reply["id"] == 99, reply
    assert reply.get("error", {}).get("code") == -32000 or reply["result"]["structuredContent"]["stopped_by"] == "cancelled", reply
