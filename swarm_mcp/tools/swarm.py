"""`swarm_*`, `agent_*` and `neural_patterns`: swarms of supervised agents, as MCP tools."""

from __future__ import annotations

import os
from collections import Counter
from typing import Annotated, Any, Literal

import anyio
from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from ..swarm import PATTERNS, SwarmEngine, agent_summary, swarm_view
from ..swarm import agent_metrics as metrics_view
from ._registry import ToolContext, ToolRegistry

__all__ = ("register",)

Topology = Literal["mesh", "hierarchical", "ring", "star"]
AgentType = Literal["researcher", "coder", "analyst", "optimizer", "coordinator", "tester", "reviewer", "documenter",
                    "architect"]
PatternName = Literal["convergent", "divergent", "lateral", "systems", "critical", "abstract", "adaptive"]
SwarmId = Annotated[str | None, Field(description="Swarm id; may be omitted while only one swarm exists.")]


class SwarmReport(TypedDict):
    swarm: dict[str, Any]
    agents_spawned: NotRequired[list[dict[str, Any]]]


class SwarmStatus(TypedDict):
    swarms: list[dict[str, Any]]
    totals: dict[str, Any]


class MonitorReport(TypedDict):
    samples: list[dict[str, Any]]
    events: dict[str, int]
    duration_s: float


class AgentReport(TypedDict):
    agent: dict[str, Any]


class AgentList(TypedDict):
    agents: list[dict[str, Any]]
    count: int
    next_cursor: str | None


class MetricsReport(TypedDict):
    agents: list[dict[str, Any]]
    count: int


class PatternsReport(TypedDict):
    patterns: dict[str, Any]


def _engine(ctx: ToolContext) -> SwarmEngine:
    return ctx.app.swarm


async def swarm_init(
    ctx: ToolContext,
    topology: Annotated[Topology | None, Field(description="How agents delegate, share and fail over; omit with an objective to let the Queen choose.")] = None,
    max_agents: Annotated[int, Field(ge=1, description="Most agents in the swarm.")] = 8,
    strategy: Annotated[Literal["balanced", "specialized", "adaptive"] | None, Field(description="Routing: spread load, prefer specialists, or shift to specialists as brains learn (default adaptive).")] = None,
    objective: Annotated[str | None, Field(description="What the swarm is for; without topology the Queen designs and spawns the swarm.")] = None,
    name: Annotated[str | None, Field(description="A label.")] = None,
    cognitive_pattern: Annotated[PatternName, Field(description="The Queen's decision policy (see neural_patterns).")] = "adaptive",
    routing: Annotated[Literal["neural", "round_robin"], Field(description="neural: brain scores; round_robin: the baseline.")] = "neural",
    executor: Annotated[Literal["client", "claude"], Field(description="Default executor of its tasks.")] = "client",
) -> SwarmReport:
    """Create a swarm of supervised agents. Several swarms may exist at once.

    With an objective and no topology, the Queen analyses the objective, picks topology,
    strategy and agent mix, spawns the agents and returns her reasons (swarm.design)."""
    engine = _engine(ctx)
    swarm, design = await engine.create_swarm(topology=topology, max_agents=max_agents, strategy=strategy,
                                              objective=objective, name=name, pattern=cognitive_pattern,
                                              routing=routing, executor=executor)
    report: SwarmReport = {"swarm": swarm_view(engine, swarm, verbose=True)}
    if design is not None:
        report["agents_spawned"] = [agent_summary(a) for a in swarm.live_agents()]
    return report


async def swarm_status(
    ctx: ToolContext,
    swarm_id: Annotated[str | None, Field(description="One swarm; omit for all.")] = None,
    verbose: Annotated[bool, Field(description="Add topology edges and the agent list.")] = False,
) -> SwarmStatus:
    """Agents by state, queue depths, tasks and subtasks by state, restarts and escalations: now."""
    engine = _engine(ctx)
    swarms = [engine.swarm(swarm_id)] if swarm_id is not None else list(engine.swarms.values())
    views = [swarm_view(engine, s, verbose=verbose) for s in swarms]
    totals = {"swarms": len(engine.swarms), "agents": sum(len(s.live_agents()) for s in engine.swarms.values()),
              "open_subtasks": engine.board.open, "tasks": len(engine.board.tasks),
              "journal_commits": engine.persist.commits}
    if not engine.swarms:
        totals["next"] = "call swarm_init to create a swarm"
    return {"swarms": views, "totals": totals}


