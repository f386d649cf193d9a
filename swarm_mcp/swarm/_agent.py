"""An agent's coroutine: it owns its queue's execution, its leases' deadlines and its workers.

Client work waits in the agent's queue until a client claims it; the coroutine wakes at the
earliest lease deadline and returns expired work to the queue (a failure for the agent). Work
for an active executor is started by the coroutine itself, in its own task group, up to the
agent's concurrency. The queue lives in the engine's state, not here: when the coroutine
crashes its supervisor restarts it, and the new incarnation picks up interrupted executor runs
and everything still queued.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import anyio
import structlog

if TYPE_CHECKING:
    from ._engine import SwarmEngine

__all__ = ("run_agent",)

log = structlog.get_logger("swarm_mcp.swarm")


async def run_agent(engine: SwarmEngine, agent_id: str) -> None:
    """Run until the agent is stopped (its supervisor cancels this) or crashes."""
    agent = engine.agents.get(agent_id)
    if agent is None or agent.stopped:
        return  # stopped or destroyed before it started: a clean exit, not restarted
    board = engine.board
    if board.requeue_executions(agent):
        log.info("agent_resumed_work", agent_id=agent_id, queued=len(agent.queue))
    try:
        await _serve(engine, agent_id, agent, board)
    except BaseExceptionGroup as group:  # report the crash itself, not the task group around it
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
            raise group.exceptions[0] from None
        raise


async def _serve(engine: SwarmEngine, agent_id: str, agent: Any, board: Any) -> None:
    async with anyio.create_task_group() as workers:
        while True:
            token = engine.wait_token(agent_id)
            fault = engine.take_fault(agent_id)
            if fault is not None:
                raise fault
            await board.expire_leases(agent)
            while (sub := board.next_execution(agent)) is not None:
                workers.start_soon(board.execute, sub, agent, name=f"execute {sub.id}")
            deadline = board.next_deadline(agent)
            wait = math.inf if deadline is None else max(0.0, deadline - engine.clock())
            with anyio.move_on_after(wait):
                await token.wait()
