"""The swarm's vocabulary and state: closed sets as enums, live objects as plain dataclasses.

Swarms, agents, tasks and subtasks are mutable objects the engine owns on the event loop; the
journal persists them as JSON (`to_record` / `from_record`). Nothing here does I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = (
    "AGENT_TYPES",
    "MAX_OUTCOME_WINDOWS",
    "OUTCOME_WINDOW",
    "PRIORITIES",
    "TASK_TYPES",
    "TOPOLOGIES",
    "Agent",
    "AgentMetrics",
    "DaaProfile",
    "DaaSettings",
    "Lease",
    "Subtask",
    "SubtaskState",
    "Swarm",
    "Task",
    "TaskState",
    "default_capabilities",
    "natural_task_type",
)

TOPOLOGIES = ("mesh", "hierarchical", "ring", "star")
SWARM_STRATEGIES = ("balanced", "specialized", "adaptive")
TASK_STRATEGIES = ("parallel", "sequential", "adaptive")
PRIORITIES = {"low": 0, "medium": 1, "high": 2, "critical": 3}
EXECUTORS = ("client", "claude")
OUTCOME_WINDOW = 20  # finished attempts per point of a swarm's success curve
MAX_OUTCOME_WINDOWS = 100  # points kept (the oldest are dropped)
PERSISTENCE_MODES = ("auto", "memory", "disk")

# Agent types and the task type each does best (one to one), with their built-in capabilities.
AGENT_TYPES = (
    "researcher", "coder", "analyst", "optimizer", "coordinator", "tester", "reviewer", "documenter", "architect",
)
TASK_TYPES = (
    "research", "code", "analysis", "optimization", "coordination", "testing", "review", "documentation", "architecture",
)
_CAPABILITIES = {
    "researcher": ("research", "search", "synthesis"),
    "coder": ("code", "implementation", "debugging"),
    "analyst": ("analysis", "data", "metrics"),
    "optimizer": ("optimization", "performance", "profiling"),
    "coordinator": ("coordination", "planning", "delegation"),
    "tester": ("testing", "verification", "qa"),
    "reviewer": ("review", "critique", "quality"),
    "documenter": ("documentation", "writing", "explanation"),
    "architect": ("architecture", "design", "systems"),
}


def natural_task_type(agent_type: str) -> str:
    """The task type an agent type is built for: coder -> code, tester -> testing, ..."""
    return TASK_TYPES[AGENT_TYPES.index(agent_type)]


def default_capabilities(agent_type: str) -> tuple[str, ...]:
    return _CAPABILITIES[agent_type]


class TaskState(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SubtaskState(str, Enum):
    PENDING = "pending"  # waiting for its dependencies, or for an agent
    ASSIGNED = "assigned"  # routed to an agent, claimable
    RUNNING = "running"  # claimed under a lease (or run by the agent's executor)
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (SubtaskState.COMPLETED, SubtaskState.FAILED, SubtaskState.CANCELLED)


@dataclass(slots=True)
class Lease:
    id: str
    holder: str  # "client" or "executor:<name>"
    expires_at: float
    claimed_at: float


WINDOW = 100  # recent durations and predictions kept per agent (written with the agent: keep it small)


@dataclass(slots=True)
class AgentMetrics:
    """An agent's counters. The sample windows are made on first use: an idle agent holds none."""

    done: int = 0
    failed: int = 0
    restarts: int = 0
    decisions: int = 0  # routing decisions made as a coordinator or ring hand-off
    _durations: deque[float] | None = None
    _predictions: deque[tuple[float, bool]] | None = None  # brain's p(success), outcome
    by_type: dict[str, list[int]] | None = None  # task type -> [done, failed]
    by_pattern: dict[str, list[int]] | None = None  # the agent's pattern when its work finished -> [done, failed]
    decided: dict[str, list[int]] | None = None  # its pattern when it routed work -> [decisions, explored]

    @property
    def durations(self) -> deque[float]:
        if self._durations is None:
            self._durations = deque(maxlen=WINDOW)
        return self._durations

    @property
    def predictions(self) -> deque[tuple[float, bool]]:
        if self._predictions is None:
            self._predictions = deque(maxlen=WINDOW)
        return self._predictions

    def sample(self, duration: float, predicted: float | None, success: bool) -> None:
        """Record a finished attempt's duration and, if the brain predicted it, the prediction
        (rounded here, once, rather than each time the record is written)."""
        self.durations.append(round(duration, 4))
        if predicted is not None:
            self.predictions.append((round(predicted, 4), success))

    def count(self, task_type: str, success: bool, pattern: str | None = None) -> None:
        if self.by_type is None:
            self.by_type = {}
        counts = self.by_type.setdefault(task_type, [0, 0])
        counts[0 if success else 1] += 1
        if pattern is not None:
            if self.by_pattern is None:
                self.by_pattern = {}
            self.by_pattern.setdefault(pattern, [0, 0])[0 if success else 1] += 1
        if success:
            self.done += 1
        else:
            self.failed += 1

    def decision(self, pattern: str, explored: bool) -> None:
        """Count a routing decision this agent made (as a coordinator or ring hand-off)."""
        self.decisions += 1
        if self.decided is None:
            self.decided = {}
        counts = self.decided.setdefault(pattern, [0, 0])
        counts[0] += 1
        counts[1] += explored

    def experience_of(self, task_type: str) -> int:
        return sum(self.by_type.get(task_type, (0, 0))) if self.by_type else 0

    def to_json(self) -> dict[str, Any]:
        return {"done": self.done, "failed": self.failed, "restarts": self.restarts, "decisions": self.decisions,
                "durations": list(self._durations or ()),
                "predictions": [[p, int(ok)] for p, ok in self._predictions or ()],
                "by_type": self.by_type or {}, "by_pattern": self.by_pattern or {}, "decided": self.decided or {}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentMetrics:
        metrics = cls(int(data.get("done", 0)), int(data.get("failed", 0)), int(data.get("restarts", 0)),
                      int(data.get("decisions", 0)))
        if data.get("durations"):
            metrics.durations.extend(float(d) for d in data["durations"])
        if data.get("predictions"):
            metrics.predictions.extend((float(p), bool(s)) for p, s in data["predictions"])
        if data.get("by_type"):
            metrics.by_type = {str(k): [int(v[0]), int(v[1])] for k, v in data["by_type"].items()}
        if data.get("by_pattern"):
            metrics.by_pattern = {str(k): [int(v[0]), int(v[1])] for k, v in data["by_pattern"].items()}
        if data.get("decided"):
            metrics.decided = {str(k): [int(v[0]), int(v[1])] for k, v in data["decided"].items()}
        return metrics


@dataclass(frozen=True, slots=True)
class DaaSettings:
    """A swarm's DAA switches (`daa_init`). `persistence_mode`: disk, DAA writes return once
    committed; memory, they are written behind; auto, configuration (init, agents, patterns,
    workflows) is durable and learning traffic (adaptations, shares, transfers) written behind."""

    enable_learning: bool = True
    enable_coordination: bool = True
    persistence_mode: str = "auto"
    updated: float = 0.0

    def durable(self, kind: str) -> bool:
        """Whether a DAA write of `kind` ("config" or "learning") waits for its commit."""
        return self.persistence_mode == "disk" or (self.persistence_mode == "auto" and kind == "config")

    def to_json(self) -> dict[str, Any]:
        return {"enable_learning": self.enable_learning, "enable_coordination": self.enable_coordination,
                "persistence_mode": self.persistence_mode, "updated": self.updated}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DaaSettings:
        mode = str(data.get("persistence_mode", "auto"))
        return cls(bool(data.get("enable_learning", True)), bool(data.get("enable_coordination", True)),
                   mode if mode in PERSISTENCE_MODES else "auto", float(data.get("updated", 0.0)))


@dataclass(slots=True)
class DaaProfile:
    """What `daa_agent_create` adds to an agent: its learning rate, whether it keeps a memory
    namespace (agent:<id>), its recent performance scores and its pattern switches."""

    learning_rate: float
    memory: bool = True
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=10))
    adaptations: int = 0
    switches: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10))
    switched_at: int = 0  # `adaptations` at its last pattern switch

    def to_json(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "memory": self.memory, "scores": list(self.scores),
                "adaptations": self.adaptations, "switches": list(self.switches), "switched_at": self.switched_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DaaProfile:
        profile = cls(float(data["learning_rate"]), bool(data.get("memory", True)), adaptations=int(data.get("adaptations", 0)),
                      switched_at=int(data.get("switched_at", 0)))
        profile.scores.extend(float(s) for s in data.get("scores", ()))
        profile.switches.extend(dict(s) for s in data.get("switches", ()))
        return profile


@dataclass(slots=True)
class Agent:
    id: str
    swarm_id: str
    type: str
    name: str
    capabilities: tuple[str, ...]
    pattern: str
    created: float
    order: int  # spawn order within the swarm (the ring follows it)
    concurrency: int = 1
    coordinator: str | None = None  # hierarchical: the coordinator this worker reports to
    stopped: bool = False
    queue: dict[str, None] = field(default_factory=dict)  # assigned subtask ids, oldest first (an ordered set)
    running: set[str] = field(default_factory=set)  # claimed subtask ids
    # ids of its active-executor subtasks, queued or running (None while there were none; finished
    # ones leave when `TaskBoard.has_executions` meets them)
    executions: set[str] | None = None
    metrics: AgentMetrics = field(default_factory=AgentMetrics)
    daa: DaaProfile | None = None

    @property
    def state(self) -> str:
        if self.stopped:
            return "stopped"
        return "busy" if self.running else "idle"

    @property
    def all_capabilities(self) -> frozenset[str]:
        return frozenset(self.capabilities) | frozenset(default_capabilities(self.type))

    def to_record(self) -> dict[str, Any]:
        out = {"name": self.name, "capabilities": list(self.capabilities), "pattern": self.pattern,
               "created": self.created, "order": self.order, "concurrency": self.concurrency,
               "coordinator": self.coordinator, "metrics": self.metrics.to_json()}
        if self.daa is not None:
            out["daa"] = self.daa.to_json()
        return out

    @classmethod
    def from_record(cls, agent_id: str, swarm_id: str, kind: str, status: str, data: dict[str, Any]) -> Agent:
        return cls(agent_id, swarm_id, kind, str(data["name"]), tuple(data.get("capabilities", ())),
                   str(data.get("pattern", "adaptive")), float(data["created"]), int(data.get("order", 0)),
                   int(data.get("concurrency", 1)), data.get("coordinator"), status == "stopped",
                   metrics=AgentMetrics.from_json(data.get("metrics", {})),
                   daa=DaaProfile.from_json(data["daa"]) if data.get("daa") else None)


@dataclass(slots=True)
class Swarm:
    id: str
    name: str
    topology: str
    strategy: str
    max_agents: int
    pattern: str  # the Queen's decision policy
    routing: str  # neural or round_robin
    executor: str  # default executor of its tasks
    created: float
    objective: str | None = None
    design: dict[str, Any] | None = None  # the Queen's reasons when she chose the topology
    agents: dict[str, Agent] = field(default_factory=dict)
    next_order: int = 0
    round_robin: int = 0
    escalations: int = 0
    decisions: int = 0  # the Queen's routing decisions
    completed: int = 0  # subtasks finished successfully, all time
    failed: int = 0
    daa: DaaSettings | None = None  # set by daa_init
    windows: list[list[int]] = field(default_factory=list)  # [succeeded, failed] per OUTCOME_WINDOW attempts, oldest first
    _live: list[Agent] | None = None  # live agents in spawn order, rebuilt after a change

    def record_outcome(self, success: bool) -> None:
        """Count one finished attempt (the routing decision it ended) in the current window."""
        if not self.windows or sum(self.windows[-1]) >= OUTCOME_WINDOW:
            self.windows.append([0, 0])
            del self.windows[:-MAX_OUTCOME_WINDOWS]
        self.windows[-1][0 if success else 1] += 1

    def live_agents(self) -> list[Agent]:
        """Agents not stopped, in spawn order (a cached list: do not change it)."""
        if self._live is None:
            self._live = sorted((a for a in self.agents.values() if not a.stopped), key=lambda a: a.order)
        return self._live

    def add_agent(self, agent: Agent) -> None:
        self.agents[agent.id] = agent
        if self._live is not None and not agent.stopped and (not self._live or self._live[-1].order < agent.order):
            self._live.append(agent)
        else:
            self._live = None

    def agents_changed(self) -> None:
        """Call after an agent stopped (or its order changed)."""
        self._live = None

    def to_record(self) -> dict[str, Any]:
        return {"topology": self.topology, "strategy": self.strategy, "max_agents": self.max_agents,
                "pattern": self.pattern, "routing": self.routing, "executor": self.executor, "created": self.created,
                "objective": self.objective, "design": self.design, "next_order": self.next_order,
                "escalations": self.escalations, "decisions": self.decisions, "completed": self.completed,
                "failed": self.failed, "round_robin": self.round_robin, "windows": self.windows,
                "daa": None if self.daa is None else self.daa.to_json()}

    @property
    def learning(self) -> bool:
        """Whether its brains may learn (daa_init enableLearning; on unless turned off)."""
        return self.daa is None or self.daa.enable_learning

    @classmethod
    def from_record(cls, swarm_id: str, name: str, data: dict[str, Any]) -> Swarm:
        return cls(swarm_id, name, str(data["topology"]), str(data["strategy"]), int(data["max_agents"]),
                   str(data.get("pattern", "adaptive")), str(data.get("routing", "neural")),
                   str(data.get("executor", "client")), float(data["created"]), data.get("objective"),
                   data.get("design"), next_order=int(data.get("next_order", 0)),
                   round_robin=int(data.get("round_robin", 0)), escalations=int(data.get("escalations", 0)),
                   decisions=int(data.get("decisions", 0)), completed=int(data.get("completed", 0)),
                   failed=int(data.get("failed", 0)),
                   daa=DaaSettings.from_json(data["daa"]) if data.get("daa") else None,
                   windows=[[int(w[0]), int(w[1])] for w in data.get("windows", ())][-MAX_OUTCOME_WINDOWS:])


@dataclass(slots=True)
class Subtask:
    id: str
    task_id: str
    swarm_id: str
    index: int  # position in the plan
    description: str
    type: str
    capabilities: tuple[str, ...]
    depends_on: tuple[str, ...]
    features: list[float]
    priority: int
    executor: str
    state: SubtaskState = SubtaskState.PENDING
    agent_id: str | None = None
    attempts: int = 0
    max_attempts: int = 3
    failed_agents: list[str] = field(default_factory=list)
    lease: Lease | None = None
    result: Any = None
    success: bool | None = None
    quality: float | None = None
    reason: str | None = None
    review_of: str | None = None
    decision: dict[str, Any] | None = None
    created: float = 0.0
    assigned_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def to_record(self) -> dict[str, Any]:
        return {"kind": "subtask", "task_id": self.task_id, "index": self.index, "description": self.description,
                "type": self.type, "capabilities": list(self.capabilities), "depends_on": list(self.depends_on),
                "features": self.features, "executor": self.executor, "attempts": self.attempts,
                "max_attempts": self.max_attempts, "failed_agents": self.failed_agents, "result": self.result,
                "success": self.success, "quality": self.quality, "reason": self.reason, "review_of": self.review_of,
                "decision": self.decision, "created": self.created, "assigned_at": self.assigned_at,
                "started_at": self.started_at, "finished_at": self.finished_at}

    @classmethod
    def from_record(cls, subtask_id: str, swarm_id: str, agent_id: str | None, status: str, priority: int,
                    data: dict[str, Any]) -> Subtask:
        return cls(
            subtask_id, str(data["task_id"]), swarm_id, int(data["index"]), str(data["description"]), str(data["type"]),
            tuple(data.get("capabilities", ())), tuple(data.get("depends_on", ())),
            [float(v) for v in data["features"]], priority, str(data.get("executor", "client")),
            SubtaskState(status), agent_id, int(data.get("attempts", 0)), int(data.get("max_attempts", 3)),
            list(data.get("failed_agents", ())), None, data.get("result"), data.get("success"), data.get("quality"),
            data.get("reason"), data.get("review_of"), data.get("decision"), float(data.get("created", 0.0)),
            data.get("assigned_at"), data.get("started_at"), data.get("finished_at"),
        )


@dataclass(slots=True)
class Task:
    id: str
    swarm_id: str
    description: str
    strategy: str
    priority: int
    executor: str
    created: float
    analysis: dict[str, Any]
    subtasks: list[str]
    max_agents: int | None = None
    coordinator: str | None = None  # hierarchical: the coordinator whose team runs it
    allowed_agents: list[str] | None = None  # maxAgents: the agents it may use
    state: TaskState = TaskState.PENDING
    finished_at: float | None = None
    reason: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"kind": "task", "description": self.description, "strategy": self.strategy,
                "executor": self.executor, "created": self.created, "analysis": self.analysis,
                "subtasks": self.subtasks, "max_agents": self.max_agents, "coordinator": self.coordinator,
                "allowed_agents": self.allowed_agents, "finished_at": self.finished_at, "reason": self.reason}

    @classmethod
    def from_record(cls, task_id: str, swarm_id: str, status: str, priority: int, data: dict[str, Any]) -> Task:
        return cls(task_id, swarm_id, str(data["description"]), str(data["strategy"]), priority,
                   str(data.get("executor", "client")), float(data["created"]), dict(data.get("analysis", {})),
                   list(data["subtasks"]), data.get("max_agents"), data.get("coordinator"), data.get("allowed_agents"),
                   TaskState(status), data.get("finished_at"), data.get("reason"))