def _sample(engine: SwarmEngine, swarm_id: str | None, started: float) -> dict[str, Any]:
    swarms = [engine.swarm(swarm_id)] if swarm_id is not None else list(engine.swarms.values())
    agents = [a for s in swarms for a in s.agents.values()]
    subs = [engine.board.subtasks[s] for t in engine.board.tasks.values() if swarm_id is None or t.swarm_id == swarm_id
            for s in t.subtasks if s in engine.board.subtasks]
    return {"t": round(anyio.current_time() - started, 3), "agents": dict(Counter(a.state for a in agents)),
            "subtasks": dict(Counter(s.state.value for s in subs if not s.state.finished)),
            "completed_total": sum(s.completed for s in swarms), "failed_total": sum(s.failed for s in swarms)}


async def swarm_monitor(
    ctx: ToolContext,
    duration: Annotated[float, Field(gt=0, le=300, description="Seconds to watch.")] = 10,
    interval: Annotated[float, Field(ge=0.1, le=60, description="Seconds between samples.")] = 1,
    swarm_id: SwarmId = None,
) -> MonitorReport:
    """Watch the swarm for a while: samples agent and subtask states every interval (sent as
    progress notifications too) and counts the events that happened."""
    engine = _engine(ctx)
    if swarm_id is not None:
        engine.swarm(swarm_id)
    before = Counter(engine.counters)
    started = anyio.current_time()
    samples = [_sample(engine, swarm_id, started)]
    steps = max(1, int(duration / interval))
    for step in range(1, steps + 1):
        await anyio.sleep(max(0.0, started + step * interval - anyio.current_time()))
        sample = _sample(engine, swarm_id, started)
        samples.append(sample)
        await ctx.report_progress(step, steps, f"{sample['subtasks']} running/queued, {sample['completed_total']} completed")
    events = {k: v - before.get(k, 0) for k, v in engine.counters.items() if v - before.get(k, 0)}
    return {"samples": samples, "events": events, "duration_s": round(anyio.current_time() - started, 3)}


async def swarm_destroy(ctx: ToolContext, swarm_id: Annotated[str, Field(description="The swarm to destroy.")]) -> dict[str, Any]:
    """Stop a swarm's agents, cancel its unfinished tasks and delete it with everything it owns."""
    return await _engine(ctx).destroy_swarm(swarm_id)


async def agent_spawn(
    ctx: ToolContext,
    type: Annotated[AgentType, Field(description="The agent's role; it does its own kind of work best.")],  # noqa: A002
    name: Annotated[str | None, Field(description="A label.")] = None,
    capabilities: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]] | None, Field(max_length=32, description="Extra skills, e.g. ['python', 'sql'].")] = None,
    swarm_id: SwarmId = None,
    cognitive_pattern: Annotated[PatternName | None, Field(description="Its decision policy (default adaptive).")] = None,
) -> AgentReport:
    """Start a supervised agent in a swarm, with a brain that learns from its finished work."""
    engine = _engine(ctx)
    agent = await engine.spawn(swarm_id, type, name=name, capabilities=capabilities or (), pattern=cognitive_pattern)
    return {"agent": agent_summary(agent)}


