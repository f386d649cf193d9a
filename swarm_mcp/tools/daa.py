"""`daa_*`: decentralized autonomous agents, as thin views over the swarm engine's agents,
brains, tasks and event log (`swarm_mcp.swarm._daa` and friends hold the rules)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ..errors import InvalidArgument
from ..swarm import SwarmEngine, daa, performance, transfer, workflows
from ._registry import ToolContext, ToolRegistry

__all__ = ("register",)

PatternName = Literal["convergent", "divergent", "lateral", "systems", "critical", "abstract", "adaptive"]
Word = Annotated[str, Field(min_length=1, max_length=64)]
AgentId = Annotated[str, Field(min_length=1, max_length=64, description="A DAA (or any engine) agent id.")]
SwarmId = Annotated[str | None, Field(max_length=64, description="Default: the DAA swarm.")]


class WorkflowStep(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Word
    description: Annotated[str | None, Field(max_length=4000)] = None
    type: Literal["research", "code", "analysis", "optimization", "coordination", "testing", "review",
                  "documentation", "architecture"] | None = None
    executor: Literal["client", "claude"] | None = None
    capabilities: Annotated[list[Word] | None, Field(max_length=32)] = None
    depends_on: Annotated[list[Word] | None, Field(alias="dependsOn", max_length=100)] = None


def _engine(ctx: ToolContext) -> SwarmEngine:
    return ctx.app.swarm


async def daa_init(
    ctx: ToolContext,
    enable_learning: Annotated[bool, Field(description="Brains train (adaptation, rounds, transfer).")] = True,
    enable_coordination: Annotated[bool, Field(description="Agents may share knowledge.")] = True,
    persistence_mode: Annotated[Literal["auto", "memory", "disk"], Field(description="disk: DAA writes return once committed; memory: written behind; auto: configuration durable, learning behind.")] = "auto",
    topology: Annotated[Literal["mesh", "hierarchical", "ring", "star"] | None, Field(description="For a new DAA swarm (default mesh).")] = None,
    swarm_id: Annotated[str | None, Field(max_length=64, description="Configure this swarm instead.")] = None,
    max_agents: Annotated[int | None, Field(ge=1, le=10_000, description="For a new DAA swarm (default 32).")] = None,
) -> dict[str, Any]:
    """Turn DAA on: create (or reuse) the DAA swarm and set whether its agents learn and share
    and how durably DAA state is written. Settings persist across restarts."""
    engine = _engine(ctx)
    swarm, created = await daa.init(engine, enable_learning=enable_learning, enable_coordination=enable_coordination,
                                    persistence_mode=persistence_mode, topology=topology, swarm_id=swarm_id,
                                    max_agents=max_agents)
    settings = daa.settings_of(swarm)
    return {"swarm_id": swarm.id, "created": created, "topology": swarm.topology, "settings": settings.to_json(),
            "learning_available": engine.brains is not None, "agents": len(swarm.live_agents()),
            "daa_agents": sum(1 for a in swarm.live_agents() if a.daa is not None),
            "next": "daa_agent_create(id, capabilities, cognitivePattern, learningRate)"}


async def daa_agent_create(
    ctx: ToolContext,
    id: Annotated[str, Field(min_length=1, max_length=64, description="Its unique id (letters, digits, _.:-).")],  # noqa: A002
    capabilities: Annotated[list[Word] | None, Field(max_length=32)] = None,
    cognitive_pattern: Annotated[PatternName, Field(description="Its decision policy.")] = "adaptive",
    learning_rate: Annotated[float | None, Field(gt=0, le=1, description="Its brain's Adam rate (default 0.05).")] = None,
    enable_memory: Annotated[bool, Field(description="Keep a memory namespace agent:<id>.")] = True,
    type: Annotated[Literal["researcher", "coder", "analyst", "optimizer", "coordinator", "tester", "reviewer",  # noqa: A002
                            "documenter", "architect"] | None, Field(description="Default: from capabilities.")] = None,
    swarm_id: SwarmId = None,
) -> dict[str, Any]:
    """Create a supervised engine agent with its own id, learning rate, cognitive pattern and
    memory namespace. An existing id is an error."""
    engine = _engine(ctx)
    agent, durable = await daa.create_agent(engine, agent_id=id, capabilities=capabilities or (),
                                            pattern=cognitive_pattern, learning_rate=learning_rate,
                                            memory=enable_memory, agent_type=type, swarm_id=swarm_id)
    assert agent.daa is not None
    return {"agent": {"id": agent.id, "swarm_id": agent.swarm_id, "type": agent.type, "cognitive_pattern": agent.pattern,
                      "capabilities": list(agent.capabilities), "status": agent.state},
            "learning_rate": agent.daa.learning_rate, "memory_namespace": f"agent:{agent.id}" if agent.daa.memory else None,
            "learning_enabled": daa.settings_of(engine.swarms[agent.swarm_id]).enable_learning, "durable": durable}


async def daa_agent_adapt(
    ctx: ToolContext,
    agent_id: AgentId,
    feedback: Annotated[str, Field(min_length=1, max_length=4000, description="What the agent did and how it went.")],
    performance_score: Annotated[float, Field(ge=0, le=1, description="How well it did, 0..1: the training target.")],
    suggestions: Annotated[list[Annotated[str, Field(max_length=500)]] | None, Field(max_length=20)] = None,
) -> dict[str, Any]:
    """Learn from feedback now: the text becomes an example with the score as target, one
    gradient step on the agent's brain (prediction and loss before/after), then the agent's
    pattern switches by its rule (mean of 3 recent scores < 0.4: explore; >= 0.8: convergent)."""
    return await daa.adapt(_engine(ctx), agent_id, feedback, performance_score, suggestions or ())


async def daa_workflow_create(
    ctx: ToolContext,
    id: Annotated[str, Field(min_length=1, max_length=64)],  # noqa: A002
    name: Annotated[str, Field(min_length=1, max_length=200)],
    steps: Annotated[list[Annotated[str, Field(min_length=1, max_length=4000)] | WorkflowStep], Field(min_length=1, max_length=100, description="Step ids/descriptions, or {id, description, type, executor, dependsOn}.")],
    dependencies: Annotated[dict[str, list[Word]] | None, Field(max_length=100, description="step id -> the steps it waits for.")] = None,
    strategy: Annotated[Literal["parallel", "sequential", "adaptive"], Field(description="Default run: the DAG in parallel, or one step at a time.")] = "adaptive",
    replace: Annotated[bool, Field(description="Redefine an existing id.")] = False,
) -> dict[str, Any]:
    """Define a workflow: a DAG of steps (a cycle is refused and named), each with an executor
    (client: MCP clients claim it; claude: a Claude worker). Stored; run it with daa_workflow_execute."""
    engine = _engine(ctx)
    items = [s if isinstance(s, str) else s.model_dump(by_alias=True) for s in steps]
    workflow = workflows.define(id, name, items, dependencies, strategy, engine.clock())
    for step in workflow.steps:
        engine.board.check_executor(step["executor"])
    version = await workflows.save(engine, workflow, durable=daa.default_settings(engine).durable("config"),
                                   replace=replace)
    return {"workflow_id": workflow.id, "name": workflow.name, "strategy": workflow.strategy, "version": version,
            "steps": workflow.steps, "total_steps": len(workflow.steps), "levels": workflow.levels(),
            "dependencies_count": sum(len(s["dependsOn"]) for s in workflow.steps)}


async def daa_workflow_execute(
    ctx: ToolContext,
    workflow_id: Annotated[str, Field(min_length=1, max_length=64)],
    agent_ids: Annotated[list[AgentId] | None, Field(max_length=64, description="Only these agents work on it.")] = None,
    parallel_execution: Annotated[bool | None, Field(description="false: one step at a time. Default: from its strategy.")] = None,
    swarm_id: SwarmId = None,
    timeout: Annotated[float, Field(gt=0, le=3600, description="Seconds to wait; then the progress so far (it keeps running).")] = 300,
) -> dict[str, Any]:
    """Run a workflow as one engine task (retries, failover, dependents cancelled on failure):
    a progress notification per finished step; returns each step's result, agent and timing.
    Client steps are claimed with task_claim. Cancelling this call cancels the run."""
    engine = _engine(ctx)
    workflow = await workflows.load(engine, workflow_id)
    if agent_ids:
        swarms = {engine.agent(a).swarm_id for a in agent_ids}
        if len(swarms) > 1 or (swarm_id is not None and swarm_id not in swarms):
            raise InvalidArgument(f"agentIds are in swarms {sorted(swarms)}; a workflow runs within one swarm")
        swarm = engine.swarm(swarms.pop())
    else:
        swarm = daa.daa_swarm(engine, swarm_id)
    parallel = parallel_execution if parallel_execution is not None else workflow.strategy != "sequential"
    task = await workflows.start(engine, workflow, swarm.id, agent_ids, parallel)
    deadline = anyio.current_time() + timeout
    reported: set[str] = set()
    try:
        while True:
            finished = await workflows.wait_steps(engine, task.id, reported, deadline)
            for sub in finished:
                reported.add(sub.id)
                await ctx.report_progress(len(reported), len(task.subtasks),
                                          f"{sub.id} {sub.state.value}" + (f" by {sub.agent_id}" if sub.agent_id else ""))
            if not finished:
                break
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            await workflows.stop(engine, task.id)
        raise
    return await workflows.finish(engine, workflow, task, parallel)


async def daa_knowledge_share(
    ctx: ToolContext,
    source_agent_id: Annotated[str, Field(alias="sourceAgentId", min_length=1, max_length=64, validation_alias=AliasChoices("sourceAgentId", "source_agent_id", "source_agent"))],
    target_agent_ids: Annotated[list[AgentId], Field(alias="targetAgentIds", min_length=1, max_length=32, validation_alias=AliasChoices("targetAgentIds", "target_agent_ids", "target_agents"), description="Its topology neighbours.")],
    knowledge_domain: Annotated[str, Field(min_length=1, max_length=64)] = "general",
    knowledge_content: Annotated[dict[str, Any] | None, Field(max_length=64, description="Each key becomes an entry.")] = None,
    blend_weight: Annotated[float, Field(ge=0, le=1, description="Source share in the blended weights.")] = 0.3,
) -> dict[str, Any]:
    """Share along topology edges: copy the source's knowledge entries of the domain into each
    target's memory (agent:<id>) and blend each target's brain toward the source's; reports how
    much each target's predictions changed."""
    return await daa.share(_engine(ctx), source_agent_id, target_agent_ids, knowledge_domain, knowledge_content,
                           blend_weight)


