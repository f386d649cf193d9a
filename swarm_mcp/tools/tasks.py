"""`task_*`: the Queen plans and routes work; MCP clients claim it, do it and report it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from ..swarm import SwarmEngine, claim_view, subtask_view, task_summary, task_view
from ..swarm import task_results as results_view
from ._registry import ToolContext, ToolRegistry

__all__ = ("register",)

Capability = Annotated[str, Field(min_length=1, max_length=64)]
TaskId = Annotated[str, Field(description="A task id from task_orchestrate, or a subtask id from task_claim.")]
SubtaskId = Annotated[str, Field(description="The subtask id task_claim returned (its subtask_id).")]
LeaseId = Annotated[str | None, Field(description="The lease_id from task_claim; when given it must still be current.")]


class PlannedStep(BaseModel):
    """One subtask of an explicit plan."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Annotated[str, Field(description="Unique within the plan, e.g. 'design'.")]
    description: Annotated[str, Field(description="The work to do.")]
    type: Annotated[Literal["research", "code", "analysis", "optimization", "coordination", "testing", "review",
                            "documentation", "architecture"] | None, Field(description="Default: from the description.")] = None
    capabilities: Annotated[list[Capability] | None, Field(max_length=32)] = None
    depends_on: Annotated[list[str] | None, Field(alias="dependsOn", description="Ids that must complete first.")] = None


class TaskReport(TypedDict):
    task: dict[str, Any]


class TaskList(TypedDict):
    tasks: list[dict[str, Any]]
    count: int


class ClaimReport(TypedDict):
    claimed: bool
    subtask_id: NotRequired[str]
    task_id: NotRequired[str]
    swarm_id: NotRequired[str]
    description: NotRequired[str]
    type: NotRequired[str]
    task: NotRequired[str]
    agent: NotRequired[dict[str, Any]]
    context: NotRequired[list[dict[str, Any]]]
    attempt: NotRequired[int]
    lease: NotRequired[dict[str, Any]]
    next: NotRequired[str]
    taken_from: NotRequired[str]
    review_of: NotRequired[dict[str, Any]]
    reason: NotRequired[str]


class SubtaskReport(TypedDict):
    subtask: dict[str, Any]
    task: dict[str, Any]


def _engine(ctx: ToolContext) -> SwarmEngine:
    return ctx.app.swarm


async def task_orchestrate(
    ctx: ToolContext,
    task: Annotated[str, Field(description="The objective, in words.")],
    strategy: Annotated[Literal["parallel", "sequential", "adaptive"], Field(description="Plan shape: fan out over parts, a chain, or chosen from the analysis.")] = "adaptive",
    priority: Annotated[Literal["low", "medium", "high", "critical"], Field(description="Claim order across tasks.")] = "medium",
    max_agents: Annotated[int | None, Field(ge=1, description="Most distinct agents to use.")] = None,
    swarm_id: Annotated[str | None, Field(description="Swarm id; may be omitted while only one swarm exists.")] = None,
    subtasks: Annotated[list[PlannedStep] | None, Field(max_length=200, description="Your own plan; the Queen validates (no cycles), assigns and schedules it.")] = None,
    executor: Annotated[Literal["client", "claude"] | None, Field(description="client: MCP clients claim the work; claude: headless Claude workers. Default: the swarm's.")] = None,
) -> TaskReport:
    """Plan a task and route its ready subtasks to agents (capability match × brain scores).

    Without subtasks the Queen plans from the text (type, complexity, a dependency graph). The
    result shows the analysis, each subtask's agent and why. Then: task_claim / task_complete
    (client executor), task_status to follow, task_results when done."""
    engine = _engine(ctx)
    plan = None
    if subtasks is not None:
        plan = [step.model_dump() for step in subtasks]
    created = await engine.board.orchestrate(task, strategy=strategy, priority=priority, max_agents=max_agents,
                                             swarm_id=swarm_id, subtasks=plan, executor=executor)
    return {"task": task_view(engine, created, detailed=True)}


async def task_status(
    ctx: ToolContext,
    task_id: Annotated[str | None, Field(description="One task; omit to list tasks (newest first).")] = None,
    detailed: Annotated[bool, Field(description="Add the Queen's analysis, routing decisions and timings.")] = False,
    wait: Annotated[float, Field(ge=0, le=60, description="Seconds to wait for the task to finish first.")] = 0,
    limit: Annotated[int, Field(ge=1, le=500, description="Most tasks when listing.")] = 50,
) -> TaskReport | TaskList:
    """A task's state and each subtask's state, agent and attempts; or the list of tasks."""
    engine = _engine(ctx)
    if task_id is None:
        tasks = sorted(engine.board.tasks.values(), key=lambda t: -t.created)
        return {"tasks": [{k: v for k, v in task_view(engine, t).items() if k != "subtasks"} for t in tasks[:limit]],
                "count": len(tasks)}
    task = await engine.board.wait(task_id, wait) if wait else engine.board.task(task_id)
    return {"task": task_view(engine, task, detailed=detailed)}


