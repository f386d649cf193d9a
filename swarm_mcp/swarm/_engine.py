"""The swarm engine: swarms and their supervised agents, on the daemon's store and neural runtime.

The supervision tree (`run`): engine → {journal (write-behind), trainer (brains), swarms →
one dynamic supervisor per swarm → one coroutine per agent}. An agent that crashes is
restarted by its swarm's supervisor; past the swarm's restart intensity the swarm supervisor
escalates and the engine restarts it with all its agents; past the engine's, the engine
escalates to the daemon. Restarts and escalations are logged, recorded as events and counted
on the agents and swarms they hit.

State lives in plain objects on the event loop (`_model`); the task board (`TaskBoard`) runs
tasks on it; `Persister` writes it behind (group commit); `load` rebuilds it after a restart.
"""

from __future__ import annotations

import functools
import math
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus

from ..errors import Conflict, InvalidArgument, LimitExceeded, NotFound, Unavailable, format_choices
from ..feed import EventFeed
from ..memory import RecordBatch, TieredStore
from ..neural_runtime import NeuralRuntime
from ..supervisor import ChildSpec, DynamicSupervisor, Restart, Strategy, Supervisor, SupervisorEvent
from ._agent import Wakeup, run_agent
from ._board import TaskBoard
from ._brains import Brains
from ._executors import Executor
from ._model import AGENT_TYPES, EXECUTORS, SWARM_STRATEGIES, TOPOLOGIES, Agent, DaaProfile, Swarm
from ._patterns import PATTERNS
from ._persist import Persister
from ._queen import SwarmDesign, design_swarm
from ._topology import pick_coordinator

__all__ = ("EngineConfig", "SwarmEngine")

log = structlog.get_logger("swarm_mcp.swarm")

_NAME = re.compile(r"^[\w .:/@#+-]{1,64}$")
_CAPABILITY = re.compile(r"^[\w.:/+-]{1,64}$")
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # so that agent:<id> is a memory namespace
MAX_CAPABILITIES = 32


@dataclass(frozen=True, slots=True)
class EngineConfig:
    max_swarms: int = 64
    max_agents: int = 10_000  # per swarm
    max_open_subtasks: int = 100_000  # unfinished subtasks across the daemon
    max_finished_tasks: int = 10_000  # finished tasks kept per swarm (oldest dropped)
    max_stopped_agents: int = 1_000  # stopped agents kept per swarm (oldest dropped)
    lease_seconds: float = 300.0
    max_lease_seconds: float = 3600.0
    restart_intensity: int = 5
    restart_period: float = 10.0
    learning: bool = True
    train_interval: float = 0.25
    brain_save_every: int = 16
    max_result_bytes: int = 2**20
    commit_interval: float = 0.05


