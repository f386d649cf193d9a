"""The task board: orchestrated tasks, their subtasks, claims, leases, results.

`orchestrate` plans a task (the Queen), registers its subtasks and routes the ready ones.
A routed subtask sits in its agent's queue. Client work is claimed (`claim`) under a lease that
`heartbeat` extends and that expires back to the queue, counting a failure for the agent, if
nobody reports in time; active executors' work is picked up by the agent's own coroutine
(`next_execution`). `complete` and `fail` end an attempt: the agent's metrics and brain learn
from it, a failed attempt retries on another agent as the topology says, dependents become
ready and are routed, and the task finishes when all its subtasks have. Every state change is
marked for the journal; completions, failures and new tasks wait for their commit.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from ..errors import Conflict, InvalidArgument, LimitExceeded, NotFound, format_choices
from ..memory import RecordBatch
from ._executors import WorkItem
from ._features import task_features
from ._model import EXECUTORS, PRIORITIES, TASK_STRATEGIES, Agent, Lease, Subtask, SubtaskState, Swarm, Task, TaskState
from ._patterns import PATTERNS
from ._queen import analyze, plan_explicit, plan_task
from ._router import match, plan_route

if TYPE_CHECKING:
    from ._engine import SwarmEngine

__all__ = ("Claim", "TaskBoard")

MAX_TASK_TEXT = 10_000
MAX_REASON = 2_000
MAX_CONTEXT_BYTES = 512 * 1024
RUNNING, ASSIGNED, PENDING = SubtaskState.RUNNING, SubtaskState.ASSIGNED, SubtaskState.PENDING
COMPLETED, FAILED, CANCELLED = SubtaskState.COMPLETED, SubtaskState.FAILED, SubtaskState.CANCELLED


class Claim:
    """A claimed subtask: the subtask, its task, the results it depends on, and its lease."""

    __slots__ = ("subtask", "task", "context", "taken_from")

    def __init__(self, subtask: Subtask, task: Task, context: list[dict[str, Any]], taken_from: str | None) -> None:
        self.subtask, self.task, self.context, self.taken_from = subtask, task, context, taken_from


def _json_size(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except TypeError as exc:
        raise InvalidArgument(f"result is not JSON ({exc})") from None


class TaskBoard:
    """Tasks and subtasks of every swarm; see the module docstring."""

    def __init__(self, engine: SwarmEngine) -> None:
        self.engine = engine
        self.tasks: dict[str, Task] = {}
        self.subtasks: dict[str, Subtask] = {}
        self._heaps: dict[str, list[tuple[int, int, str]]] = {}  # per swarm: claimable client work
        self._seq = itertools.count()
        self._work = anyio.Event()
        self._done: dict[str, anyio.Event] = {}
        self._changes: dict[str, anyio.Event] = {}  # per task: set when one of its attempts ends
        self._finished: dict[str, deque[str]] = {}
        self._executions: dict[str, anyio.CancelScope] = {}
        self._leases = itertools.count(1)
        self._lease_prefix = secrets.token_hex(4)  # lease ids: unique per daemon, cheap to make
        self.open = 0  # unfinished subtasks
        self._unfinished: dict[str, int] = {}  # per task
        self._dependents: dict[str, list[str]] = {}  # subtask -> the subtasks that depend on it

    # -- lookups ----------------------------------------------------------------------------

    def task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            sub = self.subtasks.get(task_id)
            if sub is not None:
                return self.tasks[sub.task_id]
            raise NotFound(f"No task with id {task_id!r} ({len(self.tasks)} kept); call task_status without taskId to list them")
        return task

    def subtask(self, subtask_id: str) -> Subtask:
        sub = self.subtasks.get(subtask_id)
        if sub is None:
            hint = " (that is a task id; claim its subtasks with task_claim)" if subtask_id in self.tasks else ""
            raise NotFound(f"No subtask with id {subtask_id!r}{hint}; task_claim returns subtask ids, task_status lists them")
        return sub

    def unfinished(self, task_id: str) -> int:
        """Subtasks of the task not finished yet."""
        return self._unfinished.get(task_id, 0)

    def subtasks_of(self, task: Task) -> list[Subtask]:
        return [self.subtasks[s] for s in task.subtasks if s in self.subtasks]

    # -- planning ---------------------------------------------------------------------------

    async def orchestrate(self, text: str, *, strategy: str = "adaptive", priority: str = "medium",
                          max_agents: int | None = None, swarm_id: str | None = None,
                          subtasks: Sequence[dict[str, Any]] | None = None, executor: str | None = None,
                          allowed_agents: Sequence[str] | None = None) -> Task:
        """Plan `text` (or validate the given `subtasks`), register it and route its ready subtasks.

        A subtask of an explicit plan may name its own `executor`. `allowed_agents`: only these
        agents of the swarm may do the task's work (retries included).

        Raises:
            InvalidArgument: bad strategy, priority, executor or plan (a cycle is named), or an
                allowed agent that is not running in the swarm.
            Conflict: the swarm has no agents.
            LimitExceeded: too many unfinished subtasks in the daemon.
        """
        engine = self.engine
        swarm = engine.swarm(swarm_id)
        if not text.strip() or len(text) > MAX_TASK_TEXT:
            raise InvalidArgument(f"task must be 1 to {MAX_TASK_TEXT:,} characters describing the work")
        for what, value, valid in (("strategy", strategy, TASK_STRATEGIES), ("priority", priority, tuple(PRIORITIES))):
            if value not in valid:
                raise InvalidArgument(f"{what} {value!r} is not valid; use one of {format_choices(valid)}")
        executor = executor or swarm.executor
        self.check_executor(executor)
        live = swarm.live_agents()
        if not live:
            raise Conflict(f"swarm {swarm.id!r} has no running agents; call agent_spawn first")
        if allowed_agents is not None:
            running = {a.id for a in live}
            strangers = [a for a in allowed_agents if a not in running]
            if strangers or not allowed_agents:
                raise InvalidArgument(f"agent(s) {strangers or '[]'} are not running in swarm {swarm.id!r}; running: "
                                      f"{format_choices(sorted(running), limit=20)} (agent_list shows them)")
        analysis = analyze(text)
        plan = plan_explicit(subtasks) if subtasks is not None else plan_task(analysis, strategy, text)
        for item in plan.subtasks:
            if item.executor is not None:
                self.check_executor(item.executor)
        if self.open + len(plan.subtasks) > engine.config.max_open_subtasks:
            raise LimitExceeded(f"{self.open} subtasks are unfinished, and this task would exceed the daemon's limit of "
                                f"{engine.config.max_open_subtasks} (setting swarm_max_open_subtasks); finish or cancel some")
        now = engine.clock()
        rank = PRIORITIES[priority]
        task_id = engine._new_id("task")
        task = Task(task_id, swarm.id, text.strip(), strategy, rank, executor, now,
                    {**analysis.to_json(), "plan_shape": plan.shape, "plan_reasons": list(plan.reasons)}, [],
                    max_agents=max_agents)
        for index, item in enumerate(plan.subtasks):
            sub = Subtask(f"{task_id}.{item.key}", task_id, swarm.id, index, item.description, item.type,
                          item.capabilities, tuple(f"{task_id}.{d}" for d in item.depends_on),
                          task_features(item.description, item.type, analysis.complexity, rank), rank,
                          item.executor or executor, created=now)
            task.subtasks.append(sub.id)
            self.subtasks[sub.id] = sub
            engine.persist.tasks.add(sub.id)
        self.open += len(task.subtasks)
        self._unfinished[task_id] = len(task.subtasks)
        self._index(self.subtasks_of(task))
        pool = [a for a in live if allowed_agents is None or a.id in allowed_agents]
        if allowed_agents is not None:
            task.allowed_agents = [a.id for a in pool]
        if max_agents is not None and max_agents < len(pool):
            subs = self.subtasks_of(task)
            ranked = sorted(pool, key=lambda a: (-sum(match(a, s) for s in subs), a.order))
            task.allowed_agents = [a.id for a in ranked[:max_agents]]
        if swarm.topology == "hierarchical":
            task.coordinator = self._choose_coordinator(swarm, task)
        self.tasks[task_id] = task
        self._done[task_id] = anyio.Event()
        task.state = TaskState.RUNNING
        engine.persist.tasks.add(task_id)
        engine.event("task_created", {"subtasks": len(task.subtasks), "type": analysis.task_type,
                                      "complexity": analysis.complexity, "shape": plan.shape},
                     swarm_id=swarm.id, task_id=task_id)
        await self._route(task, [s for s in self.subtasks_of(task) if not s.depends_on])
        await engine.persist.commit()
        return task

    def changed(self, task_id: str) -> anyio.Event:
        """An event set when the next attempt of one of the task's subtasks ends (completed,
        failed, retried or cancelled) or the task finishes: for callers following its progress."""
        event = self._changes.get(task_id)
        if event is None:
            event = self._changes[task_id] = anyio.Event()
        return event

    def _notify_change(self, task_id: str) -> None:
        event = self._changes.pop(task_id, None)
        if event is not None:
            event.set()

    def _index(self, subs: Sequence[Subtask]) -> None:
        for sub in subs:
            for dep in sub.depends_on:
                self._dependents.setdefault(dep, []).append(sub.id)

    def _settled(self, sub: Subtask) -> None:
        """Count one subtask of a task as finished."""
        self.open -= 1
        self._unfinished[sub.task_id] = self._unfinished.get(sub.task_id, 1) - 1

    def check_executor(self, executor: str) -> None:
        """Raises InvalidArgument, saying why and what to use instead, unless `executor` can run here."""
        if executor not in EXECUTORS:
            raise InvalidArgument(f"executor {executor!r} is not valid; use one of {format_choices(EXECUTORS)}")
        if executor != "client":
            active = self.engine.executors.get(executor)
            reason = "it is not configured in this daemon" if active is None else active.unavailable()
            if reason:
                raise InvalidArgument(f"executor {executor!r} cannot run here: {reason}. Use executor 'client' "
                                      "(MCP clients claim the work with task_claim)")

    def _choose_coordinator(self, swarm: Swarm, task: Task) -> str | None:
        """The coordinator whose team fits the plan best (least loaded on ties)."""
        live = swarm.live_agents()
        coordinators = [a for a in live if a.type == "coordinator"]
        if not coordinators:
            return None
        subs = self.subtasks_of(task)

        def fit(c: Agent) -> tuple[float, int, int]:
            members = [a for a in live if a.coordinator == c.id] or [c]
            coverage = sum(max(match(a, s) for a in members) for s in subs)
            load = sum(len(a.queue) + len(a.running) for a in members)
            return (-coverage, load, c.order)

        return min(coordinators, key=fit).id

    # -- routing ----------------------------------------------------------------------------

    async def _route(self, task: Task, subtasks: Sequence[Subtask], *, finished_by: dict[str, str | None] | None = None,
                     avoid: dict[str, set[str]] | None = None) -> None:
        """Assign each subtask to an agent (leaves it pending when the swarm has no live agent)."""
        engine = self.engine
        swarm = engine.swarms.get(task.swarm_id)
        todo = [s for s in subtasks if s.state is PENDING]
        for _ in range(3):  # an agent may stop while the brains answer: route those again
            if swarm is None or not todo:
                return
            decisions = await plan_route(swarm, task, todo, engine.brains, engine.rng, finished_by or {}, avoid or {})
            retry = []
            for sub, decision in zip(todo, decisions, strict=False):
                if sub.state is not PENDING or task.state not in (TaskState.RUNNING, TaskState.PENDING):
                    continue
                if decision.agent.stopped or decision.agent.id not in swarm.agents:
                    retry.append(sub)
                    continue
                self._assign(swarm, sub, decision.agent, decision.record)
            todo = retry

    def _assign(self, swarm: Swarm, sub: Subtask, agent: Agent, record: dict[str, Any]) -> None:
        engine = self.engine
        sub.state, sub.agent_id, sub.decision, sub.assigned_at = ASSIGNED, agent.id, record, engine.clock()
        _enqueue(agent, sub)
        decider = record["decider"]
        if decider == "queen":
            swarm.decisions += 1
        elif decider in swarm.agents:
            swarm.agents[decider].metrics.decision(record["pattern"], bool(record["explored"]))
        stats = engine.pattern_stats[record["pattern"]]
        stats["decisions"] += 1
        stats["explored"] += bool(record["explored"])
        if sub.executor == "client":
            heapq.heappush(self._heaps.setdefault(swarm.id, []), (-sub.priority, next(self._seq), sub.id))
            self._notify_work()
        else:
            engine.wake(agent.id)
        engine.persist.tasks.add(sub.id)
        engine.persist.swarms.add(swarm.id)
        engine.event("subtask_assigned", {"scorer": record["scorer"], "explored": record["explored"]},
                     swarm_id=swarm.id, agent_id=agent.id, task_id=sub.id)

    def _notify_work(self) -> None:
        work, self._work = self._work, anyio.Event()
        work.set()

    async def route_pending(self, swarm: Swarm) -> None:
        """Route ready subtasks that found no agent earlier (called when an agent joins)."""
        for task in list(self.tasks.values()):
            if task.swarm_id != swarm.id or task.state is not TaskState.RUNNING:
                continue
            ready = [s for s in self.subtasks_of(task) if s.state is PENDING and self._deps_done(s)]
            if ready:
                await self._route(task, ready)

    # -- claiming (client executor) -----------------------------------------------------------

    async def claim(self, *, agent_id: str | None = None, capabilities: Sequence[str] | None = None,
                    swarm_id: str | None = None, lease_seconds: float | None = None, wait: float = 0.0) -> Claim | None:
        """The best claimable subtask (highest priority, oldest first) under a new lease, or None.

        With `agent_id`, only that agent's work (or, where the topology lets it, work it may take
        from a neighbour). `capabilities`: only subtasks needing nothing else. `wait`: seconds to
        wait for work to appear.
        """
        engine = self.engine
        lease = self._lease_seconds(lease_seconds)
        if swarm_id is not None:
            engine.swarm(swarm_id)
        agent = engine.agent(agent_id) if agent_id is not None else None
        if agent is not None and swarm_id is not None and agent.swarm_id != swarm_id:
            raise InvalidArgument(f"agent {agent.id!r} belongs to swarm {agent.swarm_id!r}, not {swarm_id!r}; "
                                  "give one of agentId or swarmId, or matching ones")
        if agent is not None and agent.stopped:
            raise Conflict(f"agent {agent.id!r} is stopped; claim for a running agent (agent_list filter 'active')")
        caps = frozenset(capabilities) if capabilities is not None else None
        deadline = None
        while True:
            found = self._find_for_agent(agent, caps) if agent is not None else self._find_any(swarm_id, caps)
            if found is not None:
                sub, taken_from = found
                self._start_lease(sub, "client", lease)
                return Claim(sub, self.tasks[sub.task_id], self.context(sub), taken_from)
            if wait <= 0:
                return None
            if deadline is None:
                deadline = anyio.current_time() + wait
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return None
            with anyio.move_on_after(remaining):
                await self._work.wait()

    def _lease_seconds(self, requested: float | None) -> float:
        config = self.engine.config
        if requested is None:
            return config.lease_seconds
        if not 1 <= requested <= config.max_lease_seconds:
            raise InvalidArgument(f"leaseSeconds must be between 1 and {config.max_lease_seconds:g}, got {requested:g}")
        return requested

    @staticmethod
    def _fits(sub: Subtask, caps: frozenset[str] | None) -> bool:
        return caps is None or set(sub.capabilities) <= caps

    def _find_for_agent(self, agent: Agent, caps: frozenset[str] | None) -> tuple[Subtask, str | None] | None:
        if len(agent.running) >= agent.concurrency:
            return None
        own = self._best_in_queue(agent, caps)
        if own is not None:
            return own, None
        from ._topology import can_take

        swarm = self.engine.swarms[agent.swarm_id]
        live = swarm.live_agents()
        best: tuple[int, float, Subtask, Agent] | None = None
        for owner in live:
            if owner.id == agent.id or not owner.queue or not can_take(swarm.topology, live, agent.id, owner.id):
                continue
            sub = self._best_in_queue(owner, caps)
            if sub is not None and (best is None or (-sub.priority, sub.assigned_at or 0) < (best[0], best[1])):
                best = (-sub.priority, sub.assigned_at or 0.0, sub, owner)
        if best is None:
            return None
        _, _, sub, owner = best
        del owner.queue[sub.id]
        _enqueue(agent, sub)
        sub.agent_id = agent.id
        sub.decision = {**(sub.decision or {}), "taken_from": owner.id,
                        "why": f"{agent.id} took it from {owner.id}'s queue ({swarm.topology} topology allows it)"}
        self.engine.persist.agent_metrics.add(owner.id)
        self.engine.event("subtask_taken", {"from": owner.id}, swarm_id=swarm.id, agent_id=agent.id, task_id=sub.id)
        return sub, owner.id

    def _best_in_queue(self, agent: Agent, caps: frozenset[str] | None) -> Subtask | None:
        best = None
        for sid in agent.queue:
            sub = self.subtasks.get(sid)
            if sub is None or sub.state is not ASSIGNED or sub.executor != "client" or not self._fits(sub, caps):
                continue
            if best is None or sub.priority > best.priority:
                best = sub
        return best

    def _find_any(self, swarm_id: str | None, caps: frozenset[str] | None) -> tuple[Subtask, None] | None:
        engine = self.engine
        candidates: list[tuple[tuple[int, int, str], str]] = []
        for sid_swarm in ([swarm_id] if swarm_id is not None else list(self._heaps)):
            heap = self._heaps.get(sid_swarm)
            if not heap:
                continue
            aside = []
            found = None
            scanned = 0
            while heap and scanned < 2048:
                entry = heapq.heappop(heap)
                scanned += 1
                sub = self.subtasks.get(entry[2])
                if sub is None or sub.state is not ASSIGNED or sub.executor != "client":
                    continue  # stale: claimed, moved or finished since
                agent = engine.agents.get(sub.agent_id or "")
                if agent is None or agent.stopped or len(agent.running) >= agent.concurrency or not self._fits(sub, caps):
                    aside.append(entry)
                    continue
                found = entry
                break
            for entry in aside:
                heapq.heappush(heap, entry)
            if found is not None:
                candidates.append((found, sid_swarm))
        if not candidates:
            return None
        candidates.sort()
        for entry, sid_swarm in candidates[1:]:
            heapq.heappush(self._heaps[sid_swarm], entry)
        return self.subtasks[candidates[0][0][2]], None

    def _start_lease(self, sub: Subtask, holder: str, seconds: float) -> None:
        engine = self.engine
        now = engine.clock()
        agent = engine.agents[sub.agent_id or ""]
        sub.lease = Lease(f"{self._lease_prefix}-{next(self._leases)}", holder, now + seconds, now)
        sub.state, sub.started_at = RUNNING, now
        sub.attempts += 1
        agent.queue.pop(sub.id, None)
        agent.running.add(sub.id)
        engine.persist.tasks.add(sub.id)  # the agent's record has nothing new: busy is derived from its subtasks
        engine.event("subtask_claimed", {"holder": holder}, swarm_id=sub.swarm_id, agent_id=agent.id, task_id=sub.id)
        engine.wake(agent.id)

    def context(self, sub: Subtask) -> list[dict[str, Any]]:
        """The results of a subtask's dependencies, bounded in bytes (the rest: see task_results)."""
        out, used = [], 0
        for dep_id in sub.depends_on:
            dep = self.subtasks.get(dep_id)
            if dep is None:
                continue
            item: dict[str, Any] = {"subtask_id": dep.id, "description": dep.description, "agent_id": dep.agent_id,
                                    "result": dep.result}
            size = _json_size(dep.result)
            if used + size > MAX_CONTEXT_BYTES:
                item["result"] = None
                item["omitted"] = f"{size} bytes; read it with task_results"
            else:
                used += size
            out.append(item)
        return out

    # -- leases ---------------------------------------------------------------------------------

    def _running(self, subtask_id: str, lease_id: str | None) -> Subtask:
        sub = self.subtask(subtask_id)
        if sub.state is ASSIGNED:
            raise Conflict(f"subtask {sub.id!r} is assigned but not claimed; call task_claim first")
        if sub.state.finished:
            raise Conflict(f"subtask {sub.id!r} is already {sub.state.value}" + (f" ({sub.reason})" if sub.reason else "")
                           + "; nothing to report. task_status shows the task")
        if sub.state is not RUNNING or sub.lease is None:
            raise Conflict(f"subtask {sub.id!r} is {sub.state.value}, not running; claim it with task_claim")
        if lease_id is not None and lease_id != sub.lease.id:
            raise Conflict(f"leaseId {lease_id!r} is not the current lease of {sub.id!r} (it expired and the subtask "
                           "was claimed again); claim new work with task_claim")
        if sub.lease.holder != "client":
            raise Conflict(f"subtask {sub.id!r} is being run by the {sub.executor} executor, not by a client; "
                           "task_status shows its progress")
        return sub

    def heartbeat(self, subtask_id: str, *, lease_id: str | None = None, seconds: float | None = None) -> Subtask:
        """Extend a running subtask's lease to `seconds` from now (default: the lease length)."""
        sub = self._running(subtask_id, lease_id)
        assert sub.lease is not None
        sub.lease.expires_at = self.engine.clock() + self._lease_seconds(seconds)
        self.engine.persist.tasks.add(sub.id)
        self.engine.counters["heartbeat"] += 1
        return sub

    async def expire_leases(self, agent: Agent) -> int:
        """Return the agent's client work whose lease ran out to the queue, counting a failure each."""
        now = self.engine.clock()
        expired = [self.subtasks[s] for s in list(agent.running)
                   if s in self.subtasks and (lease := self.subtasks[s].lease) is not None
                   and lease.holder == "client" and lease.expires_at <= now]
        for sub in expired:
            self.engine.event("lease_expired", {"attempt": sub.attempts}, swarm_id=sub.swarm_id, agent_id=agent.id,
                              task_id=sub.id)
            await self._finish_attempt(sub, success=False, result=None, quality=None, reason="lease expired", retry=True)
        return len(expired)

    def next_deadline(self, agent: Agent) -> float | None:
        leases = [self.subtasks[s].lease for s in agent.running if s in self.subtasks]
        times = [lease.expires_at for lease in leases if lease is not None and lease.holder == "client"]
        return min(times) if times else None

    # -- ending attempts ----------------------------------------------------------------------

    async def complete(self, subtask_id: str, result: Any, *, success: bool = True, quality: float | None = None,
                       lease_id: str | None = None) -> Subtask:
        """Report a claimed subtask done (or, with `success=False`, attempted and failed)."""
        sub = self._running(subtask_id, lease_id)
        if quality is not None and not 0.0 <= quality <= 1.0:
            raise InvalidArgument(f"quality must be between 0 and 1, got {quality}")
        size = _json_size(result)
        if size > self.engine.config.max_result_bytes:
            raise LimitExceeded(f"result is {size:,} bytes serialized; at most {self.engine.config.max_result_bytes:,} "
                                "(setting memory_max_value_bytes). Store large output with memory_usage and return its key")
        await self._finish_attempt(sub, success=success, result=result, quality=quality,
                                   reason=None if success else "reported unsuccessful", retry=True)
        await self.engine.persist.commit()
        return sub

    async def fail(self, subtask_id: str, reason: str, *, retry: bool = True, lease_id: str | None = None) -> Subtask:
        """Report a claimed subtask failed; it retries on another agent unless `retry` is false
        or its attempts are used up."""
        sub = self._running(subtask_id, lease_id)
        if len(reason) > MAX_REASON:
            raise InvalidArgument(f"reason is {len(reason)} characters; at most {MAX_REASON}")
        await self._finish_attempt(sub, success=False, result=None, quality=None, reason=reason or "failed", retry=retry)
        await self.engine.persist.commit()
        return sub

    def _release(self, sub: Subtask) -> Agent | None:
        agent = self.engine.agents.get(sub.agent_id or "")
        if agent is not None:
            agent.running.discard(sub.id)
            agent.queue.pop(sub.id, None)
            self.engine.persist.agent_metrics.add(agent.id)
        scope = self._executions.pop(sub.id, None)
        if scope is not None:
            scope.cancel()
        sub.lease = None
        return agent

    async def _finish_attempt(self, sub: Subtask, *, success: bool, result: Any, quality: float | None,
                              reason: str | None, retry: bool) -> None:
        engine = self.engine
        task = self.tasks[sub.task_id]
        swarm = engine.swarms.get(sub.swarm_id)
        now = engine.clock()
        agent = self._release(sub)
        duration = max(0.0, now - (sub.started_at or now))
        quality = quality if quality is not None else (1.0 if success else 0.0)
        if agent is not None:
            agent.metrics.count(sub.type, success, agent.pattern)
            predicted = (sub.decision or {}).get("predicted_success")
            agent.metrics.sample(duration, None if predicted is None else float(predicted), success)
            if engine.brains is not None and not agent.stopped:
                engine.brains.record(sub.swarm_id, agent.id, sub.features,
                                     [1.0 if success else 0.0, quality, 1.0 / (1.0 + duration / 120.0)])
                engine.experience_recorded()
        if swarm is not None:
            swarm.record_outcome(success)
            engine.persist.swarms.add(swarm.id)
        pattern = (sub.decision or {}).get("pattern")
        if pattern in engine.pattern_stats:
            engine.pattern_stats[pattern]["succeeded" if success else "failed"] += 1
        sub.finished_at = now
        if success:
            sub.state, sub.result, sub.quality, sub.success, sub.reason = COMPLETED, result, quality, True, None
            if swarm is not None:
                swarm.completed += 1
            engine.event("subtask_completed", {"seconds": round(duration, 3), "quality": quality},
                         swarm_id=sub.swarm_id, agent_id=sub.agent_id, task_id=sub.id)
            if agent is not None:
                self._maybe_review(task, sub, agent)
            self._settled(sub)
            await self._release_dependents(task, sub)
        else:
            sub.failed_agents.append(sub.agent_id or "")
            sub.reason = reason
            if retry and sub.attempts < sub.max_attempts and task.state is TaskState.RUNNING and swarm is not None:
                engine.event("subtask_retried", {"reason": reason, "attempt": sub.attempts, "seconds": round(duration, 3)},
                             swarm_id=sub.swarm_id, agent_id=sub.agent_id, task_id=sub.id)
                failed_by = sub.agent_id
                sub.state, sub.agent_id, sub.result = PENDING, None, result
                await self._route(task, [sub], finished_by={sub.id: failed_by} if swarm.topology == "ring" else None,
                                  avoid={sub.id: set(sub.failed_agents)})
            else:
                sub.state, sub.result, sub.success = FAILED, result, False
                if swarm is not None:
                    swarm.failed += 1
                self._settled(sub)
                engine.event("subtask_failed", {"reason": reason, "attempts": sub.attempts, "seconds": round(duration, 3)},
                             swarm_id=sub.swarm_id, agent_id=sub.agent_id, task_id=sub.id)
                self._cancel_dependents(task, sub)
        engine.persist.tasks.add(sub.id)
        self._check_finished(task)
        self._notify_change(task.id)

    def _maybe_review(self, task: Task, sub: Subtask, agent: Agent) -> None:
        """Critical agents get every result reviewed; systems thinkers before dependents run."""
        rule = PATTERNS[agent.pattern].review
        dependents = [self.subtasks[d] for d in self._dependents.get(sub.id, ()) if d in self.subtasks]
        if sub.review_of is not None or rule == "never" or (rule == "when_dependents" and not dependents):
            return
        review = Subtask(f"{sub.id}.review", task.id, sub.swarm_id, len(task.subtasks),
                         f"Review the result of {sub.id} ({sub.type}): {sub.description[:300]}", "review", ("review",),
                         (sub.id,), task_features(f"review {sub.description}", "review", 3, sub.priority), sub.priority,
                         sub.executor, review_of=sub.id, created=self.engine.clock())
        if review.id in self.subtasks:
            return
        task.subtasks.append(review.id)
        self.subtasks[review.id] = review
        self.open += 1
        self._unfinished[task.id] = self._unfinished.get(task.id, 0) + 1
        self._index([review])
        for dependent in dependents:
            dependent.depends_on = (*dependent.depends_on, review.id)
            self._dependents.setdefault(review.id, []).append(dependent.id)
            self.engine.persist.tasks.add(dependent.id)
        self.engine.pattern_stats[agent.pattern]["reviews_added"] += 1
        self.engine.persist.tasks.add(review.id)
        self.engine.persist.tasks.add(task.id)
        self.engine.event("review_added", {"pattern": agent.pattern}, swarm_id=sub.swarm_id, agent_id=agent.id,
                          task_id=review.id)

    def _deps_done(self, sub: Subtask) -> bool:
        return all(self.subtasks[d].state is COMPLETED for d in sub.depends_on if d in self.subtasks)

    async def _release_dependents(self, task: Task, done: Subtask) -> None:
        candidates = (self.subtasks[d] for d in self._dependents.get(done.id, ()) if d in self.subtasks)
        ready = [s for s in candidates if s.state is PENDING and self._deps_done(s)]
        if not ready:
            return
        finished_by = {}
        for s in ready:
            deps = [self.subtasks[d] for d in s.depends_on if d in self.subtasks]
            last = max(deps, key=lambda d: d.finished_at or 0.0) if deps else None
            finished_by[s.id] = last.agent_id if last is not None else None
        swarm = self.engine.swarms.get(task.swarm_id)
        await self._route(task, ready, finished_by=finished_by if swarm is not None and swarm.topology == "ring" else None,
                          avoid={s.id: {self.subtasks[s.review_of].agent_id or ""} for s in ready if s.review_of})

    def _cancel_dependents(self, task: Task, failed: Subtask) -> None:
        doomed = {failed.id}
        changed = True
        while changed:
            changed = False
            for s in self.subtasks_of(task):
                if s.id not in doomed and not s.state.finished and doomed & set(s.depends_on):
                    doomed.add(s.id)
                    changed = True
                    self._release(s)
                    s.state, s.reason, s.finished_at = CANCELLED, f"dependency {failed.id} failed", self.engine.clock()
                    self._settled(s)
                    self.engine.persist.tasks.add(s.id)

    def _check_finished(self, task: Task) -> None:
        if task.state is not TaskState.RUNNING or self._unfinished.get(task.id, 0) > 0:
            return
        subs = self.subtasks_of(task)
        states = {s.state for s in subs}
        task.state = TaskState.COMPLETED if states == {COMPLETED} else TaskState.FAILED
        if task.state is TaskState.FAILED:
            failed = [s.id for s in subs if s.state is FAILED]
            task.reason = f"subtask(s) failed: {', '.join(failed)}" if failed else "subtasks were cancelled"
        self._close(task)

    def _close(self, task: Task) -> None:
        engine = self.engine
        task.finished_at = engine.clock()
        engine.persist.tasks.add(task.id)
        engine.event(f"task_{task.state.value}", {"seconds": round(task.finished_at - task.created, 3)},
                     swarm_id=task.swarm_id, task_id=task.id)
        done = self._done.pop(task.id, None)
        if done is not None:
            done.set()
        self._notify_change(task.id)
        finished = self._finished.setdefault(task.swarm_id, deque())
        finished.append(task.id)
        while len(finished) > engine.config.max_finished_tasks:
            self._forget(finished.popleft())

    def _forget(self, task_id: str) -> None:
        task = self.tasks.pop(task_id, None)
        if task is None:
            return
        for sid in task.subtasks:
            self.subtasks.pop(sid, None)
            self._dependents.pop(sid, None)
            self.engine.persist.delete("tasks", sid)
        self._unfinished.pop(task_id, None)
        self.engine.persist.delete("tasks", task_id)

    async def wait(self, task_id: str, timeout: float) -> Task:
        """The task once it has finished, or as it is after `timeout` seconds."""
        task = self.task(task_id)
        done = self._done.get(task.id)
        if done is not None:
            with anyio.move_on_after(timeout):
                await done.wait()
        return task

    # -- cancellation and agents leaving ------------------------------------------------------

    async def cancel(self, task_id: str) -> tuple[Task, int]:
        """Cancel every unfinished subtask of a task (leases revoked, executor runs stopped)."""
        task = self.task(task_id)
        if task.state is not TaskState.RUNNING and task.state is not TaskState.PENDING:
            raise Conflict(f"task {task.id!r} is already {task.state.value}; nothing to cancel")
        now = self.engine.clock()
        cancelled = 0
        for sub in self.subtasks_of(task):
            if not sub.state.finished:
                self._release(sub)
                sub.state, sub.reason, sub.finished_at = CANCELLED, "task cancelled", now
                self.engine.persist.tasks.add(sub.id)
                cancelled += 1
        self.open -= cancelled
        self._unfinished[task.id] = 0
        task.state, task.reason = TaskState.CANCELLED, "cancelled by task_cancel"
        self._close(task)
        await self.engine.persist.commit()
        return task, cancelled

    def drop_swarm(self, swarm: Swarm) -> int:
        """Forget every task of a swarm being destroyed (the store cascades its rows); unfinished ones counted."""
        unfinished = 0
        for task in [t for t in self.tasks.values() if t.swarm_id == swarm.id]:
            self._unfinished.pop(task.id, None)
            for sid in task.subtasks:
                self._dependents.pop(sid, None)
                sub = self.subtasks.pop(sid, None)
                if sub is not None and not sub.state.finished:
                    self.open -= 1
                    scope = self._executions.pop(sid, None)
                    if scope is not None:
                        scope.cancel()
            unfinished += task.state in (TaskState.RUNNING, TaskState.PENDING)
            del self.tasks[task.id]
            done = self._done.pop(task.id, None)
            if done is not None:
                done.set()
            self._notify_change(task.id)
        self._heaps.pop(swarm.id, None)
        self._finished.pop(swarm.id, None)
        return unfinished

    async def agent_gone(self, agent: Agent, reason: str) -> int:
        """Move a stopped agent's work, queued or running, to other agents as the topology says
        (a running attempt is not counted against the subtask; its old lease is revoked)."""
        moved: list[Subtask] = []
        for sid in [*agent.queue, *agent.running]:
            sub = self.subtasks.get(sid)
            if sub is None or sub.state.finished:
                continue
            self._release(sub)
            if sub.state is RUNNING:
                sub.attempts = max(0, sub.attempts - 1)  # not the subtask's fault
            sub.state, sub.agent_id = PENDING, None
            self.engine.persist.tasks.add(sub.id)
            self.engine.event("subtask_moved", {"reason": reason}, swarm_id=sub.swarm_id, agent_id=agent.id,
                              task_id=sub.id)
            moved.append(sub)
        swarm = self.engine.swarms.get(agent.swarm_id)
        for sub in moved:
            task = self.tasks[sub.task_id]
            await self._route(task, [sub], finished_by={sub.id: agent.id} if swarm and swarm.topology == "ring" else None,
                              avoid={sub.id: {agent.id}})
        return len(moved)

    # -- active executors (run by the agent's coroutine) ---------------------------------------

    def has_executions(self, agent: Agent) -> bool:
        """Whether the agent has active-executor work queued or running (it runs at every wake-up:
        constant time for an agent that only has client work)."""
        ids = agent.executions
        if not ids:
            return False
        for sid in list(ids):
            sub = self.subtasks.get(sid)
            if sub is not None and sub.agent_id == agent.id and sub.state in (ASSIGNED, RUNNING):
                return True
            ids.discard(sid)  # finished, cancelled or moved: every way back in goes through _enqueue
        return False

    def next_execution(self, agent: Agent) -> Subtask | None:
        """The agent's next queued subtask for an active executor, now running, or None."""
        if len(agent.running) >= agent.concurrency:
            return None
        for sid in agent.queue:
            sub = self.subtasks.get(sid)
            if sub is not None and sub.state is ASSIGNED and sub.executor != "client":
                executor = self.engine.executors[sub.executor]
                self._start_lease(sub, f"executor:{sub.executor}", executor.timeout + 60.0)
                return sub
        return None

    def work_item(self, sub: Subtask, agent: Agent) -> WorkItem:
        task = self.tasks[sub.task_id]
        return WorkItem(sub.id, task.id, sub.swarm_id,
                        {"id": agent.id, "type": agent.type, "name": agent.name,
                         "capabilities": sorted(agent.all_capabilities), "pattern": agent.pattern},
                        sub.description, sub.type, task.description, self.context(sub))

    async def execute(self, sub: Subtask, agent: Agent) -> None:
        """Run one subtask with its executor (in the agent's task group) and record the outcome."""
        executor = self.engine.executors[sub.executor]
        lease = sub.lease
        with anyio.CancelScope() as scope:
            self._executions[sub.id] = scope
            try:
                with anyio.fail_after(executor.timeout):
                    outcome = await executor.run(self.work_item(sub, agent))
            except TimeoutError:
                outcome = None
                reason = f"{executor.name} executor timed out after {executor.timeout:g} s"
            except Exception as exc:  # the executor's failure is the attempt's, not the agent's
                outcome = None
                reason = f"{executor.name} executor failed: {type(exc).__name__}: {exc}"[:MAX_REASON]
            if sub.state is not RUNNING or sub.lease is not lease:
                return  # cancelled or moved while it ran
            self._executions.pop(sub.id, None)
            if outcome is not None and outcome.success:
                await self._finish_attempt(sub, success=True, result=outcome.result, quality=outcome.quality,
                                           reason=None, retry=True)
            else:
                why = reason if outcome is None else (outcome.reason or "the executor reported failure")
                await self._finish_attempt(sub, success=False, result=None if outcome is None else outcome.result,
                                           quality=None, reason=why, retry=True)
        self.engine.wake(agent.id)  # its coroutine may close its workers' task group
        if scope.cancelled_caught:
            return
        await self.engine.persist.commit()

    def requeue_executions(self, agent: Agent) -> int:
        """After an agent's coroutine restarts: its interrupted executor runs go back to its queue."""
        count = 0
        for sid in list(agent.running):
            sub = self.subtasks.get(sid)
            if sub is None or sub.lease is None or not sub.lease.holder.startswith("executor:"):
                continue
            self._executions.pop(sid, None)
            agent.running.discard(sid)
            sub.lease, sub.state = None, ASSIGNED
            sub.attempts = max(0, sub.attempts - 1)
            agent.queue[sid] = None
            self.engine.persist.tasks.add(sid)
            count += 1
        return count

    # -- persistence ----------------------------------------------------------------------------

    def render(self, batch: RecordBatch, ids: set[str]) -> None:
        for record_id in ids:
            task = self.tasks.get(record_id)
            if task is not None:
                if task.swarm_id in self.engine.swarms:
                    batch.put_task(task.id, swarm_id=task.swarm_id, agent_id=None, status=task.state.value,
                                   priority=task.priority, data=task.to_record())
                continue
            sub = self.subtasks.get(record_id)
            if sub is not None and sub.swarm_id in self.engine.swarms:
                data = sub.to_record()
                if sub.lease is not None:
                    data["lease"] = {"holder": sub.lease.holder, "expires_at": sub.lease.expires_at}
                agent_id = sub.agent_id if sub.agent_id in self.engine.agents else None
                batch.put_task(sub.id, swarm_id=sub.swarm_id, agent_id=agent_id, status=sub.state.value,
                               priority=sub.priority, data=data)

    async def load(self, swarm: Swarm) -> dict[str, int]:
        """Rebuild a swarm's tasks after a restart: finished results stay; work that was
        assigned or running returns to its agent's queue (or is routed again)."""
        counts = {"tasks": 0, "subtasks_requeued": 0}
        after = None
        rows = []
        while True:
            records = await self.engine.store.tasks.list(swarm_id=swarm.id, limit=1000, after=after)
            rows.extend(records)
            if len(records) < 1000:
                break
            after = records[-1].id
        for record in rows:
            data = dict(record.data)
            if data.get("kind") == "task":
                self.tasks[record.id] = Task.from_record(record.id, swarm.id, record.status, record.priority, data)
                counts["tasks"] += 1
        for record in rows:
            data = dict(record.data)
            if data.get("kind") == "subtask" and data.get("task_id") in self.tasks:
                self.subtasks[record.id] = Subtask.from_record(record.id, swarm.id, record.agent_id, record.status,
                                                               record.priority, data)
        to_route: dict[str, list[Subtask]] = {}
        for task in sorted((t for t in self.tasks.values() if t.swarm_id == swarm.id), key=lambda t: t.created):
            if task.state in (TaskState.RUNNING, TaskState.PENDING):
                self._done[task.id] = anyio.Event()
            else:
                self._finished.setdefault(swarm.id, deque()).append(task.id)
            self._index(self.subtasks_of(task))
            self._unfinished[task.id] = 0
            for sub in self.subtasks_of(task):
                if sub.state.finished:
                    continue
                self.open += 1
                self._unfinished[task.id] += 1
                if sub.state in (ASSIGNED, RUNNING):
                    counts["subtasks_requeued"] += 1
                    agent = swarm.agents.get(sub.agent_id or "")
                    sub.lease = None
                    if agent is not None and not agent.stopped:
                        sub.state = ASSIGNED
                        _enqueue(agent, sub)
                        if sub.executor == "client":
                            heapq.heappush(self._heaps.setdefault(swarm.id, []), (-sub.priority, next(self._seq), sub.id))
                    else:
                        sub.state, sub.agent_id = PENDING, None
                    self.engine.persist.tasks.add(sub.id)
                if sub.state is PENDING and self._deps_done(sub) and task.state is TaskState.RUNNING:
                    to_route.setdefault(task.id, []).append(sub)
        for task_id, subs in to_route.items():
            await self._route(self.tasks[task_id], subs)
        return counts


def _enqueue(agent: Agent, sub: Subtask) -> None:
    """Put an assigned subtask in its agent's queue (and its active-executor set)."""
    agent.queue[sub.id] = None
    if sub.executor != "client":
        if agent.executions is None:
            agent.executions = set()
        agent.executions.add(sub.id)
