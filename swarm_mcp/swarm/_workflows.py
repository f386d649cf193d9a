"""DAA workflows: a named DAG of steps, kept in the store, run as one engine task.

`define` validates a definition with the Queen's `plan_explicit` (ids unique, dependencies known,
no cycle: a cycle is named) and each step's executor (`client`: MCP clients claim it;
`claude`: a headless Claude worker). Definitions live in the memory store (namespace
`daa:workflows`, key = the workflow id), so they survive restarts. `start` turns a definition
into one engine task (`TaskBoard.orchestrate` with the steps as subtasks), restricted to the
chosen agents; run sequentially, each step also depends on the one before it in a topological
order of the DAG (so the chain never contradicts it). The engine's rules then apply unchanged:
routing, leases, a failed attempt retried on another agent (3 attempts), dependents of a step
that fails for good cancelled. `wait_steps` follows it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import Conflict, InvalidArgument, NotFound
from ._model import EXECUTORS, Subtask, SubtaskState, Task, TaskState
from ._queen import plan_explicit

if TYPE_CHECKING:
    from ._engine import SwarmEngine

__all__ = ("NAMESPACE", "Workflow", "define", "finish", "load", "save", "start", "step_report", "stop", "wait_steps")

NAMESPACE = "daa:workflows"
MAX_STEPS = 100
MAX_RESULT_SHOWN = 64 * 1024  # bytes of one step's result in the run report (all of it: task_results)
RUNS_KEPT = 10
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(slots=True)
class Workflow:
    id: str
    name: str
    strategy: str  # parallel, sequential or adaptive: how it runs when the caller does not say
    steps: list[dict[str, Any]]  # {id, description, type, executor, capabilities, dependsOn}
    created: float
    runs: list[dict[str, Any]] = field(default_factory=list)  # the newest executions

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "strategy": self.strategy, "steps": self.steps,
                "created": self.created, "runs": self.runs}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Workflow:
        return cls(str(data["id"]), str(data["name"]), str(data["strategy"]), [dict(s) for s in data["steps"]],
                   float(data["created"]), [dict(r) for r in data.get("runs", ())])

    def levels(self) -> int:
        """The longest dependency chain, in steps (how many rounds a parallel run needs)."""
        depth: dict[str, int] = {}
        for step in _topological(self.steps):
            depth[step["id"]] = 1 + max((depth[d] for d in step["dependsOn"]), default=0)
        return max(depth.values(), default=0)


def _slug(text: str) -> str | None:
    return text if _ID.match(text) else None


def define(workflow_id: str, name: str, steps: Sequence[str | Mapping[str, Any]],
           dependencies: Mapping[str, Sequence[str]] | None, strategy: str, created: float) -> Workflow:
    """A validated workflow. A step is a string (its id when it is a valid id, else its
    description) or an object {id, description, type, executor, capabilities, dependsOn};
    `dependencies` maps a step id to the steps it waits for (merged with dependsOn).

    Raises:
        InvalidArgument: a bad id, an empty or too long plan, an unknown executor or dependency,
            or a cycle (named).
    """
    if not _ID.match(workflow_id):
        raise InvalidArgument(f"id {workflow_id!r} must be 1-64 letters, digits or _.:-")
    if not steps:
        raise InvalidArgument("steps is empty; give at least one step (a string, or {id, description})")
    if len(steps) > MAX_STEPS:
        raise InvalidArgument(f"steps has {len(steps)} items; a workflow has at most {MAX_STEPS}")
    items: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        if isinstance(step, str):
            sid = _slug(step) or f"step{i + 1}"
            item: dict[str, Any] = {"id": sid, "description": step.replace("-", " ") if _slug(step) else step}
        else:
            item = {k: v for k, v in step.items() if v is not None}
            item.setdefault("id", f"step{i + 1}")
            item.setdefault("description", str(item["id"]).replace("-", " "))
        item["dependsOn"] = list(item.pop("dependsOn", None) or item.pop("depends_on", None) or ())
        item.setdefault("executor", "client")
        if item["executor"] not in EXECUTORS:
            raise InvalidArgument(f"step {item['id']!r} executor {item['executor']!r} is not one of {', '.join(EXECUTORS)}")
        items.append(item)
    known = {str(item["id"]) for item in items}
    for sid, deps in (dependencies or {}).items():
        owner = next((item for item in items if item["id"] == sid), None)
        if owner is None:
            raise InvalidArgument(f"dependencies names step {sid!r}, which is not a step; steps: {', '.join(sorted(known))}")
        owner["dependsOn"] = list(dict.fromkeys([*owner["dependsOn"], *deps]))
    plan = plan_explicit(items)  # ids, dependencies, cycles (named), types
    by_id = {p.key: p for p in plan.subtasks}
    normalised = [{"id": p.key, "description": p.description, "type": p.type, "executor": item["executor"],
                   "capabilities": list(p.capabilities), "dependsOn": list(p.depends_on)}
                  for item in items for p in [by_id[str(item["id"])]]]
    return Workflow(workflow_id, name, strategy, normalised, created)


async def save(engine: SwarmEngine, workflow: Workflow, *, durable: bool, replace: bool) -> int:
    """Store the definition; returns its version.

    Raises:
        Conflict: the id exists and `replace` is false.
    """
    from ..memory import VersionConflict

    try:
        entry = await engine.store.put(NAMESPACE, workflow.id, workflow.to_json(), durable=durable,
                                       if_version=None if replace else 0)
    except VersionConflict:
        raise Conflict(f"workflow {workflow.id!r} already exists; pass replace: true to redefine it, or choose "
                       "another id") from None
    return entry.version


async def load(engine: SwarmEngine, workflow_id: str) -> Workflow:
    entry = await engine.store.get(NAMESPACE, workflow_id)
    if entry is None:
        raise NotFound(f"No workflow with id {workflow_id!r}; create it with daa_workflow_create")
    return Workflow.from_json(entry.value)


def _topological(steps: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The steps in a dependency order that keeps the given order wherever it can."""
    done: set[str] = set()
    out: list[Mapping[str, Any]] = []
    pending = list(steps)
    while pending:
        ready = next(s for s in pending if set(s["dependsOn"]) <= done)
        out.append(ready)
        done.add(ready["id"])
        pending.remove(ready)
    return out


