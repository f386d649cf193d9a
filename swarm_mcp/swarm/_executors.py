"""Executors: who does a subtask's work.

`client` (the default) is passive: an MCP client claims the subtask with `task_claim`, does the
work on its agent's behalf and reports with `task_complete` / `task_fail`. Any other executor is
active: the agent's own coroutine hands it the subtask (`WorkItem`) and turns its `WorkOutcome`
into the subtask's result. An executor that cannot run here says why (`unavailable`), and
`task_orchestrate` refuses it with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ("Executor", "WorkItem", "WorkOutcome")


@dataclass(frozen=True, slots=True)
class WorkItem:
    """Everything an executor needs to do one subtask."""

    subtask_id: str
    task_id: str
    swarm_id: str
    agent: dict[str, Any]  # id, type, name, capabilities, pattern
    description: str
    type: str
    task_description: str
    context: list[dict[str, Any]] = field(default_factory=list)  # the results of its dependencies


@dataclass(frozen=True, slots=True)
class WorkOutcome:
    success: bool
    result: Any
    quality: float | None = None
    reason: str | None = None  # why it failed


class Executor(Protocol):
    """An active executor. `timeout` bounds one subtask; the engine cancels it past that."""

    name: str
    timeout: float

    def unavailable(self) -> str | None:
        """None when the executor can run here, else why not (and what to do about it)."""
        ...

    async def run(self, item: WorkItem) -> WorkOutcome: ...
