"""What the tools show: the engine's objects as JSON-ready dicts, computed from live state."""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from ._model import OUTCOME_WINDOW, Agent, Subtask, SubtaskState, Swarm, Task
from ._topology import QUEEN, edges

if TYPE_CHECKING:
    from ._engine import SwarmEngine

__all__ = (
    "agent_metrics",
    "agent_summary",
    "claim_view",
    "subtask_view",
    "swarm_graph",
    "swarm_learning",
    "swarm_queue",
    "swarm_view",
    "task_results",
    "task_summary",
    "task_view",
)

SUMMARY_CHARS = 500


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 6)


def agent_summary(agent: Agent) -> dict[str, Any]:
    return {"agent_id": agent.id, "swarm_id": agent.swarm_id, "type": agent.type, "name": agent.name,
            "state": agent.state, "capabilities": list(agent.capabilities), "cognitive_pattern": agent.pattern,
            "queue_length": len(agent.queue), "running": len(agent.running), "coordinator": agent.coordinator,
            "tasks_done": agent.metrics.done, "tasks_failed": agent.metrics.failed, "restarts": agent.metrics.restarts}


def swarm_view(engine: SwarmEngine, swarm: Swarm, *, verbose: bool = False) -> dict[str, Any]:
    agents = list(swarm.agents.values())
    live = swarm.live_agents()
    tasks = [t for t in engine.board.tasks.values() if t.swarm_id == swarm.id]
    subtasks = [engine.board.subtasks[s] for t in tasks for s in t.subtasks if s in engine.board.subtasks]
    out: dict[str, Any] = {
        "swarm_id": swarm.id, "name": swarm.name, "topology": swarm.topology, "strategy": swarm.strategy,
        "max_agents": swarm.max_agents, "queen_pattern": swarm.pattern, "routing": swarm.routing,
        "executor": swarm.executor, "objective": swarm.objective, "created": swarm.created,
        "agents": {"total": len(live), "by_state": dict(Counter(a.state for a in agents)),
                   "by_type": dict(Counter(a.type for a in live))},
        "queues": {"assigned": sum(len(a.queue) for a in live), "running": sum(len(a.running) for a in live)},
        "tasks": {"total": len(tasks), "by_state": dict(Counter(t.state.value for t in tasks))},
        "subtasks": {"by_state": dict(Counter(s.state.value for s in subtasks)),
                     "completed_all_time": swarm.completed, "failed_all_time": swarm.failed},
        "supervision": {"restarts": sum(a.metrics.restarts for a in agents), "escalations": swarm.escalations},
    }
    if swarm.design is not None:
        out["design"] = swarm.design
    if swarm.daa is not None:
        out["daa"] = swarm.daa.to_json()
    if verbose:
        out["topology_edges"] = [list(edge) for edge in edges(swarm.topology, live)]
        out["agent_list"] = [agent_summary(a) for a in live[:200]]
    return out


def agent_metrics(engine: SwarmEngine, agent: Agent, metric: str, namespace_usage: dict[str, int] | None) -> dict[str, Any]:
    m = agent.metrics
    out: dict[str, Any] = {"agent_id": agent.id, "swarm_id": agent.swarm_id, "type": agent.type, "state": agent.state}
    if metric in ("all", "tasks"):
        total = m.done + m.failed
        out["tasks"] = {"done": m.done, "failed": m.failed, "success_rate": None if not total else round(m.done / total, 4),
                        "queue_length": len(agent.queue), "running": len(agent.running),
                        "by_type": {t: {"done": c[0], "failed": c[1]} for t, c in (m.by_type or {}).items()}}
    if metric in ("all", "performance"):
        durations = list(m.durations)
        out["performance"] = {"samples": len(durations),
                              "mean_seconds": round(sum(durations) / len(durations), 6) if durations else None,
                              "p50_seconds": _percentile(durations, 0.5), "p95_seconds": _percentile(durations, 0.95),
                              "restarts": m.restarts, "routing_decisions": m.decisions}
    if metric in ("all", "learning"):
        learning: dict[str, Any] = {"enabled": engine.brains is not None}
        if engine.brains is not None:
            learning.update(engine.brains.agent(agent.swarm_id, agent.id))
        predictions = list(m.predictions)
        hits = sum((p >= 0.5) == ok for p, ok in predictions)
        learning["prediction_accuracy"] = round(hits / len(predictions), 4) if predictions else None
        learning["predictions_judged"] = len(predictions)
        out["learning"] = learning
    if metric in ("all", "memory") and namespace_usage is not None:
        out["memory"] = namespace_usage
    return out


