"""Agents are supervised: a crash restarts the agent without losing its queue; too many crashes
escalate to the swarm's supervisor, which the engine restarts; both show in the tools."""

from __future__ import annotations

from pathlib import Path

import anyio
from support import FakeClock, call, mcp_client


async def wait_for(condition) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.005)


async def test_a_crashed_agent_is_restarted_and_keeps_its_queued_work(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, swarm_learning=False) as (client, app):
        await call(client, "swarm_init", topology="star")
        agent_id = (await call(client, "agent_spawn", type="coder"))["agent"]["agent_id"]
        task = (await call(client, "task_orchestrate", task="Implement a, implement b", strategy="parallel"))["task"]
        queued = [s["subtask_id"] for s in task["subtasks"] if s["state"] == "assigned"]
        app.swarm.inject_fault(agent_id, RuntimeError("injected fault"))
        await wait_for(lambda: app.swarm.agents[agent_id].metrics.restarts == 1)
        metrics = (await call(client, "agent_metrics", agentId=agent_id, metric="performance"))["agents"][0]
        status = (await call(client, "swarm_status"))["swarms"][0]
        claims = []
        for _ in queued:
            claims.append(await call(client, "task_claim", agentId=agent_id))
            await call(client, "task_complete", taskId=claims[-1]["subtask_id"], result="ok")
        await app.swarm.persist.commit()
        events = await app.store.events.list(agent_id=agent_id)
    assert metrics["performance"]["restarts"] == 1 and status["supervision"]["restarts"] == 1
    assert sorted(c["subtask_id"] for c in claims) == sorted(queued)
    kinds = [e.kind for e in events]
    assert "supervisor_crashed" in kinds and "supervisor_restarted" in kinds


async def test_crashes_past_the_intensity_escalate_and_the_engine_restarts_the_whole_swarm(tmp_path: Path) -> None:
    clock = FakeClock()
    async with mcp_client(tmp_path, clock=clock, swarm_learning=False, swarm_restart_intensity=2) as (client, app):
        swarm_id = (await call(client, "swarm_init", topology="mesh"))["swarm"]["swarm_id"]
        crasher = (await call(client, "agent_spawn", type="coder"))["agent"]["agent_id"]
        bystander = (await call(client, "agent_spawn", type="tester"))["agent"]["agent_id"]
        for expected in (1, 2):
            app.swarm.inject_fault(crasher, RuntimeError("boom"))
            await wait_for(lambda e=expected: app.swarm.agents[crasher].metrics.restarts == e)
        app.swarm.inject_fault(crasher, RuntimeError("boom"))  # the third within the period: the swarm gives up
        await wait_for(lambda: app.swarm.swarms[swarm_id].escalations == 1)
        await wait_for(lambda: app.swarm.agents[bystander].metrics.restarts == 1)  # restarted with its swarm
        status = (await call(client, "swarm_status", swarmId=swarm_id))["swarms"][0]
        await app.swarm.persist.commit()  # events are written behind
        escalated = await app.store.events.list(kind="supervisor_escalated")
        # The swarm works again afterwards.
        await call(client, "task_orchestrate", task="Implement the exporter")
        claim = await call(client, "task_claim")
    assert status["supervision"]["escalations"] == 1 and status["agents"]["total"] == 2
    assert escalated and escalated[0].swarm_id == swarm_id
    assert claim["claimed"]


async def test_a_stopped_agent_is_not_restarted(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, swarm_learning=False) as (client, app):
        await call(client, "swarm_init", topology="star")
        agent_id = (await call(client, "agent_spawn", type="coder"))["agent"]["agent_id"]
        await call(client, "agent_stop", agentId=agent_id)
        await anyio.sleep(0.05)
        listed = await call(client, "agent_list", filter="stopped")
        again = await client.call_tool("agent_stop", {"agentId": agent_id})
    assert [a["agent_id"] for a in listed["agents"]] == [agent_id]
    assert app.swarm.agents[agent_id].metrics.restarts == 0
    assert again.is_error and "already stopped" in again.content[0].text


async def test_only_the_newest_stopped_agents_are_kept_so_spawn_and_stop_loops_stay_bounded(tmp_path: Path) -> None:
    from dataclasses import replace

    async with mcp_client(tmp_path, swarm_learning=False) as (client, app):
        app.swarm.config = replace(app.swarm.config, max_stopped_agents=2)
        await call(client, "swarm_init", topology="star")
        stopped = []
        for _ in range(5):
            agent_id = (await call(client, "agent_spawn", type="coder"))["agent"]["agent_id"]
            await call(client, "agent_stop", agentId=agent_id)
            stopped.append(agent_id)
        listed = await call(client, "agent_list", filter="stopped")
        rows = await app.store.agents.list()
    assert [a["agent_id"] for a in listed["agents"]] == stopped[-2:]
    assert sorted(r.id for r in rows) == sorted(stopped[-2:])
