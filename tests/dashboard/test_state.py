"""What the dashboard draws, computed from a real daemon App: the plan as a DAG, events as a
client's log shows them, cards of bounded size, updates of only what changed."""

from __future__ import annotations

from pathlib import Path

import orjson
from support import running_app
from surface_support import a_swarm_at_work

from swarm_mcp.dashboard._state import MAX_AGENTS_DRAWN, Dirty, snapshot, swarm_card, update


async def test_a_snapshot_holds_the_swarm_its_plan_as_a_dag_and_the_events_as_a_log_shows_them(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, _):
        swarm_id, agents, task_id = await a_swarm_at_work(app)
        snap = await snapshot(app)
    swarm = next(s for s in snap["swarms"] if s["id"] == swarm_id)
    assert [a["id"] for a in swarm["agents"]] == agents and swarm["completed"] == 1
    assert swarm["loss"] == {}, "learning is off: no brain, no curve (tests/dashboard/test_browser.py draws real ones)"
    task = next(t for t in snap["tasks"] if t["id"] == task_id)
    assert [(s["id"], s["state"], s["depends_on"]) for s in task["subtasks"]] == [
        (f"{task_id}.build", "completed", []), (f"{task_id}.test", "assigned", [f"{task_id}.build"])]
    assert task["progress"] == {"finished": 1, "total": 2}
    assert any(e["kind"] == "subtask_completed" and "completed by agent" in e["message"] for e in snap["events"])
    assert snap["figures"]["engine"]["swarms"] == 1 and snap["figures"]["neural"]["brains"] is None


async def test_a_card_of_a_big_swarm_stays_bounded_and_an_update_carries_only_what_changed(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False, swarm_max_agents=2000) as (app, _):
        big, _ = await app.swarm.create_swarm(topology="mesh", max_agents=1500, strategy=None, name="big", routing="round_robin")
        small, _ = await app.swarm.create_swarm(topology="ring", max_agents=3, strategy=None, name="small", routing="round_robin")
        for _ in range(1500):
            await app.swarm.spawn(big.id, "coder")
        card = swarm_card(app, big)
        with app.feed.subscribe() as events:
            spawned = await app.swarm.spawn(small.id, "tester")
            dirty = Dirty()
            dirty.add((await events.receive()).events)
            changed = update(app, dirty)
    assert card["agents_total"] == 1500 and len(card["agents"]) == MAX_AGENTS_DRAWN
    assert card["graph"]["edges"] is None and card["graph"]["edge_count"] == 1500 * 1499 // 2 + 1500
    assert len(orjson.dumps(card)) < 100_000
    assert list(changed["swarms"]) == [small.id] and changed["tasks"] == {}
    assert [a["id"] for a in changed["swarms"][small.id]["agents"]] == [spawned.id]