class SwarmEngine:
    """Swarms, agents, their supervision and persistence; tasks via `self.board`."""

    def __init__(self, store: TieredStore, runtime: NeuralRuntime, config: EngineConfig = EngineConfig(), *,
                 clock: Callable[[], float] = time.time, seed: int | None = None,
                 executors: Mapping[str, Executor] | None = None, feed: EventFeed | None = None) -> None:
        self.store = store
        self.feed = feed if feed is not None else EventFeed(clock=clock)  # every event, live, for watchers
        self.executors: dict[str, Executor] = dict(executors or {})
        self.config = config
        self.clock = clock
        self.rng = random.Random(seed)
        self.brains = Brains(runtime, save_every=config.brain_save_every) if config.learning else None
        self.persist = Persister(store, self, interval=config.commit_interval)
        self.board = TaskBoard(self)
        self.swarms: dict[str, Swarm] = {}
        self.agents: dict[str, Agent] = {}
        self.counters: Counter[str] = Counter()
        self.pattern_stats: dict[str, Counter[str]] = {name: Counter() for name in PATTERNS}
        self.started_at = clock()
        self._swarm_sups: dict[str, DynamicSupervisor] = {}
        self._swarms_sup = DynamicSupervisor("swarms", intensity=config.restart_intensity,
                                             period=config.restart_period, clock=clock, on_event=self._supervised)
        self._wakes: dict[str, Wakeup] = {}
        self._faults: dict[str, Exception] = {}
        self._experience = anyio.Event()
        self._manual_training = 0  # while above 0, the background trainer leaves rounds to the caller
        self._root: Supervisor | None = None
        self.running = False

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The engine's supervision tree; returns (or is cancelled) when the daemon stops.

        Raises:
            RestartIntensityExceeded: the engine's children failed too often.
        """
        self._root = Supervisor(
            "engine",
            [ChildSpec("journal", self.persist.run, shutdown=10.0), ChildSpec("trainer", self._train_forever),
             ChildSpec("swarms", self._swarms_sup.run, shutdown=60.0, stop=self._swarms_sup.shutdown)],
            strategy=Strategy.ONE_FOR_ONE, intensity=self.config.restart_intensity,
            period=self.config.restart_period, clock=self.clock, on_event=self._supervised,
        )
        self.running = True
        try:
            await self._root.run(task_status=task_status)
        finally:
            self.running = False

    async def shutdown(self) -> None:
        """Stop the tree in order: every swarm's agents, the trainer (brains saved), the journal
        (a last commit); `run` then returns."""
        if self._root is not None:
            await self._root.shutdown()

    async def load(self) -> dict[str, int]:
        """Rebuild swarms, agents, brains and tasks from the store (before `run`); their agents
        are supervised again when `run` starts, and unfinished work is queued again."""
        loaded = Counter[str]()
        after = None
        while True:
            records = await self.store.swarms.list(limit=1000, after=after)
            for record in records:
                swarm = Swarm.from_record(record.id, record.name, dict(record.data))
                self.swarms[swarm.id] = swarm
                self._add_swarm_supervisor(swarm)
                await self._load_agents(swarm, loaded)
                loaded["swarms"] += 1
            if len(records) < 1000:
                break
            after = records[-1].id
        for swarm in self.swarms.values():
            loaded.update(await self.board.load(swarm))
        if loaded:
            log.info("swarm_engine_recovered", **loaded)
            self.event("engine_recovered", dict(loaded))
        return dict(loaded)

    async def _load_agents(self, swarm: Swarm, loaded: Counter[str]) -> None:
        saved = {}
        if self.brains is not None:
            after = None
            while True:
                brains = await self.store.brains.list(swarm_id=swarm.id, after=after)
                saved.update({b.agent_id: b for b in brains})
                if len(brains) < 1000:
                    break
                after = brains[-1].agent_id
        after = None
        while True:
            records = await self.store.agents.list(swarm_id=swarm.id, limit=1000, after=after)
            for record in records:
                agent = Agent.from_record(record.id, swarm.id, record.kind, record.status, dict(record.data))
                swarm.add_agent(agent)
                self.agents[agent.id] = agent
                if not agent.stopped:
                    self._supervise_agent(agent)
                    if self.brains is not None:
                        self.brains.add_agent(swarm.id, agent.id, saved.get(agent.id))
                        if agent.daa is not None:
                            self.brains.set_learning_rate(swarm.id, agent.id, agent.daa.learning_rate)
                    loaded["agents"] += 1
                    loaded["brains_restored"] += agent.id in saved
            if len(records) < 1000:
                break
            after = records[-1].id

    # -- swarms -----------------------------------------------------------------------------

    def swarm(self, swarm_id: str | None) -> Swarm:
        """The named swarm, or the only one when `swarm_id` is None.

        Raises:
            NotFound: no such swarm, or no swarm at all.
            InvalidArgument: several swarms exist and none was named.
        """
        if swarm_id is None:
            if len(self.swarms) == 1:
                return next(iter(self.swarms.values()))
            if not self.swarms:
                raise NotFound("No swarm exists yet; call swarm_init first")
            raise InvalidArgument(f"{len(self.swarms)} swarms exist; pass swarmId, one of "
                                  f"{format_choices(sorted(self.swarms), limit=10)} (swarm_status lists them)")
        swarm = self.swarms.get(swarm_id)
        if swarm is None:
            raise NotFound(f"No swarm with id {swarm_id!r} ({len(self.swarms)} exist); call swarm_status for valid ids")
        return swarm

    async def create_swarm(self, *, topology: str | None, max_agents: int, strategy: str | None,
                           objective: str | None = None, name: str | None = None, pattern: str = "adaptive",
                           routing: str = "neural", executor: str = "client") -> tuple[Swarm, SwarmDesign | None]:
        """A new swarm. With an objective and no topology the Queen designs it (topology,
        strategy, agent mix) and its agents are spawned; the design comes back with its reasons.

        Raises:
            LimitExceeded: too many swarms, or max_agents above the daemon's limit.
            InvalidArgument: an unknown topology, strategy, pattern, routing or executor.
        """
        if len(self.swarms) >= self.config.max_swarms:
            raise LimitExceeded(f"{len(self.swarms)} swarms exist, the most this daemon keeps (setting swarm_max_swarms); "
                                "swarm_destroy one first")
        if not 1 <= max_agents <= self.config.max_agents:
            raise LimitExceeded(f"maxAgents must be between 1 and {self.config.max_agents} (setting swarm_max_agents), got {max_agents}")
        _check_choice("topology", topology, TOPOLOGIES, optional=True)
        _check_choice("strategy", strategy, SWARM_STRATEGIES, optional=True)
        _check_choice("cognitivePattern", pattern, tuple(PATTERNS))
        _check_choice("routing", routing, ("neural", "round_robin"))
        _check_choice("executor", executor, EXECUTORS)
        if name is not None and not _NAME.match(name):
            raise InvalidArgument(f"name {name!r} must be 1-64 letters, digits, spaces or ._:/@#+-")
        if objective is not None and not 0 < len(objective.strip()) <= 10_000:
            raise InvalidArgument("objective must be 1 to 10,000 characters")
        design = None
        if topology is None:
            if objective is None:
                topology = "mesh"
            else:
                design = design_swarm(objective, max_agents)
                topology = design.topology
                strategy = strategy or design.strategy
        swarm_id = self._new_id("swarm")
        swarm = Swarm(swarm_id, name or swarm_id, topology, strategy or "adaptive", max_agents, pattern, routing,
                      executor, self.clock(), objective, design.to_json() if design else None)
        self.swarms[swarm_id] = swarm
        self._add_swarm_supervisor(swarm)
        self.persist.swarms.add(swarm_id)
        self.event("swarm_created", {"topology": topology, "max_agents": max_agents, "designed": design is not None},
                   swarm_id=swarm_id)
        if design is not None:
            for agent_type, count in design.agents:
                for _ in range(count):
                    self._spawn_now(swarm, agent_type, None, (), None)
        await self.persist.commit()
        return swarm, design

    def _add_swarm_supervisor(self, swarm: Swarm) -> None:
        sup = DynamicSupervisor(f"swarm:{swarm.id}", intensity=self.config.restart_intensity,
                                period=self.config.restart_period, clock=self.clock, on_event=self._supervised)
        self._swarm_sups[swarm.id] = sup
        self._swarms_sup.start_child(ChildSpec(swarm.id, sup.run, Restart.PERMANENT, shutdown=30.0, stop=sup.shutdown))

    async def destroy_swarm(self, swarm_id: str) -> dict[str, Any]:
        """Stop every agent, cancel unfinished tasks, and delete the swarm and all it owns."""
        swarm = self.swarm(swarm_id)
        cancelled = self.board.drop_swarm(swarm)
        await self._swarms_sup.stop_child(swarm.id)
        self._swarm_sups.pop(swarm.id, None)
        for agent_id in swarm.agents:
            self.agents.pop(agent_id, None)
            self._wakes.pop(agent_id, None)
        if self.brains is not None:
            self.brains.drop_swarm(swarm.id)
        del self.swarms[swarm.id]
        self.persist.delete("swarms", swarm.id)
        self.event("swarm_destroyed", {"agents": len(swarm.agents), "tasks_cancelled": cancelled}, swarm_id=swarm.id)
        await self.persist.commit()
        return {"swarm_id": swarm.id, "agents_stopped": len(swarm.live_agents()), "tasks_cancelled": cancelled}

    # -- agents -----------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise NotFound(f"No agent with id {agent_id!r} ({len(self.agents)} known); call agent_list for valid ids")
        return agent

    async def spawn(self, swarm_id: str | None, agent_type: str, *, name: str | None = None,
                    capabilities: Sequence[str] = (), pattern: str | None = None, agent_id: str | None = None,
                    daa: DaaProfile | None = None, durable: bool = True) -> Agent:
        """A new supervised agent with a brain slot in its swarm's population (committed on return
        unless `durable` is false). `agent_id`: its id (default: a new one); `daa`: its DAA profile.

        Raises:
            LimitExceeded: the swarm is at its maxAgents.
            InvalidArgument: an unknown type or pattern, or a bad id, name or capability.
            Conflict: `agent_id` is already taken.
        """
        swarm = self.swarm(swarm_id)
        agent = self._spawn_now(swarm, agent_type, name, capabilities, pattern, agent_id, daa)
        if durable:
            await self.persist.commit()
        return agent

    def _spawn_now(self, swarm: Swarm, agent_type: str, name: str | None, capabilities: Sequence[str],
                   pattern: str | None, agent_id: str | None = None, daa: DaaProfile | None = None) -> Agent:
        if agent_id is not None:
            if not _AGENT_ID.match(agent_id):
                raise InvalidArgument(f"id {agent_id!r} must be 1-64 letters, digits or _.:- starting with a letter or digit")
            if agent_id in self.agents:
                owner = self.agents[agent_id]
                raise Conflict(f"an agent with id {agent_id!r} already exists ({owner.state}, swarm {owner.swarm_id}); "
                               "choose another id, or use that agent (daa_learning_status shows it)")
            if agent_id in self.swarms or agent_id in self.board.tasks or agent_id in self.board.subtasks:
                raise Conflict(f"id {agent_id!r} is already a swarm or task id; choose another id")
        _check_choice("type", agent_type, AGENT_TYPES)
        _check_choice("cognitivePattern", pattern, tuple(PATTERNS), optional=True)
        if name is not None and not _NAME.match(name):
            raise InvalidArgument(f"name {name!r} must be 1-64 letters, digits, spaces or ._:/@#+-")
        if len(capabilities) > MAX_CAPABILITIES or not all(_CAPABILITY.match(c) for c in capabilities):
            raise InvalidArgument(f"capabilities must be at most {MAX_CAPABILITIES} words of 1-64 letters, digits or ._:/+-")
        live = swarm.live_agents()
        if len(live) >= swarm.max_agents:
            raise LimitExceeded(f"swarm {swarm.id!r} has {len(live)} agents, its maxAgents; agent_stop one, "
                                "or swarm_init a larger swarm")
        agent_id = agent_id or self._new_id("agent")
        agent = Agent(agent_id, swarm.id, agent_type, name or f"{agent_type}-{swarm.next_order}",
                      tuple(dict.fromkeys(capabilities)), pattern or "adaptive", self.clock(),
                      swarm.next_order, daa=daa)
        swarm.next_order += 1
        if swarm.topology == "hierarchical":
            if agent_type == "coordinator":
                for orphan in live:
                    if orphan.type != "coordinator" and orphan.coordinator is None:
                        orphan.coordinator = agent_id
                        self.persist.agents.add(orphan.id)
            else:
                agent.coordinator = pick_coordinator(live)
        swarm.add_agent(agent)
        self.agents[agent_id] = agent
        if self.brains is not None:
            self.brains.add_agent(swarm.id, agent_id)
            if daa is not None:
                self.brains.set_learning_rate(swarm.id, agent_id, daa.learning_rate)
        self._supervise_agent(agent)
        self.persist.agents.add(agent_id)
        self.event("agent_spawned", {"type": agent_type}, swarm_id=swarm.id, agent_id=agent_id)
        return agent

    def _supervise_agent(self, agent: Agent) -> None:
        self._wakes[agent.id] = Wakeup()
        self._swarm_sups[agent.swarm_id].start_child(
            ChildSpec(agent.id, functools.partial(run_agent, self, agent.id), Restart.TRANSIENT, shutdown=5.0))

    async def stop_agent(self, agent_id: str) -> dict[str, Any]:
        """Stop an agent: its coroutine ends, its queued work moves as the topology says, and
        work it is running for a client may still be completed."""
        agent = self.agent(agent_id)
        if agent.stopped:
            raise Conflict(f"agent {agent_id!r} is already stopped; agent_list filter 'active' shows running agents")
        swarm = self.swarms[agent.swarm_id]
        agent.stopped = True
        swarm.agents_changed()
        sup = self._swarm_sups.get(swarm.id)
        if sup is not None:
            await sup.stop_child(agent.id)
        self._wakes.pop(agent.id, None)
        moved = await self.board.agent_gone(agent, "agent stopped")
        if swarm.topology == "hierarchical" and agent.type == "coordinator":
            for orphan in swarm.live_agents():
                if orphan.coordinator == agent.id:
                    orphan.coordinator = pick_coordinator(swarm.live_agents())
                    self.persist.agents.add(orphan.id)
        if self.brains is not None:
            snapshots = await self.brains.snapshots(swarm.id, force=True)
            for aid, snap in snapshots.items():
                self.persist.brains[aid] = (swarm.id, snap)
            self.brains.remove_agent(swarm.id, agent.id)
        self.persist.agents.add(agent.id)
        self.event("agent_stopped", {"moved": moved}, swarm_id=swarm.id, agent_id=agent.id)
        self._forget_stopped(swarm)
        await self.persist.commit()
        return {"agent_id": agent.id, "work_moved": moved}

    def _forget_stopped(self, swarm: Swarm) -> None:
        """Keep the newest `max_stopped_agents` stopped agents of a swarm (their metrics stay readable);
        older ones are deleted, so spawning and stopping forever does not grow the daemon."""
        stopped = sorted((a for a in swarm.agents.values() if a.stopped), key=lambda a: a.order)
        for agent in stopped[: max(0, len(stopped) - self.config.max_stopped_agents)]:
            if agent.queue or agent.running:
                continue
            del swarm.agents[agent.id]
            self.agents.pop(agent.id, None)
            self.persist.delete("agents", agent.id)

    # -- agent coroutines: wake-ups and fault injection ----------------------------------------

    def wake(self, agent_id: str) -> None:
        event = self._wakes.get(agent_id)
        if event is not None:
            event.set()

    def tick(self) -> None:
        """Wake every agent, so each checks its leases against the clock now (tests move a fake clock)."""
        for event in self._wakes.values():
            event.set()

    def wakeup(self, agent_id: str) -> Wakeup:
        """The agent's wake-up (made if it has none)."""
        wakeup = self._wakes.get(agent_id)
        if wakeup is None:
            wakeup = self._wakes[agent_id] = Wakeup()
        return wakeup

    def inject_fault(self, agent_id: str, fault: Exception) -> None:
        """Make the agent's coroutine raise `fault` when it next wakes (tests of supervision)."""
        self.agent(agent_id)
        self._faults[agent_id] = fault
        self.wake(agent_id)

    def take_fault(self, agent_id: str) -> Exception | None:
        return self._faults.pop(agent_id, None)

    def _supervised(self, event: SupervisorEvent) -> None:
        """Count, log and record what the supervisors report."""
        if event.kind == "started":
            return
        agent = self.agents.get(event.child or "")
        swarm = self.swarms.get(event.child or "") if event.supervisor == "swarms" else None
        ids = {"agent_id": agent.id if agent else None,
               "swarm_id": agent.swarm_id if agent else (swarm.id if swarm else None)}
        if event.kind == "restarted" and agent is not None:
            agent.metrics.restarts += 1
            self.persist.agents.add(agent.id)
        if event.kind == "restarted" and swarm is not None:  # the whole swarm restarted: so did its agents
            for member in swarm.live_agents():
                member.metrics.restarts += 1
                self.persist.agents.add(member.id)
        if event.kind == "escalated" and event.supervisor.startswith("swarm:"):
            owner = self.swarms.get(event.supervisor.removeprefix("swarm:"))
            if owner is not None:
                owner.escalations += 1
                self.persist.swarms.add(owner.id)
                ids["swarm_id"] = owner.id
        kind = f"supervisor_{event.kind}"
        level = "warning" if event.kind in ("crashed", "escalated", "shutdown_timeout") else "info"
        getattr(log, level)(kind, supervisor=event.supervisor, child=event.child, reason=event.reason, cause=event.cause)
        if event.kind in ("crashed", "restarted", "escalated", "shutdown_timeout"):
            self.event(kind, {"supervisor": event.supervisor, "child": event.child, "reason": event.reason,
                              "cause": event.cause}, **ids)

    # -- learning ---------------------------------------------------------------------------

    def experience_recorded(self) -> None:
        self._experience.set()

    async def _train_forever(self) -> None:
        """Train brains with new experiences in batched rounds; save them every N experiences."""
        if self.brains is None:
            await anyio.sleep_forever()
        try:
            while True:
                await self._experience.wait()
                await anyio.sleep(self.config.train_interval)  # gather more experiences into one round
                if self._manual_training:
                    continue
                self._experience = anyio.Event()
                await self.train_pending()
        finally:
            with anyio.CancelScope(shield=True):
                await self.save_brains(force=True)

    @contextmanager
    def manual_training(self) -> Iterator[None]:
        """While held, the background trainer runs no rounds: the caller trains (`train_pending`)
        at points of its choosing, so a synthetic workload's result does not depend on how fast
        the machine is."""
        self._manual_training += 1
        try:
            yield
        finally:
            self._manual_training -= 1

    async def train_pending(self) -> int:
        """One training round for every swarm with untrained experiences; agents trained."""
        assert self.brains is not None
        trained = 0
        for swarm_id, _ in self.brains.pending():
            swarm = self.swarms.get(swarm_id)
            if swarm is None or not swarm.learning:  # daa_init enableLearning=false: experiences wait
                continue
            started = time.perf_counter()
            losses = await self.brains.train(swarm_id)
            trained += len(losses)
            if losses:
                self._trained_event(swarm_id, losses, time.perf_counter() - started)
            for agent_id, snap in (await self.brains.snapshots(swarm_id)).items():
                self.persist.brains[agent_id] = (swarm_id, snap)
        return trained

    def _trained_event(self, swarm_id: str, losses: Mapping[str, list[float]], seconds: float) -> None:
        """One `brain_trained` event per round: how many brains, their mean MSE before and after, compute time."""
        histories = [h for h in losses.values() if h]
        before = [h[0] for h in histories if math.isfinite(h[0])]
        after = [h[-1] for h in histories if math.isfinite(h[-1])]
        self.counters["brain_trained"] += len(losses) - 1
        self.event("brain_trained", {"agents": len(losses), "seconds": round(seconds, 4),
                                     "mse_before": round(sum(before) / len(before), 6) if before else None,
                                     "mse_after": round(sum(after) / len(after), 6) if after else None},
                   swarm_id=swarm_id)

    async def train_agents(self, agent_id: str, *, epochs: int) -> dict[str, dict[str, Any]]:
        """Train one agent's brain (or every agent's, for "all") on its experiences now; the
        MSE of every epoch, per agent. The trained brains are saved.

        Raises:
            Unavailable: learning is off (setting swarm_learning).
            NotFound: no such agent.
            Conflict: the agent has no experiences yet.
        """
        if self.brains is None:
            raise Unavailable("agent brains are off in this daemon (setting swarm_learning=false)")
        if agent_id == "all":
            targets = {s: [a.id for a in swarm.live_agents()] for s, swarm in self.swarms.items() if swarm.learning}
        else:
            agent = self.agent(agent_id)
            if agent.stopped:
                raise Conflict(f"agent {agent_id!r} is stopped; its brain no longer trains")
            if not self.swarms[agent.swarm_id].learning:
                raise Conflict(f"learning is off in swarm {agent.swarm_id!r} (daa_init enableLearning=false); "
                               "call daa_init with enableLearning=true to train its brains")
            if not self.brains.agent(agent.swarm_id, agent.id)["experiences"]:
                raise Conflict(f"agent {agent_id!r} has no experiences yet; it learns from the subtasks it finishes "
                               "(task_claim, then task_complete or task_fail)")
            targets = {agent.swarm_id: [agent.id]}
        out: dict[str, dict[str, Any]] = {}
        for swarm_id, agents in targets.items():
            started = time.perf_counter()
            losses = await self.brains.train(swarm_id, agents, epochs=epochs)
            if losses:
                self._trained_event(swarm_id, losses, time.perf_counter() - started)
            for aid, history in losses.items():
                out[aid] = {"swarm_id": swarm_id, "mse": history, **{k: v for k, v in self.brains.agent(swarm_id, aid).items()
                                                                    if k in ("experiences", "training_rounds")}}
            for aid, snap in (await self.brains.snapshots(swarm_id, force=True)).items():
                self.persist.brains[aid] = (swarm_id, snap)
        await self.persist.commit()
        return out

    async def save_brains(self, *, force: bool) -> None:
        if self.brains is None:
            return
        for swarm_id in list(self.swarms):
            for agent_id, snap in (await self.brains.snapshots(swarm_id, force=force)).items():
                self.persist.brains[agent_id] = (swarm_id, snap)

    # -- persistence and events -----------------------------------------------------------------

    def render(self, batch: RecordBatch, swarms: set[str], agents: set[str], tasks: set[str]) -> None:
        """Write the dirty objects that still exist into `batch` (the journal's `Source`)."""
        for swarm_id in swarms:
            swarm = self.swarms.get(swarm_id)
            if swarm is not None:
                batch.put_swarm(swarm.id, name=swarm.name, status="active", data=swarm.to_record())
        for agent_id in agents:
            agent = self.agents.get(agent_id)
            if agent is not None and agent.swarm_id in self.swarms:
                batch.put_agent(agent.id, swarm_id=agent.swarm_id, kind=agent.type, status=agent.state,
                                data=agent.to_record())
        self.board.render(batch, tasks)

    def event(self, kind: str, data: Mapping[str, Any] | None = None, *, swarm_id: str | None = None,
              agent_id: str | None = None, task_id: str | None = None) -> None:
        """Count, persist (with the next commit) and publish on `feed` one event."""
        self.counters[kind] += 1
        self.persist.event(kind, data, swarm_id=swarm_id if swarm_id in self.swarms else None,
                           agent_id=agent_id, task_id=task_id)
        self.feed.publish(kind, data, swarm_id=swarm_id, agent_id=agent_id, task_id=task_id)

    def _new_id(self, prefix: str) -> str:
        while True:
            candidate = f"{prefix}-{secrets.token_hex(4)}"
            if candidate not in self.swarms and candidate not in self.agents and candidate not in self.board.tasks:
                return candidate


def _check_choice(what: str, value: str | None, valid: Sequence[str], *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if value not in valid:
        raise InvalidArgument(f"{what} {value!r} is not valid; use one of {format_choices(valid)}")