async def start(engine: SwarmEngine, workflow: Workflow, swarm_id: str, agent_ids: Sequence[str] | None,
                parallel: bool) -> Task:
    """Orchestrate the workflow as one task in `swarm_id` (only `agent_ids` may work on it)."""
    plan = [dict(s) for s in _topological(workflow.steps)]
    if not parallel:
        for before, step in itertools.pairwise(plan):
            if before["id"] not in step["dependsOn"]:
                step["dependsOn"] = [*step["dependsOn"], before["id"]]
    return await engine.board.orchestrate(
        f"workflow {workflow.id}: {workflow.name}", strategy="parallel" if parallel else "sequential",
        swarm_id=swarm_id, subtasks=plan, allowed_agents=agent_ids)


async def wait_steps(engine: SwarmEngine, task_id: str, reported: set[str], deadline: float) -> list[Subtask]:
    """The task's subtasks that finished and are not in `reported`, waiting (until `deadline`, in
    `anyio.current_time()`) for at least one while the task runs."""
    board = engine.board
    while True:
        task = board.task(task_id)
        news = [s for s in board.subtasks_of(task) if s.state.finished and s.id not in reported]
        if news or task.state not in (TaskState.RUNNING, TaskState.PENDING):
            return news
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            return []
        with anyio.move_on_after(remaining):
            await board.changed(task_id).wait()


def step_report(sub: Subtask, workflow: Workflow) -> dict[str, Any]:
    import orjson

    step_id = sub.id.split(".", 1)[1] if "." in sub.id else sub.id
    step = next((s for s in workflow.steps if s["id"] == step_id), None)
    result, size = sub.result, len(orjson.dumps(sub.result))
    out = {"step_id": step_id, "subtask_id": sub.id, "state": sub.state.value, "agent_id": sub.agent_id,
           "executor": sub.executor, "attempts": sub.attempts, "quality": sub.quality,
           "result": result if size <= MAX_RESULT_SHOWN else None,
           "started_at": sub.started_at, "finished_at": sub.finished_at,
           "seconds": None if sub.started_at is None or sub.finished_at is None
           else round(sub.finished_at - sub.started_at, 6)}
    if size > MAX_RESULT_SHOWN:
        out["result_omitted"] = f"{size:,} bytes; task_results(taskId={sub.task_id!r}, format: 'detailed') has it"
    if sub.failed_agents:
        out["failed_agents"] = sub.failed_agents
    if sub.reason:
        out["reason"] = sub.reason
    if step is None:
        out["extra"] = "a review the engine added (a critical or systems agent's work)"
    return out


async def stop(engine: SwarmEngine, task_id: str) -> None:
    """Cancel the run (its unfinished steps; leases revoked, executor runs stopped), if it still runs."""
    task = engine.board.tasks.get(task_id)
    if task is not None and task.state in (TaskState.RUNNING, TaskState.PENDING):
        await engine.board.cancel(task_id)


async def finish(engine: SwarmEngine, workflow: Workflow, task: Task, parallel: bool) -> dict[str, Any]:
    """The run's report (each step's result, agent and timing), kept in the workflow's history."""
    from ._daa import default_settings, settings_of

    subs = engine.board.subtasks_of(task)
    done = task.state not in (TaskState.RUNNING, TaskState.PENDING)
    seconds = (task.finished_at if task.finished_at is not None else engine.clock()) - task.created
    run = {"task_id": task.id, "state": task.state.value, "started": task.created, "seconds": round(seconds, 6),
           "steps_completed": sum(s.state is SubtaskState.COMPLETED for s in subs), "total_steps": len(subs)}
    workflow.runs = [*workflow.runs, run][-RUNS_KEPT:]
    swarm = engine.swarms.get(task.swarm_id)
    settings = settings_of(swarm) if swarm is not None else default_settings(engine)
    await engine.store.put(NAMESPACE, workflow.id, workflow.to_json(), durable=settings.durable("learning"))
    engine.event("daa_workflow_executed", {"workflow": workflow.id, "state": task.state.value,
                                           "seconds": round(seconds, 3), "steps": len(subs)},
                 swarm_id=task.swarm_id, task_id=task.id)
    return {
        "workflow_id": workflow.id, "task_id": task.id, "swarm_id": task.swarm_id, "state": task.state.value,
        "execution_complete": done, "parallel": parallel, **{k: run[k] for k in ("steps_completed", "total_steps")},
        "execution_seconds": run["seconds"], "agents_involved": sorted({s.agent_id for s in subs if s.agent_id}),
        "allowed_agents": task.allowed_agents, "reason": task.reason,
        "steps": [step_report(s, workflow) for s in subs],
        "next": None if done else f"still running: task_status(taskId={task.id!r}) follows it, task_cancel stops it",
    }
