"""The swarm survives restarts, kill -9 included: swarms and agents are supervised again, unfinished
work returns to the queue, completed results remain, and brains resume from their saved weights."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
from support import call, mcp_client, spawn_stdio


async def test_a_restarted_daemon_supervises_the_swarm_again_and_requeues_unfinished_work(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        swarm_id = (await call(client, "swarm_init", topology="ring", maxAgents=4))["swarm"]["swarm_id"]
        agents = [(await call(client, "agent_spawn", type=t))["agent"]["agent_id"] for t in ("coder", "tester")]
        task = (await call(client, "task_orchestrate", task="three parts", subtasks=[
            {"id": f"s{i}", "description": f"Implement part {i}"} for i in range(3)]))["task"]
        done = await call(client, "task_claim")
        await call(client, "task_complete", taskId=done["subtask_id"], result={"file": "part.py"}, quality=0.7)
        held = await call(client, "task_claim")  # running when the daemon stops
        await app.swarm.train_pending()
        brain = app.swarm.brains.agent(swarm_id, done["agent"]["agent_id"])
        probe = [app.swarm.board.subtasks[done["subtask_id"]].features]
        before = await app.swarm.brains.predict(swarm_id, [done["agent"]["agent_id"]], probe)
    async with mcp_client(tmp_path) as (client, app):
        status = (await call(client, "swarm_status", swarmId=swarm_id, verbose=True))["swarms"][0]
        after_task = (await call(client, "task_status", taskId=task["task_id"]))["task"]
        results = await call(client, "task_results", taskId=task["task_id"], format="detailed")
        restored = app.swarm.brains.agent(swarm_id, done["agent"]["agent_id"])
        await app.swarm.brains.train(swarm_id, [done["agent"]["agent_id"]], epochs=0)  # materialise, no change
        after = await app.swarm.brains.predict(swarm_id, [done["agent"]["agent_id"]], probe)
        reclaimed = await call(client, "task_claim")
        assert all(app.swarm._swarm_sups[swarm_id].children)  # agents run under their supervisor again
    assert [a["agent_id"] for a in status["agent_list"]] == agents and status["topology"] == "ring"
    states = {s["subtask_id"]: s["state"] for s in after_task["subtasks"]}
    assert states[done["subtask_id"]] == "completed" and states[held["subtask_id"]] == "assigned"
    assert {r["subtask_id"]: r["result"] for r in results["results"]}[done["subtask_id"]] == {"file": "part.py"}
    assert reclaimed["claimed"] and reclaimed["subtask_id"] in {held["subtask_id"], *states}
    assert restored["experiences"] == brain["experiences"] == 1 and restored["training_rounds"] == brain["training_rounds"]
    np.testing.assert_allclose(after, before, rtol=1e-6)


def test_kill_9_loses_no_acknowledged_swarm_state_and_requeues_claimed_work(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        swarm = client.call_tool("swarm_init", {"topology": "star", "maxAgents": 3})["structuredContent"]["swarm"]
        agent = client.call_tool("agent_spawn", {"type": "coder"})["structuredContent"]["agent"]
        task = client.call_tool("task_orchestrate", {"task": "plan", "subtasks": [
            {"id": "a", "description": "Implement a"}, {"id": "b", "description": "Implement b"}]})["structuredContent"]["task"]
        first = client.call_tool("task_claim", {})["structuredContent"]
        client.call_tool("task_complete", {"taskId": first["subtask_id"], "result": "kept"})
        second = client.call_tool("task_claim", {})["structuredContent"]
        assert client.process is not None
        client.process.send_signal(signal.SIGKILL)
        client.process.wait(timeout=10)
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        status = client.call_tool("swarm_status", {"verbose": True})["structuredContent"]["swarms"]
        after = client.call_tool("task_status", {"taskId": task["task_id"]})["structuredContent"]["task"]
        reclaimed = client.call_tool("task_claim", {})["structuredContent"]
    assert [s["swarm_id"] for s in status] == [swarm["swarm_id"]]
    assert [a["agent_id"] for a in status[0]["agent_list"]] == [agent["agent_id"]]
    states = {s["subtask_id"]: s["state"] for s in after["subtasks"]}
    assert states == {first["subtask_id"]: "completed", second["subtask_id"]: "assigned"}
    assert reclaimed["subtask_id"] == second["subtask_id"]  # a claim is written behind: its attempt may be lost


async def test_brains_are_saved_every_few_experiences_while_the_daemon_runs(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, swarm_brain_save_every=4) as (client, app):
        swarm_id = (await call(client, "swarm_init", topology="star"))["swarm"]["swarm_id"]
        await call(client, "agent_spawn", type="coder")
        await call(client, "task_orchestrate", task="x", subtasks=[{"id": f"s{i}", "description": "Implement it"}
                                                                   for i in range(5)])
        for _ in range(5):
            claim = await call(client, "task_claim")
            await call(client, "task_complete", taskId=claim["subtask_id"], result="ok")
        await app.swarm.train_pending()
        await app.swarm.persist.commit()
        [saved] = await app.store.brains.list(swarm_id=swarm_id)
    assert saved.meta["seen"] == 5 and saved.meta["rounds"] >= 1 and len(saved.params) > 0
