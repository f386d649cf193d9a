"""The ten `daa_*` tools through MCP on a real daemon App: each answers from real engine state
(agents, brains, tasks, the event log), and its answer changes when that state changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from support import FakeClock, call, error_text, mcp_client

from swarm_mcp.app import App
from swarm_mcp.swarm import WorkOutcome
from swarm_mcp.swarm._workload import run_transfer_workload


async def daa_swarm(client: Any, *agents: str, **init: Any) -> str:
    swarm = await call(client, "daa_init", **init)
    for agent in agents:
        await call(client, "daa_agent_create", id=agent, capabilities=["code"])
    return swarm["swarm_id"]


def stored_agent(app: App, agent_id: str) -> dict[str, Any]:
    """The agent's row as committed to SQLite (read by another connection)."""
    with sqlite3.connect(f"file:{app.config.db_path}?mode=ro", uri=True) as db:
        (data,) = db.execute("SELECT data FROM agents WHERE id = ?", (agent_id,)).fetchone()
    return orjson.loads(data)


# -- daa_init, daa_agent_create ------------------------------------------------------------------------

async def test_daa_init_makes_one_daa_swarm_whose_settings_survive_a_restart_and_change_behaviour(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        first = await call(client, "daa_init", topology="ring", persistenceMode="disk")
        await call(client, "daa_agent_create", id="alpha", learningRate=0.02)
        await call(client, "daa_agent_adapt", agentId="alpha", feedback="Implemented it", performanceScore=0.5)
        second = await call(client, "daa_init", enableLearning=False, enableCoordination=False, persistenceMode="memory")
        wrong = await error_text(client, "daa_init", topology="star")
    async with mcp_client(tmp_path) as (client, _):
        status = (await call(client, "swarm_status", swarmId=first["swarm_id"]))["swarms"][0]
        refused = await error_text(client, "daa_agent_adapt", agentId="alpha", feedback="Implemented it",
                                   performanceScore=1)
        await call(client, "daa_agent_create", id="beta")
        no_share = await error_text(client, "daa_knowledge_share", sourceAgentId="alpha", targetAgentIds=["beta"],
                                    knowledgeContent={"tip": "x"})
        again = await call(client, "daa_init")
        adapted = await call(client, "daa_agent_adapt", agentId="alpha", feedback="Implemented it", performanceScore=1)
    assert first["created"] and first["topology"] == "ring" and first["agents"] == 0
    assert not second["created"] and second["swarm_id"] == first["swarm_id"] and second["daa_agents"] == 1
    assert "is a ring, not a star" in wrong
    assert status["daa"]["enable_learning"] is False and status["daa"]["persistence_mode"] == "memory"
    assert "learning is off" in refused and "enableLearning=true" in refused
    assert "coordination is off" in no_share
    assert again["swarm_id"] == first["swarm_id"] and again["daa_agents"] == 2
    assert adapted["adaptations"] == 2 and adapted["learning_rate"] == 0.02 and adapted["experiences"] == 2


async def test_agent_create_takes_its_id_learning_rate_pattern_and_namespace_and_refuses_a_taken_id(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        no_swarm = await error_text(client, "daa_agent_create", id="alpha")
        await call(client, "daa_init")
        alpha = await call(client, "daa_agent_create", id="alpha", capabilities=["unit-tests", "qa"],
                           cognitivePattern="critical", learningRate=0.2)
        quiet = await call(client, "daa_agent_create", id="quiet", enableMemory=False)
        taken = await error_text(client, "daa_agent_create", id="alpha")
        bad_id = await error_text(client, "daa_agent_create", id="no spaces")
        bad_pattern = await error_text(client, "daa_agent_create", id="gamma", cognitivePattern="telepathic")
        profile = await call(client, "memory_usage", action="retrieve", namespace="agent:alpha", key="profile")
        listed = await call(client, "agent_list")
        status = await call(client, "daa_learning_status", agentId="alpha")
    assert "daa_init" in no_swarm
    assert alpha["agent"] == {"id": "alpha", "swarm_id": alpha["agent"]["swarm_id"], "type": "tester",
                              "cognitive_pattern": "critical", "capabilities": ["unit-tests", "qa"], "status": "idle"}
    assert alpha["memory_namespace"] == "agent:alpha" and quiet["memory_namespace"] is None and alpha["durable"]
    assert "already exists" in taken and "choose another id" in taken
    assert "letters, digits" in bad_id and "'divergent'" in bad_pattern
    assert profile["entry"]["value"]["learning_rate"] == 0.2
    assert {a["agent_id"] for a in listed["agents"]} == {"alpha", "quiet"}  # engine agents, nothing apart
    assert status["agent"]["learning_rate"] == 0.2 and status["agent"]["pattern"] == "critical"


# -- daa_agent_adapt ---------------------------------------------------------------------------------------

async def test_adapt_takes_a_real_gradient_step_scaled_by_the_agents_learning_rate(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await call(client, "daa_init")
        await call(client, "daa_agent_create", id="fast", learningRate=0.2)
        await call(client, "daa_agent_create", id="slow", learningRate=0.005)
        feedback = "Implemented the CSV parser with quoted fields"
        fast = await call(client, "daa_agent_adapt", agentId="fast", feedback=feedback, performanceScore=1.0,
                          suggestions=["keep the tokenizer"])
        slow = await call(client, "daa_agent_adapt", agentId="slow", feedback=feedback, performanceScore=1.0)
        stored = await call(client, "memory_usage", action="retrieve", namespace="agent:fast", key=fast["memory_key"])
    for report in (fast, slow):
        assert report["task_type"] == "code" and report["target"]["success"] == 1.0
        assert report["after"]["prediction"]["success"] > report["before"]["prediction"]["success"]
        assert report["after"]["loss"] < report["before"]["loss"]
        assert report["experiences"] == 1
    # The step is the learning rate, halved only while the example's loss would not fall.
    assert fast["step_size"] > 5 * slow["step_size"] > 0 and slow["step_size"] == 0.005
    moved = {r["learning_rate"]: r["after"]["prediction"]["success"] - r["before"]["prediction"]["success"]
             for r in (fast, slow)}
    assert moved[0.2] > moved[0.005] > 0
    assert stored["entry"]["value"]["suggestions"] == ["keep the tokenizer"]


async def test_adapt_switches_the_pattern_by_the_rule_over_recent_scores(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await daa_swarm(client, "alpha")
        patterns = []
        for score in (0.1, 0.2, 0.3, 0.1, 0.2, 0.1, 0.9, 0.9, 0.95, 0.6):
            report = await call(client, "daa_agent_adapt", agentId="alpha", feedback="Wrote the exporter module",
                                performanceScore=score)
            patterns.append(report["pattern"]["after"])
        analysis = await call(client, "daa_cognitive_pattern", agentId="alpha", action="analyze")
        await call(client, "daa_cognitive_pattern", agentId="alpha", pattern="critical")
        after_change = await call(client, "daa_cognitive_pattern", agentId="alpha")
    # three low scores: explore (divergent); three more since that switch, still low: lateral;
    # three high ones: exploit (convergent); one middling score changes nothing
    assert patterns == ["adaptive", "adaptive", "divergent", "divergent", "divergent", "lateral",
                        "lateral", "lateral", "convergent", "convergent"]
    assert [s["to"] for s in analysis["switches"]] == ["divergent", "lateral", "convergent"]
    assert "< 0.4: explore" in analysis["switches"][0]["reason"]
    assert analysis["rule_next"]["pattern"] == "convergent"
    assert after_change["pattern"] == "critical" and after_change["rule_next"] == {  # a change restarts the count
        "pattern": "critical", "reason": "kept: 0 of 3 scores since the last switch"}


# -- daa_workflow_create, daa_workflow_execute ---------------------------------------------------------------

async def test_workflow_create_validates_the_dag_and_names_a_cycle(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        cycle = await error_text(client, "daa_workflow_create", id="loop", name="Loop", steps=["plan", "build", "check"],
                                 dependencies={"build": ["plan", "check"], "check": ["build"]})
        unknown = await error_text(client, "daa_workflow_create", id="w", name="W", steps=["plan"],
                                   dependencies={"plan": ["nothing"]})
        stranger = await error_text(client, "daa_workflow_create", id="w", name="W", steps=["plan"],
                                    dependencies={"deploy": ["plan"]})
        made = await call(client, "daa_workflow_create", id="w", name="W", strategy="sequential", steps=[
            "design-the-schema", {"id": "build", "description": "Implement the importer", "dependsOn": ["design-the-schema"]},
            {"id": "docs", "description": "Document the importer", "type": "documentation"}])
        taken = await error_text(client, "daa_workflow_create", id="w", name="W", steps=["plan"])
        replaced = await call(client, "daa_workflow_create", id="w", name="W2", steps=["plan"], replace=True)
    assert "cycle: build -> check -> build" in cycle
    assert "unknown subtask(s) ['nothing']" in unknown and "not a step" in stranger
    assert [s["id"] for s in made["steps"]] == ["design-the-schema", "build", "docs"] and made["levels"] == 2
    assert made["steps"][0]["description"] == "design the schema" and made["steps"][2]["type"] == "documentation"
    assert all(s["executor"] == "client" for s in made["steps"]) and made["version"] == 1
    assert "replace: true" in taken and replaced["version"] == 2 and replaced["total_steps"] == 1


async def _work_through(client: Any, results: dict[str, str], claims: list[dict[str, Any]], until: anyio.Event) -> None:
    """A worker client: claims every subtask it is given and completes it with `results[step]`."""
    while not until.is_set():
        claim = await call(client, "task_claim", wait=0.2)
        if claim["claimed"]:
            claims.append(claim)
            step = claim["subtask_id"].split(".", 1)[1]
            await call(client, "task_complete", taskId=claim["subtask_id"], result=results[step])


async def test_workflow_execute_runs_the_dag_on_the_chosen_agents_with_progress_results_and_timing(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await daa_swarm(client, "a1", "a2", "a3", "idle")
        await call(client, "daa_workflow_create", id="ship", name="Ship the importer", steps=[
            {"id": "design", "description": "Design the importer"},
            {"id": "build", "description": "Implement the importer", "dependsOn": ["design"]},
            {"id": "docs", "description": "Document the importer", "dependsOn": ["design"]},
            {"id": "release", "description": "Review the release", "dependsOn": ["build", "docs"]}])
        results = {"design": "schema v1", "build": "importer.py", "docs": "README", "release": "approved"}
        progress: list[tuple[float, float | None, str | None]] = []
        claims: list[dict[str, Any]] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append((value, total, message))

        done = anyio.Event()
        report: dict[str, Any] = {}
        async with anyio.create_task_group() as tg:
            tg.start_soon(_work_through, client, results, claims, done)

            async def execute() -> None:
                result = await client.call_tool("daa_workflow_execute", {"workflowId": "ship",
                                                "agentIds": ["a1", "a2", "a3"]}, progress_callback=on_progress)
                report.update(result.structured_content)
                done.set()

            with anyio.fail_after(60):
                tg.start_soon(execute)
                await done.wait()
    assert report["state"] == "completed" and report["execution_complete"] and report["parallel"]
    steps = {s["step_id"]: s for s in report["steps"]}
    assert {k: s["result"] for k, s in steps.items()} == results
    assert all(s["agent_id"] in {"a1", "a2", "a3"} and s["seconds"] >= 0 and s["attempts"] == 1 for s in steps.values())
    assert "idle" not in report["agents_involved"] and report["allowed_agents"] == ["a1", "a2", "a3"]
    assert steps["release"]["started_at"] >= max(steps["build"]["finished_at"], steps["docs"]["finished_at"])
    assert [p[0] for p in progress] == [1, 2, 3, 4] and all(p[1] == 4 for p in progress)
    assert "completed by" in (progress[0][2] or "") and report["execution_seconds"] > 0


async def test_sequential_execution_runs_one_step_at_a_time(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        await daa_swarm(client, "a1", "a2")
        await call(client, "daa_workflow_create", id="fan", name="Fan out",
                   steps=["Implement part one", "Implement part two", "Implement part three"])
        ran = {}
        for parallel in (True, False):
            report = await call(client, "daa_workflow_execute", workflowId="fan", parallelExecution=parallel,
                                timeout=0.1)
            task = app.swarm.board.tasks[report["task_id"]]
            ran[parallel] = sum(s["state"] == "assigned" for s in report["steps"])
            assert not report["execution_complete"] and "task_status" in report["next"]
            await call(client, "task_cancel", taskId=task.id)
    assert ran == {True: 3, False: 1}


async def test_a_failing_step_retries_on_other_agents_then_cancels_its_dependents(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await daa_swarm(client, "a1", "a2", "a3", "a4")
        await call(client, "daa_workflow_create", id="risky", name="Risky", steps=["migrate", "verify"],
                   dependencies={"verify": ["migrate"]})
        report: dict[str, Any] = {}
        failed_by: list[str] = []
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:

                async def execute() -> None:
                    result = await client.call_tool("daa_workflow_execute", {"workflowId": "risky",
                                                                             "agentIds": ["a1", "a2", "a3"]})
                    report.update(result.structured_content)

                tg.start_soon(execute)
                while len(failed_by) < 3:
                    claim = await call(client, "task_claim", wait=0.2)
                    if claim["claimed"]:
                        failed_by.append(claim["agent"]["agent_id"])
                        await call(client, "task_fail", taskId=claim["subtask_id"], reason=f"lock timeout {len(failed_by)}")
    migrate, verify = report["steps"]
    assert sorted(failed_by) == ["a1", "a2", "a3"]  # each retry on an agent that had not failed it, never a4
    assert migrate["state"] == "failed" and migrate["attempts"] == 3 and migrate["failed_agents"] == failed_by
    assert "lock timeout 3" in migrate["reason"]
    assert verify["state"] == "cancelled" and "dependency" in verify["reason"]
    assert report["state"] == "failed" and report["steps_completed"] == 0


async def test_cancelling_workflow_execute_cancels_its_task(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        await daa_swarm(client, "a1")
        await call(client, "daa_workflow_create", id="long", name="Long", steps=["Implement it", "Test it"])
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, "daa_workflow_execute", {"workflowId": "long"})
            with anyio.fail_after(30):
                while not app.swarm.board.tasks:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
        [task] = app.swarm.board.tasks.values()
        with anyio.fail_after(30):
            while task.state.value == "running":
                await anyio.sleep(0.01)
        status = await call(client, "task_status", taskId=task.id)
    assert status["task"]["state"] == "cancelled"
    assert {s["state"] for s in status["task"]["subtasks"]} == {"cancelled"}


class StandInClaude:
    """A stand-in for the claude executor (the engine's Executor seam): answers at once."""

    name = "claude"
    timeout = 30.0

    def __init__(self) -> None:
        self.ran: list[str] = []

    def unavailable(self) -> str | None:
        return None

    async def run(self, item: Any) -> WorkOutcome:
        self.ran.append(item.subtask_id)
        return WorkOutcome(True, {"draft": f"drafted by {item.agent['id']}: {item.description}"}, 0.8)


async def test_each_step_runs_on_its_own_executor(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        await daa_swarm(client, "a1", "a2")
        standin = StandInClaude()
        standin.unavailable = lambda: "no binary here"  # type: ignore[method-assign]
        app.swarm.executors["claude"] = standin
        refused = await error_text(client, "daa_workflow_create", id="mixed", name="Mixed", steps=[
            {"id": "draft", "description": "Draft the guide", "executor": "claude"}])
        del standin.unavailable
        await call(client, "daa_workflow_create", id="mixed", name="Mixed", steps=[
            {"id": "draft", "description": "Draft the guide", "executor": "claude"},
            {"id": "review", "description": "Review the guide", "dependsOn": ["draft"]}])
        report: dict[str, Any] = {}
        async with anyio.create_task_group() as tg:

            async def execute() -> None:
                report.update((await client.call_tool("daa_workflow_execute", {"workflowId": "mixed"})).structured_content)

            tg.start_soon(execute)
            with anyio.fail_after(30):
                claim = await call(client, "task_claim", wait=10)
            assert claim["context"][0]["result"]["draft"].startswith("drafted by")
            await call(client, "task_complete", taskId=claim["subtask_id"], result="looks good")
    draft, review = report["steps"]
    assert "executor 'claude' cannot run here: no binary here" in refused and "Use executor 'client'" in refused
    assert draft["executor"] == "claude" and draft["result"]["draft"].endswith("Draft the guide")
    assert review["executor"] == "client" and review["result"] == "looks good"
    assert standin.ran == [draft["subtask_id"]]


# -- daa_knowledge_share -----------------------------------------------------------------------------------

async def test_knowledge_share_copies_entries_and_blends_brains_only_along_topology_edges(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        await daa_swarm(client, "a", "b", "c", "d", topology="ring")
        await call(client, "daa_agent_create", id="e", enableMemory=False)
        for _ in range(3):
            await call(client, "daa_agent_adapt", agentId="a", feedback="Implemented the cache", performanceScore=1.0)
        await app.swarm.train_pending()  # a's brain settles: only the shares change brains below
        far = await error_text(client, "daa_knowledge_share", sourceAgentId="a", targetAgentIds=["c"],
                               knowledgeDomain="caching", knowledgeContent={"tip": "LRU"})
        first = await call(client, "daa_knowledge_share", sourceAgentId="a", targetAgentIds=["b", "e"],
                           knowledgeDomain="caching", knowledgeContent={"tip": "LRU", "ttl": 60})
        second = await call(client, "daa_knowledge_share", sourceAgentId="a", targetAgentIds=["b"],
                            knowledgeDomain="caching")
        nothing = await call(client, "daa_knowledge_share", sourceAgentId="a", targetAgentIds=["b"],
                             knowledgeDomain="caching", blendWeight=0)
        whole = await call(client, "daa_knowledge_share", sourceAgentId="a", targetAgentIds=["e"],
                           knowledgeDomain="caching", blendWeight=1)
        copied = await call(client, "memory_usage", action="retrieve", namespace="agent:b", key="knowledge:caching:tip")
        empty = await error_text(client, "daa_knowledge_share", sourceAgentId="b", targetAgentIds=["a"],
                                 knowledgeDomain="other")
    assert "not linked to a in this ring" in far and "'b', 'e'" in far
    b1, b2 = first["targets"]["b"], second["targets"]["b"]
    assert b1["entries_copied"] == 2 and first["entries"] == ["knowledge:caching:tip", "knowledge:caching:ttl"]
    assert first["targets"]["e"]["entries_copied"] == 0 and "enableMemory" in first["targets"]["e"]["memory"]
    assert copied["entry"]["value"] == "LRU" and copied["entry"]["metadata"]["from"] == "a"
    assert b1["brain"]["distance_to_source"]["after"] < b1["brain"]["distance_to_source"]["before"]
    assert b1["brain"]["prediction_change"]["mean"] > 0
    # the second share starts where the first left b (0.7 of the way), and takes it to 0.7 * 0.7
    before2, after2 = b2["brain"]["distance_to_source"]["before"], b2["brain"]["distance_to_source"]["after"]
    assert abs(before2 - b1["brain"]["distance_to_source"]["after"]) < 1e-4 and abs(after2 - 0.7 * before2) < 1e-3
    assert nothing["targets"]["b"]["brain"]["prediction_change"]["max"] == 0
    assert whole["targets"]["e"]["brain"]["distance_to_source"]["after"] == 0  # weight 1: e's brain is now a's
    assert "no knowledge entries in domain 'other'" in empty


# -- daa_learning_status, daa_cognitive_pattern ----------------------------------------------------------------

async def _work(client: Any, agent: str, texts: list[str], ok: Any) -> None:
    for text in texts:
        await call(client, "task_orchestrate", task=text, subtasks=[{"id": "w", "description": text}])
        claim = await call(client, "task_claim", agentId=agent)
        if ok(text):
            await call(client, "task_complete", taskId=claim["subtask_id"], result="done")
        else:
            await call(client, "task_fail", taskId=claim["subtask_id"], reason="broke", retry=False)


async def test_learning_status_reports_experiences_loss_history_and_accuracy_on_held_out_work(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await daa_swarm(client, "solo")
        before = await call(client, "daa_learning_status", agentId="solo")
        texts = [f"Implement the {what} module" for what in ("parser", "exporter") * 10]
        await _work(client, "solo", texts, lambda t: "parser" in t)
        await call(client, "neural_train", agentId="solo", iterations=40)
        after = (await call(client, "daa_learning_status", agentId="solo", detailed=True))["agent"]
        everyone = await call(client, "daa_learning_status")
    async with mcp_client(tmp_path) as (client, _):
        restarted = (await call(client, "daa_learning_status", agentId="solo"))["agent"]
    assert before["agent"]["experiences"] == 0 and before["agent"]["held_out"]["count"] == 0
    assert after["experiences"] == 20 and after["trained_on"] == 6 and after["held_out"]["count"] == 4
    assert after["held_out"]["accuracy"] == 1.0  # held-out parsers and exporters, never trained on, predicted right
    assert after["training_rounds"] >= 1 and after["loss_history"][-1]["mse"] == after["loss"]
    assert after["tasks"] == {"done": 10, "failed": 10} and after["by_type"] == {"code": [10, 10]}
    assert everyone["count"] == 1 and everyone["totals"]["experiences"] == 20
    assert restarted["held_out"] == after["held_out"] and restarted["experiences"] == 20  # saved with the brain


async def test_cognitive_pattern_change_and_analyze_report_the_measured_effect(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await daa_swarm(client, "alpha", "beta", topology="ring")
        await _work(client, "alpha", ["Implement the parser"] * 2, lambda t: True)
        changed = await call(client, "daa_cognitive_pattern", agentId="alpha", pattern="convergent")
        await _work(client, "alpha", ["Implement the exporter"] * 3, lambda t: False)
        # a chain: whoever finishes step one hands step two to its ring successor (a routing decision)
        await call(client, "task_orchestrate", task="chain", subtasks=[
            {"id": "one", "description": "Implement the parser"},
            {"id": "two", "description": "Test the parser", "dependsOn": ["one"]}])
        claim = await call(client, "task_claim", agentId="alpha")
        await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")
        analysis = await call(client, "daa_cognitive_pattern", agentId="alpha", analyze=True)
        bad = await error_text(client, "daa_cognitive_pattern", agentId="alpha", pattern="telepathic")
        unknown = await error_text(client, "daa_cognitive_pattern", agentId="nobody", action="analyze")
        missing = await error_text(client, "daa_cognitive_pattern", agentId="alpha", action="change")
    assert changed["before"] == "adaptive" and changed["after"] == "convergent" and changed["changed"]
    assert analysis["success_by_pattern"] == {"adaptive": {"done": 2, "failed": 0, "success_rate": 1.0},
                                              "convergent": {"done": 1, "failed": 3, "success_rate": 0.25}}
    assert analysis["decisions_by_pattern"] == {"convergent": {"decisions": 1, "explored": 0, "exploration_rate": 0.0}}
    assert analysis["effective_now"] == {"temperature": 0.0, "exploration_rate": 0.0, "decisions_made": 1}
    assert "'convergent'" in bad and "agent_list" in unknown and "needs pattern" in missing


# -- daa_meta_learning ---------------------------------------------------------------------------------------

async def test_meta_learning_shows_a_positive_measured_gain_on_a_synthetic_domain_transfer_task(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        swarm_id = await daa_swarm(client, "m1", "m2", "m3", "m4")
        agents = ["m1", "m2", "m3", "m4"]
        no_source = await error_text(client, "daa_meta_learning", sourceDomain="code", targetDomain="testing")
        same = await error_text(client, "daa_meta_learning", sourceDomain="code", targetDomain="Code")
        vague = await error_text(client, "daa_meta_learning", sourceDomain="code", targetDomain="xyzzy")
        await run_transfer_workload(app.swarm, swarm_id, agents, source_tasks=48, target_tasks=0, seed=3)
        no_target = await error_text(client, "daa_meta_learning", sourceDomain="code", targetDomain="testing")
        await run_transfer_workload(app.swarm, swarm_id, agents, source_tasks=0, target_tasks=16, seed=4)
        brains = app.swarm.brains
        await app.swarm.train_pending()
        probe = brains.domain_rows(swarm_id, "m1", "testing")
        before = await brains.predict(swarm_id, ["m1", "m2", "m3", "m4"], probe.x)
        direct = await call(client, "daa_meta_learning", sourceDomain="code", targetDomain="unit tests",
                            transferMode="direct")
        adaptive = await call(client, "daa_meta_learning", sourceDomain="code", targetDomain="testing")
        after = await brains.predict(swarm_id, ["m1", "m2", "m3", "m4"], probe.x)
    assert "experiences of the source domain 'code'" in no_source
    assert "2 or more experiences of the target domain 'testing'" in no_target
    assert "both 'code'" in same and "names no task type" in vague
    assert direct["target_domain"] == "testing" and direct["source"]["rows"] == 24
    measured = adaptive["measured"]
    assert measured["gain"] > 0 and measured["mse_transfer"] < measured["mse_scratch"], adaptive
    assert measured["accuracy_transfer"] >= measured["accuracy_scratch"]
    assert {a["mode"] for a in direct["agents"]} == {"direct"} and set(adaptive["agents"][0]["mse"]) == {
        "scratch", "direct", "gradual"}
    assert adaptive["agents_updated"] == sum(a["applied"] for a in adaptive["agents"]) >= 1
    assert abs(after - before).max() > 1e-3  # the brains that gained were rebuilt from the source weights


# -- daa_performance_metrics ----------------------------------------------------------------------------------

async def test_performance_metrics_are_computed_from_the_event_log_over_the_time_range(tmp_path: Path) -> None:
    clock = FakeClock()
    async with mcp_client(tmp_path, clock=clock) as (client, _):
        await daa_swarm(client, "p1")
        for seconds, ok in ((2.0, True), (4.0, True), (6.0, True), (1.0, False)):
            await call(client, "task_orchestrate", task="x", subtasks=[{"id": "w", "description": "Implement it"}])
            claim = await call(client, "task_claim", agentId="p1")
            clock.advance(seconds)
            if ok:
                await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")
            else:
                await call(client, "task_fail", taskId=claim["subtask_id"], reason="no", retry=False)
        await call(client, "daa_agent_adapt", agentId="p1", feedback="Implemented it well", performanceScore=0.9)
        early = await call(client, "daa_performance_metrics", timeRange="1h")
        clock.advance(2 * 3600)
        await call(client, "task_orchestrate", task="x", subtasks=[{"id": "w", "description": "Implement it"}])
        claim = await call(client, "task_claim", agentId="p1")
        clock.advance(10)
        await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")
        recent = await call(client, "daa_performance_metrics", category="performance", timeRange="1h")
        whole = await call(client, "daa_performance_metrics", category="performance", timeRange="3h")
        bad = await error_text(client, "daa_performance_metrics", timeRange="fortnight")
    perf = early["performance"]
    assert perf["throughput"]["subtasks_completed"] == 3 and perf["success_rate"]["subtasks"] == 0.75
    assert perf["latency_seconds"]["subtask"]["p50"] == 4.0 and perf["latency_seconds"]["subtask"]["max"] == 6.0
    assert early["efficiency"]["busy_agent_seconds"] == 13.0
    assert early["system"]["tasks"] == {"created": 4, "completed": 3, "failed": 1, "cancelled": 0}
    assert early["neural"]["adaptations"]["count"] == 1
    assert early["neural"]["adaptations"]["loss_after"] < early["neural"]["adaptations"]["loss_before"]
    assert recent["performance"]["throughput"]["subtasks_completed"] == 1  # the older work is outside the hour
    assert recent["performance"]["latency_seconds"]["subtask"]["max"] == 10.0 and "system" not in recent
    assert whole["performance"]["throughput"]["subtasks_completed"] == 4
    assert "timeRange 'fortnight'" in bad


# -- persistence modes -----------------------------------------------------------------------------------------

async def test_disk_mode_commits_before_answering_memory_mode_writes_behind_auto_splits_them(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        await daa_swarm(client, "alpha", persistenceMode="memory")
        await app.swarm.persist.commit()
        app.swarm.persist.interval = 3600.0  # nothing is written behind during this test
        await app.swarm.persist.commit()
        feedback = {"agentId": "alpha", "feedback": "Implemented it", "performanceScore": 0.5}
        memory = await call(client, "daa_agent_adapt", **feedback)
        in_memory = stored_agent(app, "alpha")["daa"]["adaptations"]
        await call(client, "daa_init", persistenceMode="auto")
        auto_adapt = await call(client, "daa_agent_adapt", **feedback)
        auto_adapt_stored = stored_agent(app, "alpha")["daa"]["adaptations"]
        auto_pattern = await call(client, "daa_cognitive_pattern", agentId="alpha", pattern="systems")
        auto_pattern_stored = stored_agent(app, "alpha")["pattern"]
        await call(client, "daa_init", persistenceMode="disk")
        disk = await call(client, "daa_agent_adapt", **feedback)
        on_disk = stored_agent(app, "alpha")["daa"]["adaptations"]
    assert not memory["durable"] and in_memory == 0  # the write is behind, not yet in SQLite
    assert not auto_adapt["durable"] and auto_adapt_stored == 1  # daa_init committed it; the new adaptation is behind
    assert auto_pattern["durable"] and auto_pattern_stored == "systems"  # configuration is durable in auto
    assert disk["durable"] and on_disk == 3


async def test_unknown_ids_and_bad_values_get_errors_that_say_what_to_call(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        await daa_swarm(client, "alpha")
        errors = {
            "adapt": await error_text(client, "daa_agent_adapt", agentId="ghost", feedback="x", performanceScore=0.5),
            "score": await error_text(client, "daa_agent_adapt", agentId="alpha", feedback="x", performanceScore=1.5),
            "workflow": await error_text(client, "daa_workflow_execute", workflowId="ghost"),
            "share": await error_text(client, "daa_knowledge_share", sourceAgentId="alpha", targetAgentIds=["ghost"]),
            "status": await error_text(client, "daa_learning_status", agentId="ghost"),
            "meta": await error_text(client, "daa_meta_learning", sourceDomain="code", targetDomain="testing",
                                     agentIds=["ghost"]),
            "swarm": await error_text(client, "daa_init", swarmId="swarm-ghost"),
            "mode": await error_text(client, "daa_init", persistenceMode="cloud"),
        }
        await call(client, "daa_workflow_create", id="w", name="W", steps=["plan"])
        errors["agents"] = await error_text(client, "daa_workflow_execute", workflowId="w", agentIds=["ghost"])
    for key in ("adapt", "share", "status", "meta", "agents"):
        assert "No agent with id 'ghost'" in errors[key] and "agent_list" in errors[key]
    assert "less than or equal to 1" in errors["score"]
    assert "No workflow with id 'ghost'" in errors["workflow"] and "daa_workflow_create" in errors["workflow"]
    assert "swarm_status" in errors["swarm"] and "'disk'" in errors["mode"]


def test_the_daa_tools_are_their_own_area_that_serve_tools_can_pick() -> None:
    from swarm_mcp.config import ConfigError, load_config
    from swarm_mcp.tools import build_registry

    names = build_registry(None, "daa").names  # type: ignore[arg-type]
    assert names == ["daa_init", "daa_agent_create", "daa_agent_adapt", "daa_workflow_create", "daa_workflow_execute",
                     "daa_knowledge_share", "daa_learning_status", "daa_cognitive_pattern", "daa_meta_learning",
                     "daa_performance_metrics"]
    assert load_config({"tools": "daa,memory"}, {}).tools == "daa,memory"
    with pytest.raises(ConfigError, match="daa"):
        load_config({"tools": "dao"}, {})
