"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real daemon
with agents at work. The page must show the swarms, their agents and a task's plan, and follow the
daemon live (a subtask completing, an agent spawned or busy) with no script or policy errors.

The screenshot is saved as a test artifact: `$SWARM_MCP_TEST_ARTIFACTS/dashboard.png`, by default
`test-artifacts/dashboard.png` in the checkout (docs/dashboard.png in the README is one of them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import REPO_ROOT, requirement_missing, tcp_server

from swarm_mcp.client import LineClient

pytestmark = pytest.mark.slow

TOKEN = "browser-test-token-0123456789abcdefghij"
SUITS = {"code": "coder", "testing": "tester", "research": "researcher", "review": "reviewer"}
PLAN = [
    {"id": "design", "description": "Design the importer", "type": "research"},
    {"id": "parse", "description": "Parse CSV rows", "type": "code", "dependsOn": ["design"]},
    {"id": "store", "description": "Store the rows", "type": "code", "dependsOn": ["design"]},
    {"id": "test", "description": "Test the importer", "type": "testing", "dependsOn": ["parse", "store"]},
    {"id": "review", "description": "Review the change", "type": "review", "dependsOn": ["test"]},
]


def chromium() -> str:
    """The browser: `$SWARM_MCP_TEST_CHROMIUM` (`none`: act as if absent), else `chromium` on PATH."""
    path = os.environ.get("SWARM_MCP_TEST_CHROMIUM") or shutil.which("chromium")
    if path is None or path == "none":
        requirement_missing("Debian's chromium is not installed (apt-get install chromium): the dashboard's browser test needs it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        requirement_missing("the Python package playwright is missing (pip install -e '.[test]')")
    return str(path)


def artifacts() -> Path:
    folder = Path(os.environ.get("SWARM_MCP_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Tools:
    def __init__(self, client: LineClient) -> None:
        self.client = client

    def __call__(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = self.client.call_tool(name, arguments)
        assert not result.get("isError"), result
        return result["structuredContent"]

    def work_off(self, swarm_id: str) -> None:
        """Claim and report every ready subtask; one succeeds when its agent's type suits it."""
        while (claim := self("task_claim", {"swarmId": swarm_id}))["claimed"]:
            suited = SUITS.get(claim["type"]) in (None, claim["agent"]["type"])
            self("task_complete", {"taskId": claim["subtask_id"], "result": {"suited": suited}, "success": suited,
                                   "quality": 0.9 if suited else 0.2})


@pytest.fixture
def tools(tmp_path: Path) -> Iterator[tuple[int, Tools]]:
    # Generous: the first neural routing and brain training calls compile with JAX, slow on a busy 2-core machine.
    with tcp_server(tmp_path, SWARM_MCP_TOKEN=TOKEN) as (port, _), \
            LineClient.connect("127.0.0.1", port, token=TOKEN, timeout=180) as line:
        line.initialize()
        yield port, Tools(line)


def test_the_page_shows_the_swarms_and_a_tasks_plan_and_follows_the_work_live(tools: tuple[int, Tools]) -> None:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    port, call = tools
    swarms: dict[str, tuple[str, list[str]]] = {}
    for name, topology, routing in [("routers", "hierarchical", "neural"), ("baseline", "mesh", "round_robin")]:
        swarm = call("swarm_init", {"topology": topology, "maxAgents": 8, "name": name, "routing": routing})["swarm"]["swarm_id"]
        agents = [call("agent_spawn", {"swarmId": swarm, "type": kind})["agent"]["agent_id"]
                  for kind in ("coordinator", "coder", "coder", "tester", "researcher", "reviewer")]
        swarms[name] = (swarm, agents)
        for round_ in range(3):  # 30 finished attempts: the success chart has a point per window of 20
            call("task_orchestrate", {"task": f"warm-up {round_}", "swarmId": swarm, "subtasks": [
                {"id": f"s{i}", "description": f"step {i}", "type": ("code", "testing", "research", "review")[i % 4]}
                for i in range(10)]})
            call.work_off(swarm)
    trained = call("neural_train", {"agentId": "all", "iterations": 10})  # every brain learns from its subtasks now
    assert trained["count"] >= 6, "the brains trained: the loss chart below has curves to draw"
    routers, agents = swarms["routers"]
    task = call("task_orchestrate", {"task": "Build the CSV importer", "swarmId": routers, "subtasks": PLAN})["task"]["task_id"]

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
            assert page.url == f"http://127.0.0.1:{port}/", "the sign-in drops the token from the address bar"
            page.wait_for_selector("#status[data-state=live]")

            for name, (swarm, members) in swarms.items():
                card = page.locator(f"article.swarm[data-swarm-id='{swarm}']")
                card.wait_for()
                assert name in card.locator("h3").inner_text()
                assert card.locator("circle.agent").count() == len(members)
            node = f"[data-task-id='{task}'] [data-subtask-id='{task}.%s']"
            page.wait_for_selector(node % "review")
            assert page.locator(f"[data-task-id='{task}'] g.node").count() == len(PLAN)
            assert page.locator(node % "design").get_attribute("data-state") == "assigned"
            page.wait_for_selector("#chart-success canvas")  # the vendored chart library loaded and drew
            page.wait_for_selector("#chart-loss canvas")  # the brains' loss by experiences

            claim = call("task_claim", {"swarmId": routers})
            assert claim["subtask_id"] == f"{task}.design"
            page.wait_for_selector(f"[data-agent-id='{claim['agent']['agent_id']}'][data-state=busy]")
            page.wait_for_selector(node % "design" + "[data-state=running]")
            call("task_complete", {"taskId": claim["subtask_id"], "result": {"design": "two stages"}, "quality": 0.9})
            page.wait_for_selector(node % "design" + "[data-state=completed]")
            page.wait_for_function(f"document.querySelector(\"[data-task-id='{task}'] .meta\").textContent.includes('1/5')")
            page.wait_for_selector(f"#events li[data-kind=subtask_completed] >> text={task}.design")

            newcomer = call("agent_spawn", {"swarmId": routers, "type": "analyst"})["agent"]["agent_id"]
            page.wait_for_selector(f"[data-swarm-id='{routers}'] [data-agent-id='{newcomer}']")
            next_claim = call("task_claim", {"swarmId": routers})  # parse or store: the DAG fills in further
            page.wait_for_selector(f"[data-subtask-id='{next_claim['subtask_id']}'][data-state=running]")

            page.screenshot(path=str(artifacts() / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