def subtask_view(sub: Subtask, *, detailed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"subtask_id": sub.id, "description": sub.description, "type": sub.type, "state": sub.state.value,
                           "agent_id": sub.agent_id, "depends_on": list(sub.depends_on), "attempts": sub.attempts,
                           "executor": sub.executor}
    if sub.review_of:
        out["review_of"] = sub.review_of
    if sub.reason:
        out["reason"] = sub.reason
    if detailed:
        out.update(capabilities=list(sub.capabilities), decision=sub.decision, failed_agents=sub.failed_agents,
                   created=sub.created, assigned_at=sub.assigned_at, started_at=sub.started_at,
                   finished_at=sub.finished_at, quality=sub.quality)
        if sub.lease is not None:
            out["lease"] = {"expires_at": sub.lease.expires_at, "holder": sub.lease.holder}
    return out


def task_view(engine: SwarmEngine, task: Task, *, detailed: bool = False) -> dict[str, Any]:
    subs = engine.board.subtasks_of(task)
    states = Counter(s.state.value for s in subs)
    finished = sum(s.state.finished for s in subs)
    out: dict[str, Any] = {
        "task_id": task.id, "swarm_id": task.swarm_id, "description": task.description, "state": task.state.value,
        "strategy": task.strategy, "priority": task.priority, "executor": task.executor, "created": task.created,
        "finished_at": task.finished_at, "progress": {"finished": finished, "total": len(subs), "by_state": dict(states)},
        "subtasks": [subtask_view(s, detailed=detailed) for s in subs],
    }
    if task.reason:
        out["reason"] = task.reason
    if task.coordinator:
        out["coordinator"] = task.coordinator
    if detailed:
        out["analysis"] = task.analysis
        out["allowed_agents"] = task.allowed_agents
    return out


def task_summary(engine: SwarmEngine, task: Task) -> dict[str, Any]:
    """A task's state and progress without its subtasks (from the board's counters: O(1))."""
    total = len(task.subtasks)
    out: dict[str, Any] = {"task_id": task.id, "swarm_id": task.swarm_id, "state": task.state.value,
                           "progress": {"finished": total - engine.board.unfinished(task.id), "total": total}}
    if task.reason:
        out["reason"] = task.reason
    return out


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > SUMMARY_CHARS:
        return value[:SUMMARY_CHARS] + f"… ({len(value)} characters; format 'detailed' shows all)"
    return value


def task_results(engine: SwarmEngine, task: Task, fmt: str) -> dict[str, Any]:
    subs = engine.board.subtasks_of(task)
    out: dict[str, Any] = {"task_id": task.id, "state": task.state.value, "description": task.description}
    if fmt == "summary":
        out["results"] = [{"subtask_id": s.id, "state": s.state.value, "agent_id": s.agent_id,
                           "result": _short(s.result)} for s in subs if s.state is not SubtaskState.PENDING]
    elif fmt == "detailed":
        out["results"] = [{"subtask_id": s.id, "description": s.description, "type": s.type, "state": s.state.value,
                           "agent_id": s.agent_id, "result": s.result, "quality": s.quality, "reason": s.reason,
                           "attempts": s.attempts,
                           "seconds": None if s.started_at is None or s.finished_at is None
                           else round(s.finished_at - s.started_at, 6)} for s in subs]
        if task.finished_at is not None:
            out["seconds"] = round(task.finished_at - task.created, 6)
    else:
        out["subtasks"] = [{"subtask_id": s.id, "agent_id": s.agent_id, "state": s.state.value, **s.to_record()}
                           for s in subs]
        out["task"] = task.to_record()
    return out


