"""The MCP Inspector CLI 0.15.0 reads what the daemon offers besides tools: resources (listed,
templated, read, not found) and prompts, over Streamable HTTP and stdio."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from external_clients import Inspector, tail
from support import SERVE, server_env, server_output, tcp_server

from swarm_mcp.client import LineClient

pytestmark = pytest.mark.slow


class Work:
    """What the daemon holds: a swarm of two agents, a finished two-step task, a memory entry."""

    def __init__(self, port: int) -> None:
        with LineClient.connect("127.0.0.1", port) as line:
            line.initialize()

            def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
                result = line.call_tool(name, arguments)
                assert not result.get("isError"), result
                return result["structuredContent"]

            self.swarm = call("swarm_init", {"topology": "ring", "maxAgents": 4, "name": "inspected"})["swarm"]["swarm_id"]
            self.agents = [call("agent_spawn", {"swarmId": self.swarm, "type": kind})["agent"]["agent_id"]
                           for kind in ("coder", "tester")]
            self.task = call("task_orchestrate", {"task": "Write and test the parser", "swarmId": self.swarm, "subtasks": [
                {"id": "write", "description": "Write the parser", "type": "code"},
                {"id": "test", "description": "Test the parser", "type": "testing", "dependsOn": ["write"]}]})["task"]["task_id"]
            for result in ({"file": "parser.py"}, {"passed": 12}):
                claim = call("task_claim", {"swarmId": self.swarm})
                call("task_complete", {"taskId": claim["subtask_id"], "result": result, "quality": 0.8})
            call("memory_usage", {"action": "store", "namespace": "notes", "key": "plan", "value": {"steps": 2}})


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Work, Callable[[], str]]]:
    home = tmp_path_factory.mktemp("inspector-surface")
    with tcp_server(home) as (port, _):
        yield f"http://127.0.0.1:{port}/mcp", Work(port), lambda: "daemon stderr:\n" + tail(server_output(home)[1])


def contents(result: dict[str, Any]) -> dict[str, Any]:
    return {c["mimeType"]: c["text"] for c in result["contents"]}


def test_the_inspector_lists_the_daemons_swarms_tasks_agents_and_memory_as_resources(inspector: Inspector, daemon) -> None:
    url, work, log = daemon
    listed = inspector.call(url, method="resources/list", diagnostics=log)
    templates = inspector.call(url, method="resources/templates/list", diagnostics=log)

    uris = {r["uri"] for r in listed["resources"]}
    assert {f"swarm://swarms/{work.swarm}", f"swarm://tasks/{work.task}", "memory://notes"} <= uris
    assert {f"swarm://agents/{a}" for a in work.agents} <= uris
    assert {t["uriTemplate"] for t in templates["resourceTemplates"]} >= {
        "swarm://swarms/{swarmId}", "swarm://tasks/{taskId}", "swarm://agents/{agentId}", "memory://{namespace}/{key}",
        "neural://networks/{networkId}"}


def test_the_inspector_reads_a_finished_task_and_a_memory_entry(inspector: Inspector, daemon) -> None:
    url, work, log = daemon
    task = json.loads(contents(inspector.call(url, method="resources/read", uri=f"swarm://tasks/{work.task}",
                                              diagnostics=log))["application/json"])
    entry = json.loads(contents(inspector.call(url, method="resources/read", uri="memory://notes/plan",
                                               diagnostics=log))["application/json"])

    assert task["state"] == "completed"
    assert [(s["subtask_id"], s["state"]) for s in task["subtasks"]] == [
        (f"{work.task}.write", "completed"), (f"{work.task}.test", "completed")]
    assert entry["value"] == {"steps": 2}


def test_a_resource_that_does_not_exist_is_the_inspectors_error_not_a_result(inspector: Inspector, daemon) -> None:
    url, _, _ = daemon
    with pytest.raises(AssertionError) as failed:  # what the Inspector printed, without the daemon's log
        inspector.call(url, method="resources/read", uri="swarm://tasks/task-nope")
    assert "Inspector gave no JSON result (exit code 1)" in str(failed.value)
    assert "-32002" in str(failed.value) and "task-nope" in str(failed.value)


def test_the_inspector_gets_the_review_prompt_with_the_tasks_results(inspector: Inspector, daemon) -> None:
    url, work, log = daemon
    prompt = inspector.call(url, method="prompts/get", prompt="review", prompt_arguments={"taskId": work.task},
                            diagnostics=log)

    text = "\n".join(m["content"]["text"] for m in prompt["messages"])
    assert prompt["messages"][0]["role"] == "user"
    assert work.task in text and "parser.py" in text and '"passed":12' in text.replace(" ", "")


def test_the_inspector_lists_and_gets_the_prompts_over_stdio(inspector: Inspector, tmp_path: Path) -> None:
    env = server_env(tmp_path, SWARM_MCP_LOG_FILE=str(tmp_path / "server.log"))
    listed = inspector.call(*SERVE, method="prompts/list", env=env)
    prompt = inspector.call(*SERVE, method="prompts/get", prompt="orchestrate", env=env,
                            prompt_arguments={"objective": "Port the CSV importer to Rust", "topology": "star"})

    assert [p["name"] for p in listed["prompts"]] == ["orchestrate", "work", "review"]
    text = prompt["messages"][0]["content"]["text"]
    assert "Port the CSV importer to Rust" in text and "task_orchestrate" in text and "star" in text