async def daa_learning_status(
    ctx: ToolContext,
    agent_id: Annotated[str | None, Field(max_length=64, description="One agent; omit for every DAA agent.")] = None,
    detailed: Annotated[bool, Field(description="Full loss history, by task type, pattern switches.")] = False,
) -> dict[str, Any]:
    """Real learning figures: experiences, training rounds and feedback steps, loss history, and
    accuracy on held-out experiences (every 5th finished subtask, never trained on)."""
    engine = _engine(ctx)
    if agent_id is not None:
        agents = [engine.agent(agent_id)]
    else:
        agents = [a for s in engine.swarms.values() for a in s.live_agents() if a.daa is not None or s.daa is not None][:100]
    rows = await daa.agent_learning(engine, agents, detailed=detailed)
    if agent_id is not None:
        return {"agent": rows[0]}
    accuracies = [r["held_out"]["accuracy"] for r in rows if r["held_out"]["accuracy"] is not None]
    return {"agents": rows, "count": len(rows),
            "totals": {"experiences": sum(r["experiences"] for r in rows),
                       "mean_held_out_accuracy": round(sum(accuracies) / len(accuracies), 4) if accuracies else None}}


async def daa_cognitive_pattern(
    ctx: ToolContext,
    agent_id: AgentId,
    action: Annotated[Literal["analyze", "change"] | None, Field(description="Default: change when pattern is given.")] = None,
    pattern: Annotated[PatternName | None, Field(description="The new pattern (change).")] = None,
    analyze: Annotated[bool | None, Field(description="Same as action: analyze.")] = None,
) -> dict[str, Any]:
    """analyze: the agent's pattern and its measured effect (its decisions' exploration rate,
    its work's success rate by pattern, switches, what the rule does next); change: set it."""
    engine = _engine(ctx)
    chosen = action or ("analyze" if analyze or pattern is None else "change")
    if chosen == "change":
        if pattern is None:
            raise InvalidArgument("action 'change' needs pattern: one of convergent, divergent, lateral, systems, "
                                  "critical, abstract, adaptive")
        return await daa.set_pattern(engine, agent_id, pattern)
    return daa.analyze_pattern(engine, engine.agent(agent_id))


