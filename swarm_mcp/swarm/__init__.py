"""The swarm: supervised agents in topologies, a Queen that plans, executors, learning routing.

    engine = SwarmEngine(store, runtime, EngineConfig())
    await engine.load()                          # swarms, agents, tasks and brains from the store
    async with anyio.create_task_group() as tg:
        await tg.start(engine.run)               # the supervision tree
        swarm, _ = await engine.create_swarm(topology="mesh", max_agents=8, strategy="balanced")
        await engine.spawn(swarm.id, "coder")
        task = await engine.board.orchestrate("Implement the parser, then test it")
        claim = await engine.board.claim()
        await engine.board.complete(claim.subtask.id, {"patch": "..."})

The Queen's planning (`analyze`, `plan_task`, `design_swarm`) and the topologies are pure
functions; `SwarmEngine` owns the state, the supervision and the persistence; `TaskBoard`
(`engine.board`) runs tasks; `Brains` keeps each swarm's agent networks in a `neural` population.
`daa`, `workflows`, `transfer` and `performance` are the DAA tools' rules over the same engine.
"""

from __future__ import annotations

from . import _daa as daa
from . import _performance as performance
from . import _transfer as transfer
from . import _workflows as workflows
from ._board import Claim as Claim
from ._board import TaskBoard as TaskBoard
from ._brains import Brains as Brains
from ._engine import EngineConfig as EngineConfig
from ._engine import SwarmEngine as SwarmEngine
from ._executors import Executor as Executor
from ._executors import WorkItem as WorkItem
from ._executors import WorkOutcome as WorkOutcome
from ._features import FEATURES as FEATURES
from ._features import classify as classify
from ._features import task_features as task_features
from ._model import AGENT_TYPES as AGENT_TYPES
from ._model import EXECUTORS as EXECUTORS
from ._model import PRIORITIES as PRIORITIES
from ._model import SWARM_STRATEGIES as SWARM_STRATEGIES
from ._model import TASK_STRATEGIES as TASK_STRATEGIES
from ._model import TASK_TYPES as TASK_TYPES
from ._model import TOPOLOGIES as TOPOLOGIES
from ._model import Agent as Agent
from ._model import Subtask as Subtask
from ._model import SubtaskState as SubtaskState
from ._model import Swarm as Swarm
from ._model import Task as Task
from ._model import TaskState as TaskState
from ._model import default_capabilities as default_capabilities
from ._patterns import PATTERNS as PATTERNS
from ._patterns import Pattern as Pattern
from ._queen import Analysis as Analysis
from ._queen import Plan as Plan
from ._queen import SwarmDesign as SwarmDesign
from ._queen import analyze as analyze
from ._queen import design_swarm as design_swarm
from ._queen import find_cycle as find_cycle
from ._queen import plan_explicit as plan_explicit
from ._queen import plan_task as plan_task
from ._topology import can_take as can_take
from ._topology import edges as edges
from ._topology import failover as failover
from ._topology import neighbours as neighbours
from ._views import agent_metrics as agent_metrics
from ._views import agent_summary as agent_summary
from ._views import claim_view as claim_view
from ._views import subtask_view as subtask_view
from ._views import swarm_graph as swarm_graph
from ._views import swarm_learning as swarm_learning
from ._views import swarm_queue as swarm_queue
from ._views import swarm_view as swarm_view
from ._views import task_results as task_results
from ._views import task_summary as task_summary
from ._views import task_view as task_view

__all__ = (
    "AGENT_TYPES",
    "EXECUTORS",
    "FEATURES",
    "PATTERNS",
    "PRIORITIES",
    "SWARM_STRATEGIES",
    "TASK_STRATEGIES",
    "TASK_TYPES",
    "TOPOLOGIES",
    "Agent",
    "Analysis",
    "Brains",
    "Claim",
    "EngineConfig",
    "Executor",
    "Pattern",
    "Plan",
    "Subtask",
    "SubtaskState",
    "Swarm",
    "SwarmDesign",
    "SwarmEngine",
    "Task",
    "TaskBoard",
    "TaskState",
    "WorkItem",
    "WorkOutcome",
    "agent_metrics",
    "agent_summary",
    "analyze",
    "can_take",
    "claim_view",
    "classify",
    "daa",
    "default_capabilities",
    "design_swarm",
    "edges",
    "failover",
    "find_cycle",
    "neighbours",
    "performance",
    "plan_explicit",
    "plan_task",
    "subtask_view",
    "swarm_graph",
    "swarm_learning",
    "swarm_queue",
    "swarm_view",
    "task_features",
    "task_results",
    "task_summary",
    "task_view",
    "transfer",
    "workflows",
)
