"""The swarm, agent and task tools through MCP (the SDK's in-memory client) on a real daemon App."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from support import FakeClock, call, error_text, mcp_client

from swarm_mcp.app import App


async def swarm_with(client: Any, topology: str, *types: str, **extra: Any) -> tuple[str, list[str]]:
    swarm = (await call(client, "swarm_init", topology=topology, maxAgents=max(8, len(types)), **extra))["swarm"]
    ids = []
    for agent_type in types:
        ids.append((await call(client, "agent_spawn", type=agent_type, swarmId=swarm["swarm_id"]))["agent"]["agent_id"])
    return swarm["swarm_id"], ids


@asynccontextmanager
async def second_client(app: App):
    from mcp import Client

    from swarm_mcp.sdk_server import build_sdk_server
    from swarm_mcp.tools import build_registry

    async with Client(build_sdk_server(app, build_registry(app), transport="memory")) as client:
        yield client


async def test_swarm_status_counts_what_swarm_init_and_agent_spawn_created(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        empty = await call(client, "swarm_status")
        swarm_id, agents = await swarm_with(client, "mesh", "coder", "tester", "coder", strategy="balanced")
        status = await call(client, "swarm_status", swarmId=swarm_id, verbose=True)
    assert empty["totals"]["swarms"] == 0 and "swarm_init" in empty["totals"]["next"]
    [swarm] = status["swarms"]
    assert swarm["topology"] == "mesh" and swarm["strategy"] == "balanced"
    assert swarm["agents"] == {"total": 3, "by_state": {"idle": 3}, "by_type": {"coder": 2, "tester": 1}}
    assert len(swarm["topology_edges"]) == 3 + 3  # the Queen to each agent, and each pair of agents
    assert [a["agent_id"] for a in swarm["agent_list"]] == agents


async def test_max_agents_is_enforced_and_the_error_says_what_to_do(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        swarm = (await call(client, "swarm_init", topology="star", maxAgents=2))["swarm"]["swarm_id"]
        await call(client, "agent_spawn", type="coder")
        await call(client, "agent_spawn", type="coder", swarm_id=swarm)  # the snake_case alias works too
        text = await error_text(client, "agent_spawn", type="tester")
        too_big = await error_text(client, "swarm_init", topology="star", maxAgents=10**6)
    assert "maxAgents" in text and "agent_stop" in text
    assert "swarm_max_agents" in too_big


async def test_unknown_ids_and_values_get_errors_that_name_the_tool_listing_valid_ones(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        no_swarm = await error_text(client, "agent_spawn", type="coder")
        await call(client, "swarm_init", topology="ring")
        assert "swarm_status" in await error_text(client, "swarm_status", swarmId="swarm-nope")
        assert "agent_list" in await error_text(client, "agent_stop", agentId="agent-nope")
        assert "agent_list" in await error_text(client, "agent_metrics", agentId="agent-nope")
        assert "task_status" in await error_text(client, "task_status", taskId="task-nope")
        assert "task_claim" in await error_text(client, "task_complete", taskId="task-nope.s1", result=1)
        assert "agent_spawn" in await error_text(client, "task_orchestrate", task="write the docs")
        bad_type = await error_text(client, "agent_spawn", type="wizard")
    assert "swarm_init" in no_swarm
    assert "researcher" in bad_type and "architect" in bad_type


async def test_a_task_runs_to_completion_and_each_subtask_sees_its_dependencies_results(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await swarm_with(client, "star", "coder", "tester", "reviewer")
        task = (await call(client, "task_orchestrate", task="Implement a CSV parser with quoted fields",
                           strategy="sequential", priority="high"))["task"]
        assert task["state"] == "running" and task["analysis"]["task_type"] == "code"
        chain = [s["subtask_id"] for s in task["subtasks"]]
        assert all(s["state"] == ("assigned" if i == 0 else "pending") for i, s in enumerate(task["subtasks"]))
        seen_context = []
        for expected in chain:
            claim = await call(client, "task_claim")
            assert claim["claimed"] and claim["subtask_id"] == expected
            seen_context.append([c["result"] for c in claim["context"]])
            await call(client, "task_complete", taskId=expected, result=f"output of {expected}", quality=0.9,
                       leaseId=claim["lease"]["lease_id"])
        nothing = await call(client, "task_claim")
        status = await call(client, "task_status", taskId=task["task_id"])
        results = await call(client, "task_results", taskId=task["task_id"], format="detailed")
        listed = await call(client, "task_status")
    assert seen_context[0] == [] and seen_context[1] == [f"output of {chain[0]}"]
    assert nothing["claimed"] is False and "task_orchestrate" in nothing["reason"]
    assert status["task"]["state"] == "completed" and status["task"]["progress"]["finished"] == len(chain)
    assert [r["result"] for r in results["results"]] == [f"output of {s}" for s in chain]
    assert all(r["quality"] == 0.9 and r["seconds"] >= 0 for r in results["results"])
    assert listed["count"] == 1 and listed["tasks"][0]["state"] == "completed"


async def test_the_queen_routes_each_subtask_to_the_agent_whose_capabilities_fit(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        _, (coder, tester, documenter) = await swarm_with(client, "star", "coder", "tester", "documenter",
                                                          cognitivePattern="convergent")
        task = (await call(client, "task_orchestrate", task="plan", subtasks=[
            {"id": "impl", "description": "Implement the tokenizer"},
            {"id": "tests", "description": "Write regression tests", "type": "testing", "dependsOn": ["impl"]},
            {"id": "docs", "description": "Document the tokenizer", "type": "documentation", "dependsOn": ["impl"]},
        ]))["task"]
        first = await call(client, "task_claim")
        await call(client, "task_complete", taskId=first["subtask_id"], result="ok")
        status = await call(client, "task_status", taskId=task["task_id"], detailed=True)
    agents = {s["subtask_id"].split(".")[-1]: s["agent_id"] for s in status["task"]["subtasks"]}
    assert agents == {"impl": coder, "tests": tester, "docs": documenter}
    decision = status["task"]["subtasks"][1]["decision"]
    assert decision["decider"] == "queen" and decision["pattern"] == "convergent" and decision["candidate_count"] == 3


async def test_two_clients_claiming_at_once_never_get_the_same_subtask(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (first, app):
        await swarm_with(first, "mesh", *["coder"] * 8)
        plan = [{"id": f"s{i}", "description": f"Implement module {i}"} for i in range(60)]
        task = (await call(first, "task_orchestrate", task="many modules", subtasks=plan))["task"]
        claimed: dict[str, list[str]] = {"first": [], "second": []}

        async def work(name: str, client: Any) -> None:
            while True:
                claim = await call(client, "task_claim", wait=0.2)
                if not claim["claimed"]:
                    return
                claimed[name].append(claim["subtask_id"])
                await call(client, "task_complete", taskId=claim["subtask_id"], result=name)

        async with second_client(app) as second, anyio.create_task_group() as tg:
            tg.start_soon(work, "first", first)
            tg.start_soon(work, "second", second)
        status = await call(first, "task_status", taskId=task["task_id"])
    everything = claimed["first"] + claimed["second"]
    assert len(everything) == len(set(everything)) == 60
    assert claimed["first"] and claimed["second"]
    assert status["task"]["state"] == "completed"


async def test_an_expired_lease_returns_the_subtask_to_the_queue_and_counts_a_failure(tmp_path: Path) -> None:
    clock = FakeClock()
    async with mcp_client(tmp_path, clock=clock) as (client, app):
        _, (coder,) = await swarm_with(client, "star", "coder")
        await call(client, "task_orchestrate", task="fix the login bug")
        claim = await call(client, "task_claim", leaseSeconds=30)
        clock.advance(20)
        await call(client, "task_heartbeat", taskId=claim["subtask_id"], seconds=30)  # now due at +50
        clock.advance(25)
        app.swarm.tick()
        await anyio.sleep(0.05)
        still = await call(client, "task_status", taskId=claim["subtask_id"], detailed=True)
        clock.advance(10)
        app.swarm.tick()
        with anyio.fail_after(5):
            while (await call(client, "task_status", taskId=claim["subtask_id"]))["task"]["subtasks"][0]["state"] != "assigned":
                await anyio.sleep(0.01)
        late = await error_text(client, "task_complete", taskId=claim["subtask_id"], result="too late")
        metrics = (await call(client, "agent_metrics", agentId=coder, metric="tasks"))["agents"][0]
        again = await call(client, "task_claim")
    assert still["task"]["subtasks"][0]["state"] == "running"
    assert "task_claim" in late  # assigned again, not claimed
    assert metrics["tasks"]["failed"] == 1 and metrics["tasks"]["done"] == 0
    assert again["claimed"] and again["attempt"] == 2 and again["lease"]["lease_id"] != claim["lease"]["lease_id"]


async def test_a_failed_subtask_retries_on_another_agent_then_fails_for_good_and_cancels_dependents(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await swarm_with(client, "star", "coder", "coder", "coder")
        task = (await call(client, "task_orchestrate", task="two steps", subtasks=[
            {"id": "a", "description": "Implement the thing"},
            {"id": "b", "description": "Test the thing", "dependsOn": ["a"]},
        ]))["task"]
        agents = []
        for attempt in range(3):
            claim = await call(client, "task_claim")
            agents.append(claim["agent"]["agent_id"])
            report = await call(client, "task_fail", taskId=claim["subtask_id"], reason=f"compile error {attempt}")
        status = await call(client, "task_status", taskId=task["task_id"], detailed=True)
    assert len(set(agents)) == 3  # each retry went to an agent that had not failed it
    assert report["subtask"]["state"] == "failed" and "compile error 2" in report["subtask"]["reason"]
    a, b = status["task"]["subtasks"]
    assert a["failed_agents"] == agents and b["state"] == "cancelled" and "dependency" in b["reason"]
    assert status["task"]["state"] == "failed"


async def test_cancelling_a_task_revokes_its_leases(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await swarm_with(client, "star", "coder", "coder")
        task = (await call(client, "task_orchestrate", task="Implement a, implement b, implement c",
                           strategy="parallel"))["task"]
        claim = await call(client, "task_claim")
        cancelled = await call(client, "task_cancel", taskId=task["task_id"])
        late = await error_text(client, "task_complete", taskId=claim["subtask_id"], result="done")
        again = await error_text(client, "task_cancel", taskId=task["task_id"])
    assert cancelled["state"] == "cancelled" and cancelled["subtasks_cancelled"] == len(task["subtasks"])
    assert "already cancelled" in late and "already cancelled" in again


async def test_in_a_star_an_idle_agent_cannot_take_another_agents_work_but_in_a_mesh_it_can(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        outcomes = {}
        for topology in ("star", "mesh"):
            swarm_id, (coder, tester) = await swarm_with(client, topology, "coder", "tester",
                                                         cognitivePattern="convergent")
            await call(client, "task_orchestrate", task="Implement the importer", swarmId=swarm_id)
            outcomes[topology] = await call(client, "task_claim", agentId=tester)
    assert outcomes["star"]["claimed"] is False
    assert outcomes["mesh"]["claimed"] and outcomes["mesh"]["taken_from"] and outcomes["mesh"]["agent"]["type"] == "tester"


async def test_in_a_ring_each_step_of_a_chain_goes_to_the_next_agent_on_the_ring(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        _, ring = await swarm_with(client, "ring", "coder", "coder", "coder", "coder")
        plan = [{"id": f"s{i}", "description": f"Implement stage {i}", **({"dependsOn": [f"s{i-1}"]} if i else {})}
                for i in range(5)]
        await call(client, "task_orchestrate", task="pipeline", subtasks=plan)
        order = []
        for _ in range(5):
            claim = await call(client, "task_claim")
            order.append(claim["agent"]["agent_id"])
            await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")
    start = ring.index(order[0])
    assert order == [ring[(start + k) % 4] for k in range(5)]


async def test_in_a_hierarchy_a_task_stays_in_one_team_and_a_stopped_workers_work_stays_there(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        swarm_id, agents = await swarm_with(client, "hierarchical", "coordinator", "coordinator",
                                            "coder", "coder", "coder", "coder")
        listed = {a["agent_id"]: a for a in (await call(client, "agent_list"))["agents"]}
        task = (await call(client, "task_orchestrate", task="modules", subtasks=[
            {"id": f"m{i}", "description": f"Implement module {i}"} for i in range(4)]))["task"]
        team = {a for a, info in listed.items() if info["coordinator"] == task["coordinator"]}
        assert {s["agent_id"] for s in task["subtasks"]} <= team and len(team) == 2
        victim = task["subtasks"][0]["agent_id"]
        moved = await call(client, "agent_stop", agentId=victim)
        status = await call(client, "task_status", taskId=task["task_id"])
    assert moved["work_moved"] >= 1
    assert {s["agent_id"] for s in status["task"]["subtasks"]} == team - {victim}


async def test_a_critical_agents_work_is_reviewed_by_another_agent_before_its_dependents_run(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        swarm_id, _ = await swarm_with(client, "star", cognitivePattern="convergent")  # the Queen never explores
        coder = (await call(client, "agent_spawn", type="coder", cognitivePattern="critical"))["agent"]["agent_id"]
        reviewer = (await call(client, "agent_spawn", type="reviewer"))["agent"]["agent_id"]
        task = (await call(client, "task_orchestrate", task="x", subtasks=[
            {"id": "a", "description": "Implement the cache"},
            {"id": "b", "description": "Benchmark the cache", "type": "optimization", "dependsOn": ["a"]}]))["task"]
        claim = await call(client, "task_claim")
        await call(client, "task_complete", taskId=claim["subtask_id"], result="cache.py")
        review = await call(client, "task_claim")
        patterns = await call(client, "neural_patterns", pattern="critical")
    assert claim["agent"]["agent_id"] == coder
    assert review["subtask_id"].endswith(".a.review") and review["agent"]["agent_id"] == reviewer
    assert review["review_of"]["result"] == "cache.py"
    assert patterns["patterns"]["critical"]["measured"]["reviews_added"] == 1


async def test_swarm_init_with_an_objective_lets_the_queen_design_and_spawn_the_swarm(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        report = await call(client, "swarm_init", maxAgents=6,
                            objective="Parse the access logs, then aggregate errors per endpoint, then write a report")
    swarm = report["swarm"]
    assert swarm["topology"] == "ring" and swarm["design"]["reasons"]
    assert len(report["agents_spawned"]) == swarm["agents"]["total"] <= 6
    assert sum(a["count"] for a in swarm["design"]["agents"]) == swarm["agents"]["total"]


async def test_max_agents_on_a_task_limits_the_agents_it_uses(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await swarm_with(client, "mesh", *["coder"] * 6, strategy="balanced")
        task = (await call(client, "task_orchestrate", task="t", maxAgents=2,
                           subtasks=[{"id": f"s{i}", "description": f"Implement part {i}"} for i in range(6)]))["task"]
    assert len(task["allowed_agents"]) == 2 and {s["agent_id"] for s in task["subtasks"]} <= set(task["allowed_agents"])


async def test_swarm_monitor_samples_live_state_and_counts_the_events_that_happened(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await swarm_with(client, "star", "coder")
        await call(client, "task_orchestrate", task="Implement a, implement b", strategy="parallel")
        progress: list[float] = []

        async def finish_work() -> None:
            await anyio.sleep(0.15)
            while (claim := await call(client, "task_claim"))["claimed"]:
                await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")

        async with anyio.create_task_group() as tg:
            tg.start_soon(finish_work)

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append(value)

            result = await client.call_tool("swarm_monitor", {"duration": 0.5, "interval": 0.1},
                                            progress_callback=on_progress)
    report = result.structured_content
    assert report["events"]["subtask_completed"] >= 2 and report["events"]["subtask_claimed"] >= 2
    assert report["samples"][0]["completed_total"] == 0 and report["samples"][-1]["completed_total"] >= 2
    assert progress == [1, 2, 3, 4, 5]


async def test_agent_list_filters_by_state_and_pages_with_a_cursor(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        _, agents = await swarm_with(client, "mesh", *["coder"] * 5)
        await call(client, "agent_stop", agentId=agents[0])
        first = await call(client, "agent_list", filter="active", limit=3)
        rest = await call(client, "agent_list", filter="active", limit=3, cursor=first["next_cursor"])
        stopped = await call(client, "agent_list", filter="stopped")
    assert first["count"] == 4 and [a["agent_id"] for a in first["agents"] + rest["agents"]] == agents[1:]
    assert rest["next_cursor"] is None and [a["agent_id"] for a in stopped["agents"]] == [agents[0]]


async def test_agent_metrics_measure_durations_and_the_agents_memory_namespace(tmp_path: Path) -> None:
    clock = FakeClock()
    async with mcp_client(tmp_path, clock=clock) as (client, _):
        _, (coder,) = await swarm_with(client, "star", "coder")
        await call(client, "task_orchestrate", task="x", subtasks=[{"id": f"s{i}", "description": "Implement it"}
                                                                   for i in range(4)])
        for seconds in (1, 2, 3, 10):
            claim = await call(client, "task_claim")
            clock.advance(seconds)
            await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")
        await call(client, "memory_usage", action="store", namespace=f"agent:{coder}", key="notes", value="x" * 100)
        metrics = (await call(client, "agent_metrics", agentId=coder))["agents"][0]
    assert metrics["tasks"]["done"] == 4 and metrics["tasks"]["success_rate"] == 1.0
    assert metrics["performance"]["mean_seconds"] == 4.0 and metrics["performance"]["p95_seconds"] == pytest.approx(8.95)
    assert metrics["memory"]["entries"] == 1 and metrics["memory"]["bytes"] > 100
    assert metrics["learning"]["experiences"] == 4


async def test_swarm_destroy_cancels_its_tasks_and_forgets_it(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        swarm_id, agents = await swarm_with(client, "mesh", "coder", "coder")
        task = (await call(client, "task_orchestrate", task="Implement the exporter"))["task"]
        destroyed = await call(client, "swarm_destroy", swarmId=swarm_id)
        gone = await error_text(client, "task_status", taskId=task["task_id"])
        status = await call(client, "swarm_status")
        rows = await app.store.agents.list(swarm_id=swarm_id)
    assert destroyed == {"swarm_id": swarm_id, "agents_stopped": 2, "tasks_cancelled": 1}
    assert "task_status" in gone and status["totals"]["swarms"] == 0 and rows == []


async def test_a_plan_with_a_cycle_is_refused_naming_the_cycle(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await swarm_with(client, "star", "coder")
        text = await error_text(client, "task_orchestrate", task="t", subtasks=[
            {"id": "x", "description": "one", "dependsOn": ["y"]}, {"id": "y", "description": "two", "dependsOn": ["x"]}])
    assert "cycle: x -> y -> x" in text


async def test_neural_train_with_an_agent_id_trains_its_brain_and_neural_status_shows_it(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        swarm_id, (coder, fresh) = await swarm_with(client, "star", "coder", "tester", cognitivePattern="convergent",
                                                    strategy="specialized")
        await call(client, "task_orchestrate", task="x", subtasks=[{"id": f"s{i}", "description": f"Implement part {i}"}
                                                                   for i in range(3)])
        for _ in range(3):
            claim = await call(client, "task_claim", agentId=coder)
            await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")
        untrained = await error_text(client, "neural_train", agentId=fresh)
        mixed = await error_text(client, "neural_train", agentId=coder, networkId="net-1")
        trained = await call(client, "neural_train", agentId=coder, iterations=5)
        status = await call(client, "neural_status", agentId=coder)
        everyone = await call(client, "neural_train", agentId="all", iterations=2)
    mine = trained["agents"][coder]
    assert len(mine["mse"]) == 5 and mine["experiences"] == 3 and all(m >= 0 for m in mine["mse"])
    assert "no experiences yet" in untrained and "networkId" in mixed
    assert status["agent"]["experiences"] == 3 and status["agent"]["training_rounds"] >= 1
    [population] = [p for p in status["brains"]["populations"] if p["swarm_id"] == swarm_id]
    assert population["agents"] == 2 and population["capacity"] >= 2
    assert set(everyone["agents"]) == {coder}  # only agents with experiences train


async def test_benchmark_run_times_real_operations_on_scratch_state_and_leaves_no_trace(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        report = await call(client, "benchmark_run", type="all", iterations=3)
        swarms = await call(client, "swarm_status")
        listed = await call(client, "memory_usage", action="list", namespace=report["suites"]["memory"]["namespace_used"])
    suites = report["suites"]
    assert set(suites) == {"memory", "neural", "swarm", "agent", "task"}
    for suite in suites.values():
        for result in suite["results"]:
            assert result["count"] >= 3 and result["per_second"] > 0 and result["p50_ms"] <= result["max_ms"]
    assert suites["task"]["tasks_completed"] == 3 and suites["swarm"]["agents_running"] == 3
    assert swarms["totals"]["swarms"] == 0 and listed["entries"] == []
    assert not any(p.name.startswith("benchmark-") for p in tmp_path.iterdir())