async def daa_meta_learning(
    ctx: ToolContext,
    source_domain: Annotated[str, Field(min_length=1, max_length=64, description="A task type, e.g. code.")],
    target_domain: Annotated[str, Field(min_length=1, max_length=64, description="A task type, e.g. testing.")],
    transfer_mode: Annotated[Literal["adaptive", "direct", "gradual"], Field(description="direct: start from source weights; gradual: and pull toward them; adaptive: the better per agent.")] = "adaptive",
    agent_ids: Annotated[list[AgentId] | None, Field(max_length=32, description="Default: the DAA swarm's agents.")] = None,
    swarm_id: SwarmId = None,
) -> dict[str, Any]:
    """Transfer learning between domains (task types): train a source-domain brain on the
    agents' source experiences, measure transfer vs scratch on each agent's target experiences
    (cross-validated), and give agents with a positive gain a brain started from the source."""
    return await transfer.meta_learn(_engine(ctx), source_domain, target_domain, transfer_mode, agent_ids, swarm_id)


async def daa_performance_metrics(
    ctx: ToolContext,
    category: Annotated[Literal["all", "system", "performance", "efficiency", "neural"], Field()] = "all",
    time_range: Annotated[str, Field(max_length=10, description="e.g. 30m, 1h, 7d.")] = "1h",
    swarm_id: Annotated[str | None, Field(max_length=64, description="One swarm; omit for all.")] = None,
) -> dict[str, Any]:
    """Computed from the event log over the time range: throughput, latencies, success rates,
    retries, busy and training time, learning gains."""
    engine = _engine(ctx)
    if swarm_id is not None:
        engine.swarm(swarm_id)
    out = await performance.compute(engine, category, performance.window_seconds(time_range), swarm_id)
    return {"category": category, "time_range": time_range, **out}


def register(registry: ToolRegistry) -> None:
    registry.add(daa_init, title="Initialise DAA", destructive=False, idempotent=True)
    registry.add(daa_agent_create, title="Create a DAA agent", destructive=False, idempotent=False)
    registry.add(daa_agent_adapt, title="Adapt an agent", destructive=False, idempotent=False)
    registry.add(daa_workflow_create, title="Define a workflow", destructive=False, idempotent=False)
    registry.add(daa_workflow_execute, title="Run a workflow", destructive=False, idempotent=False)
    registry.add(daa_knowledge_share, title="Share knowledge", destructive=False, idempotent=False)
    registry.add(daa_learning_status, title="Learning status", read_only=True)
    registry.add(daa_cognitive_pattern, title="Cognitive pattern", destructive=False, idempotent=True)
    registry.add(daa_meta_learning, title="Meta-learning", destructive=False, idempotent=False)
    registry.add(daa_performance_metrics, title="DAA metrics", read_only=True)
