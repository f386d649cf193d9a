"""An agent's coroutine: it owns its queue's execution, its leases' deadlines and its workers.

Client work waits in the agent's queue until a client claims it; the coroutine wakes at the
earliest lease deadline and returns expired work to the queue (a failure for the agent). Work
for an active executor is started by the coroutine itself, in a task group of its own that
exists while such work does, up to the agent's concurrency. The queue lives in the engine's
state, not here: when the coroutine crashes its supervisor restarts it, and the new
incarnation picks up interrupted executor runs and everything still queued.

An idle agent holds no event, no task group and no timer: ten thousand of them wait at once.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

import anyio
import structlog

if TYPE_CHECKING:
    from ._board import TaskBoard
    from ._engine import SwarmEngine
    from ._model import Agent

__all__ = ("Wakeup", "run_agent")

log = structlog.get_logger("swarm_mcp.swarm")


class Wakeup:
    """Wakes a sleeping agent. A wake-up that comes while the agent is awake is kept, so the next
    `wait` returns at once. Only a sleeping agent holds a future (an asyncio one: the engine runs
    on asyncio, and an anyio Event costs ~760 bytes an agent)."""

    __slots__ = ("_future", "_pending")

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None
        self._pending = False

    def set(self) -> None:
        self._pending = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        if not self._pending:
            self._future = asyncio.get_running_loop().create_future()
            try:
                await self._future
            finally:
                self._future = None
        self._pending = False


async def run_agent(engine: SwarmEngine, agent_id: str) -> None:
    """Run until the agent is stopped (its supervisor cancels this) or crashes."""
    agent = engine.agents.get(agent_id)
    if agent is None or agent.stopped:
        return  # stopped or destroyed before it started: a clean exit, not restarted
    board = engine.board
    if board.requeue_executions(agent):
        log.info("agent_resumed_work", agent_id=agent_id, queued=len(agent.queue))
    wakeup = engine.wakeup(agent_id)
    while True:
        await _tend(engine, agent, board)
        if board.has_executions(agent):
            await _execute(engine, agent, board, wakeup)
        else:
            await _sleep(engine, agent, board, wakeup)


async def _tend(engine: SwarmEngine, agent: Agent, board: TaskBoard) -> None:
    fault = engine.take_fault(agent.id)
    if fault is not None:
        raise fault
    await board.expire_leases(agent)


async def _sleep(engine: SwarmEngine, agent: Agent, board: TaskBoard, wakeup: Wakeup) -> None:
    deadline = board.next_deadline(agent)
    if deadline is None:
        await wakeup.wait()
        return
    with anyio.move_on_after(max(0.0, deadline - engine.clock())):
        await wakeup.wait()


async def _execute(engine: SwarmEngine, agent: Agent, board: TaskBoard, wakeup: Wakeup) -> None:
    """Run active-executor work in the agent's own task group until none is left; a crash here
    cancels the workers with it."""
    try:
        async with anyio.create_task_group() as workers:
            while True:
                while (sub := board.next_execution(agent)) is not None:
                    workers.start_soon(board.execute, sub, agent, name=f"execute {sub.id}")
                if not board.has_executions(agent):
                    return
                await _sleep(engine, agent, board, wakeup)
                await _tend(engine, agent, board)
    except BaseExceptionGroup as group:  # report the crash itself, not the task group around it
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
            raise group.exceptions[0] from None
        raise