async def task_results(
    ctx: ToolContext,
    task_id: TaskId,
    format: Annotated[Literal["summary", "detailed", "raw"], Field(description="summary: results cut to 500 characters; detailed: full results and timings; raw: the stored records.")] = "summary",  # noqa: A002
) -> dict[str, Any]:
    """The results of a task's subtasks, with their agents, quality and timings."""
    engine = _engine(ctx)
    return results_view(engine, engine.board.task(task_id), format)


async def task_cancel(ctx: ToolContext, task_id: TaskId) -> dict[str, Any]:
    """Cancel a task: its unfinished subtasks are cancelled and their leases revoked."""
    engine = _engine(ctx)
    task, cancelled = await engine.board.cancel(task_id)
    return {"task_id": task.id, "state": task.state.value, "subtasks_cancelled": cancelled}


async def task_claim(
    ctx: ToolContext,
    agent_id: Annotated[str | None, Field(description="Work assigned to this agent (or that it may take from a neighbour).")] = None,
    capabilities: Annotated[list[Capability] | None, Field(max_length=64, description="Only subtasks needing nothing beyond these.")] = None,
    swarm_id: Annotated[str | None, Field(description="Only this swarm's work.")] = None,
    lease_seconds: Annotated[float | None, Field(description="Lease length (default 300 s).")] = None,
    wait: Annotated[float, Field(ge=0, le=30, description="Seconds to wait for work to appear.")] = 0,
) -> ClaimReport:
    """Claim the next ready subtask (highest priority first) under a lease, with the results of
    the subtasks it depends on. Do the work for its agent, then task_complete or task_fail;
    task_heartbeat keeps the lease. Two clients never get the same subtask."""
    engine = _engine(ctx)
    claim = await engine.board.claim(agent_id=agent_id, capabilities=capabilities, swarm_id=swarm_id,
                                     lease_seconds=lease_seconds, wait=wait)
    if claim is None:
        waiting = engine.board.open
        reason = "no ready subtask matches" if waiting else "no unfinished work; task_orchestrate creates some"
        if agent_id is not None:
            agent = engine.agent(agent_id)
            if len(agent.running) >= agent.concurrency:
                reason = f"agent {agent_id} is busy with {len(agent.running)} subtask(s), its concurrency"
        return {"claimed": False, "reason": f"{reason} ({waiting} subtasks unfinished)"}
    return claim_view(engine, claim)  # type: ignore[return-value]


def _report(engine: SwarmEngine, subtask_id: str) -> SubtaskReport:
    sub = engine.board.subtask(subtask_id)
    return {"subtask": subtask_view(sub), "task": task_summary(engine, engine.board.tasks[sub.task_id])}


async def task_heartbeat(ctx: ToolContext, task_id: SubtaskId, lease_id: LeaseId = None,
                         seconds: Annotated[float | None, Field(description="New lease length from now.")] = None) -> dict[str, Any]:
    """Extend the lease of a claimed subtask you are still working on."""
    engine = _engine(ctx)
    sub = engine.board.heartbeat(task_id, lease_id=lease_id, seconds=seconds)
    assert sub.lease is not None
    return {"subtask_id": sub.id, "lease_id": sub.lease.id, "expires_at": sub.lease.expires_at}


async def task_complete(
    ctx: ToolContext,
    task_id: SubtaskId,
    result: Annotated[Any, Field(description="The work's result: any JSON (up to 1 MiB).")],
    success: Annotated[bool, Field(description="false: attempted but not achieved (it retries elsewhere).")] = True,
    quality: Annotated[float | None, Field(ge=0, le=1, description="Your judgement of the result, 0..1.")] = None,
    lease_id: LeaseId = None,
) -> SubtaskReport:
    """Report a claimed subtask done. Its agent's metrics and brain learn from it; dependents
    become ready; the reply shows the task's progress."""
    engine = _engine(ctx)
    await engine.board.complete(task_id, result, success=success, quality=quality, lease_id=lease_id)
    return _report(engine, task_id)


async def task_fail(
    ctx: ToolContext,
    task_id: SubtaskId,
    reason: Annotated[str, Field(description="What went wrong.")],
    retry: Annotated[bool, Field(description="Retry on another agent (up to 3 attempts).")] = True,
    lease_id: LeaseId = None,
) -> SubtaskReport:
    """Report a claimed subtask failed. It retries on another agent as the topology says, or
    fails for good (and its dependents are cancelled)."""
    engine = _engine(ctx)
    await engine.board.fail(task_id, reason, retry=retry, lease_id=lease_id)
    return _report(engine, task_id)


def register(registry: ToolRegistry) -> None:
    registry.add(task_orchestrate, title="Orchestrate a task", destructive=False, idempotent=False)
    registry.add(task_status, title="Task status", read_only=True)
    registry.add(task_results, title="Task results", read_only=True)
    registry.add(task_cancel, title="Cancel a task", destructive=True, idempotent=False)
    registry.add(task_claim, title="Claim a subtask", destructive=False, idempotent=False)
    registry.add(task_heartbeat, title="Extend a lease", destructive=False, idempotent=True)
    registry.add(task_complete, title="Complete a subtask", destructive=False, idempotent=False)
    registry.add(task_fail, title="Fail a subtask", destructive=False, idempotent=False)
