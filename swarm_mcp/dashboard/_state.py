"""What the dashboard draws, as JSON: swarm cards (topology graph, agent states, routing success),
task cards (the plan as a DAG of subtask states), learning curves, runtime figures, recent events.

A page gets a `snapshot` when it connects (and again whenever it falls behind); afterwards an
`update` carries only the swarms and tasks that events touched, and the events themselves. Every
list is bounded, so a swarm of thousands of agents still makes a message of bounded size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..feed import FeedEvent
from ..surface import level_of, message_of
from ..swarm import TaskState, swarm_graph, swarm_learning

if TYPE_CHECKING:
    from ..app import App
    from ..swarm import Swarm, Task

__all__ = ("Dirty", "figures", "snapshot", "swarm_card", "task_card", "update")

MAX_AGENTS_DRAWN = 400  # per swarm
MAX_EDGES_DRAWN = 2000
MAX_SUBTASKS_DRAWN = 300  # per task
MAX_RUNNING_TASKS = 24
FINISHED_TASKS = 6  # the newest finished tasks shown
LOSS_CURVES = 12  # agents per swarm whose brain loss is drawn (most experienced first)
EVENTS_SHOWN = 100


def swarm_card(app: App, swarm: Swarm) -> dict[str, Any]:
    engine = app.swarm
    live = swarm.live_agents()
    agents = [{"id": a.id, "name": a.name, "type": a.type, "state": a.state, "queue": len(a.queue),
               "running": len(a.running), "done": a.metrics.done, "failed": a.metrics.failed,
               "restarts": a.metrics.restarts, "coordinator": a.coordinator} for a in live[:MAX_AGENTS_DRAWN]]
    loss: dict[str, list[list[float]]] = {}
    if engine.brains is not None:
        # Every finished attempt is an experience: rank by the agent's own counters, and ask the
        # brains (which copy each buffer) only about the few drawn, not about every agent.
        ranked = sorted(live, key=lambda a: -(a.metrics.done + a.metrics.failed))[:LOSS_CURVES]
        for agent in ranked:
            history = engine.brains.agent(swarm.id, agent.id)["loss_history"]
            if history:
                loss[agent.id] = [[point["experiences"], point["mse"]] for point in history]
    return {
        "id": swarm.id, "name": swarm.name, "topology": swarm.topology, "strategy": swarm.strategy,
        "routing": swarm.routing, "executor": swarm.executor, "max_agents": swarm.max_agents,
        "agents": agents, "agents_total": len(live), "graph": swarm_graph(swarm, max_edges=MAX_EDGES_DRAWN),
        "learning": swarm_learning(swarm), "loss": loss, "completed": swarm.completed, "failed": swarm.failed,
        "escalations": swarm.escalations,
    }


def task_card(app: App, task: Task) -> dict[str, Any]:
    subs = app.swarm.board.subtasks_of(task)
    drawn = subs[:MAX_SUBTASKS_DRAWN]
    return {
        "id": task.id, "swarm_id": task.swarm_id, "description": task.description[:300], "state": task.state.value,
        "created": task.created, "finished_at": task.finished_at,
        "progress": {"finished": sum(s.state.finished for s in subs), "total": len(subs)},
        "subtasks": [{"id": s.id, "label": s.description[:80], "type": s.type, "state": s.state.value,
                      "agent_id": s.agent_id, "depends_on": list(s.depends_on), "attempts": s.attempts} for s in drawn],
        "subtasks_total": len(subs),
    }


def _shown_tasks(app: App) -> list[Task]:
    tasks = list(app.swarm.board.tasks.values())
    running = sorted((t for t in tasks if t.state in (TaskState.RUNNING, TaskState.PENDING)), key=lambda t: -t.created)
    finished = sorted((t for t in tasks if t.state not in (TaskState.RUNNING, TaskState.PENDING)),
                      key=lambda t: -(t.finished_at or 0.0))
    return running[:MAX_RUNNING_TASKS] + finished[:FINISHED_TASKS]


async def figures(app: App) -> dict[str, Any]:
    """Memory and neural runtime figures, the engine's counters, connections."""
    stats = await app.store.stats()
    engine = app.swarm
    return {
        "daemon": {"version": __version__, "pid": os.getpid(), "uptime_s": round(time.time() - app.started_at, 1),
                   "transports": app.transports.snapshot(), "feed_subscribers": app.feed.subscribers},
        "memory": {"entries": stats["entries"], "bytes": stats["bytes"], "namespaces": len(stats["namespaces"]),
                   "pending_writes": stats["pending_writes"], "quota": stats["quota"],
                   "hot_entries": stats["hot"]["entries"], "hit_rate": stats["hot"]["hit_rate"],
                   "flushes": stats["flush"]["count"], "flush_error": stats["flush"]["error"],
                   "db_bytes": stats["files"]["db_bytes"], "wal_bytes": stats["files"]["wal_bytes"],
                   "read_only": stats["read_only"]},
        "neural": {**app.neural.status(), "brains": engine.brains.status() if engine.brains is not None else None},
        "engine": {"swarms": len(engine.swarms), "agents": sum(len(s.live_agents()) for s in engine.swarms.values()),
                   "tasks": len(engine.board.tasks), "open_subtasks": engine.board.open,
                   "counters": dict(engine.counters)},
    }


def events_json(events: Iterable[FeedEvent]) -> list[dict[str, Any]]:
    """Events with the level and sentence an MCP client's log would show."""
    return [{**e.to_json(), "level": level_of(e), "message": message_of(e)["message"]} for e in events]


async def snapshot(app: App) -> dict[str, Any]:
    """Everything a page draws."""
    return {
        "time": app.clock(),
        "swarms": [swarm_card(app, s) for s in app.swarm.swarms.values()],
        "tasks": [task_card(app, t) for t in _shown_tasks(app)],
        "events": events_json(app.feed.recent(EVENTS_SHOWN)),
        "figures": await figures(app),
    }


class Dirty:
    """The swarms and tasks events touched since the last update."""

    def __init__(self) -> None:
        self.swarms: set[str] = set()
        self.tasks: set[str] = set()
        self.events: list[FeedEvent] = []

    def add(self, events: Iterable[FeedEvent]) -> None:
        for event in events:
            self.events.append(event)
            if event.swarm_id:
                self.swarms.add(event.swarm_id)
            if event.task_id:
                self.tasks.add(event.task_id.split(".", 1)[0])
        del self.events[:-EVENTS_SHOWN]

    def __bool__(self) -> bool:
        return bool(self.swarms or self.tasks or self.events)


def update(app: App, dirty: Dirty) -> dict[str, Any]:
    """The cards of what changed (None for a swarm or task that is gone), and the new events."""
    engine = app.swarm
    swarms = {sid: swarm_card(app, engine.swarms[sid]) if sid in engine.swarms else None for sid in dirty.swarms}
    tasks = {tid: task_card(app, engine.board.tasks[tid]) if tid in engine.board.tasks else None for tid in dirty.tasks}
    return {"time": app.clock(), "swarms": swarms, "tasks": tasks, "events": events_json(dirty.events)}