def claim_view(engine: SwarmEngine, claim: Any) -> dict[str, Any]:
    sub, task = claim.subtask, claim.task
    agent = engine.agents[sub.agent_id]
    out = {
        "claimed": True, "subtask_id": sub.id, "task_id": task.id, "swarm_id": sub.swarm_id,
        "description": sub.description, "type": sub.type,
        "task": task.description, "agent": {"agent_id": agent.id, "type": agent.type, "name": agent.name,
                                            "capabilities": sorted(agent.all_capabilities),
                                            "cognitive_pattern": agent.pattern},
        "context": claim.context, "attempt": sub.attempts,
        "lease": {"lease_id": sub.lease.id, "expires_at": sub.lease.expires_at,
                  "seconds": round(sub.lease.expires_at - engine.clock(), 3)},
        "next": f"do the work, then task_complete(taskId={sub.id!r}, result=...) or task_fail(taskId={sub.id!r}, "
                "reason=...); task_heartbeat extends the lease",
    }
    if claim.taken_from:
        out["taken_from"] = claim.taken_from
    if sub.review_of:
        out["review_of"] = {"subtask_id": sub.review_of, "result": engine.board.subtasks[sub.review_of].result}
    return out


def swarm_learning(swarm: Swarm) -> dict[str, Any]:
    """What routing has earned: the success rate of each window of `OUTCOME_WINDOW` finished
    attempts (oldest first; the last may be partial), under the swarm's routing mode."""
    rates = [round(done / (done + failed), 4) for done, failed in swarm.windows if done + failed]
    attempts = sum(done + failed for done, failed in swarm.windows)
    succeeded = sum(done for done, _ in swarm.windows)
    return {"routing": swarm.routing, "window": OUTCOME_WINDOW, "success_by_window": rates,
            "attempts_counted": attempts, "success_rate": round(succeeded / attempts, 4) if attempts else None}


def swarm_graph(swarm: Swarm, *, max_edges: int = 5000) -> dict[str, Any]:
    """The topology as a graph of live agents (and the Queen): edges up to `max_edges`; past it
    `edges` is None and `edge_count` says how many there are (a large mesh links every pair)."""
    live = swarm.live_agents()
    if swarm.topology == "mesh":
        count = len(live) + len(live) * (len(live) - 1) // 2
        pairs = edges(swarm.topology, live) if count <= max_edges else None
    else:
        pairs = edges(swarm.topology, live)
        count = len(pairs)
        if count > max_edges:
            pairs = None
    return {"topology": swarm.topology, "queen": QUEEN, "edge_count": count,
            "edges": None if pairs is None else [list(edge) for edge in pairs]}


def swarm_queue(engine: SwarmEngine, swarm: Swarm, *, limit: int = 500) -> dict[str, Any]:
    """Unfinished work of the swarm: subtasks waiting for an agent or for dependencies, and each
    agent's queue (assigned) and running subtasks; at most `limit` ids per list."""
    board = engine.board
    pending = [s.id for t in board.tasks.values() if t.swarm_id == swarm.id
               for s in board.subtasks_of(t) if s.state is SubtaskState.PENDING]
    agents = {a.id: {"assigned": list(a.queue)[:limit], "running": sorted(a.running)[:limit]}
              for a in swarm.live_agents() if a.queue or a.running}
    return {"pending": pending[:limit], "pending_total": len(pending),
            "assigned_total": sum(len(a.queue) for a in swarm.live_agents()),
            "running_total": sum(len(a.running) for a in swarm.live_agents()), "by_agent": agents}