async def agent_list(
    ctx: ToolContext,
    filter: Annotated[Literal["all", "active", "idle", "busy", "stopped"], Field(description="active: not stopped.")] = "all",  # noqa: A002
    swarm_id: Annotated[str | None, Field(description="One swarm; omit for all.")] = None,
    limit: Annotated[int, Field(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Field(description="next_cursor of the previous page.")] = None,
) -> AgentList:
    """List agents with their state, queue, running work and counts, in spawn order."""
    engine = _engine(ctx)
    swarms = [engine.swarm(swarm_id)] if swarm_id is not None else sorted(engine.swarms.values(), key=lambda s: s.created)
    agents = [a for s in swarms for a in sorted(s.agents.values(), key=lambda a: a.order)]
    wanted = {"all": None, "active": {"idle", "busy"}, "idle": {"idle"}, "busy": {"busy"}, "stopped": {"stopped"}}[filter]
    chosen = [a for a in agents if wanted is None or a.state in wanted]
    start = 0
    if cursor is not None:
        ids = [a.id for a in chosen]
        start = ids.index(cursor) + 1 if cursor in ids else 0
    page = chosen[start:start + limit]
    more = start + limit < len(chosen)
    return {"agents": [agent_summary(a) for a in page], "count": len(chosen),
            "next_cursor": page[-1].id if more and page else None}


async def agent_stop(ctx: ToolContext, agent_id: Annotated[str, Field(description="The agent to stop.")]) -> dict[str, Any]:
    """Stop an agent; its queued and running work moves to other agents as the topology says."""
    return await _engine(ctx).stop_agent(agent_id)


async def agent_metrics(
    ctx: ToolContext,
    agent_id: Annotated[str | None, Field(description="One agent; omit for every agent (up to 100, busiest first).")] = None,
    metric: Annotated[Literal["all", "tasks", "performance", "learning", "memory", "cpu"], Field(description="Which figures.")] = "all",
) -> MetricsReport:
    """Measured agent figures: tasks done/failed, mean and p95 duration, restarts, queue length,
    brain loss and experiences, prediction accuracy, its memory namespace (agent:<id>) size; cpu:
    the daemon process's CPU time (agents are coroutines of one process, not measured apart)."""
    engine = _engine(ctx)
    agents = [engine.agent(agent_id)] if agent_id is not None else sorted(
        engine.agents.values(), key=lambda a: -(a.metrics.done + a.metrics.failed + len(a.queue) + len(a.running)))[:100]
    out = []
    for agent in agents:
        usage = None
        if metric in ("all", "memory"):
            usage = {"namespace": f"agent:{agent.id}", **await ctx.app.store.usage(namespace=f"agent:{agent.id}"),
                     "owned_entries": await ctx.app.store.usage(agent_id=agent.id)}
        view = metrics_view(engine, agent, metric, usage)
        if metric in ("all", "cpu"):
            times = os.times()
            view["cpu"] = {"process_user_seconds": times.user, "process_system_seconds": times.system,
                           "measured_for": "the whole daemon process; agents share it"}
        out.append(view)
    return {"agents": out, "count": len(engine.agents) if agent_id is None else 1}


async def neural_patterns(
    ctx: ToolContext,
    pattern: Annotated[Literal["all", "convergent", "divergent", "lateral", "systems", "critical", "abstract", "adaptive"], Field(description="Which pattern.")] = "all",
) -> PatternsReport:
    """Cognitive patterns: the decision policies of the Queen, coordinators and agents. Each entry
    documents the policy and reports its measured effect so far: decisions made, how often they
    explored, success of the work so decided, reviews added, agents using it."""
    engine = _engine(ctx)
    users = Counter(a.pattern for a in engine.agents.values() if not a.stopped)
    queens = Counter(s.pattern for s in engine.swarms.values())
    out = {}
    for name, spec in PATTERNS.items():
        if pattern not in ("all", name):
            continue
        stats = engine.pattern_stats[name]
        decided = stats["succeeded"] + stats["failed"]
        out[name] = {**spec.describe(), "measured": {
            "decisions": stats["decisions"], "explored": stats["explored"],
            "exploration_observed": round(stats["explored"] / stats["decisions"], 4) if stats["decisions"] else None,
            "outcomes": decided, "success_rate": round(stats["succeeded"] / decided, 4) if decided else None,
            "reviews_added": stats["reviews_added"], "agents": users[name], "queens": queens[name]}}
    return {"patterns": out}


def register(registry: ToolRegistry) -> None:
    registry.add(swarm_init, title="Create a swarm", destructive=False, idempotent=False)
    registry.add(swarm_status, title="Swarm status", read_only=True)
    registry.add(swarm_monitor, title="Monitor a swarm", read_only=True)
    registry.add(swarm_destroy, title="Destroy a swarm", destructive=True, idempotent=False)
    registry.add(agent_spawn, title="Spawn an agent", destructive=False, idempotent=False)
    registry.add(agent_list, title="List agents", read_only=True)
    registry.add(agent_stop, title="Stop an agent", destructive=True, idempotent=False)
    registry.add(agent_metrics, title="Agent metrics", read_only=True)
    registry.add(neural_patterns, title="Cognitive patterns", read_only=True)
