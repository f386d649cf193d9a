"""`swarm-mcp worker`: the Claude worker loop on another machine, claiming work from a daemon.

Each of `concurrency` slots long-polls `task_claim` (up to `poll_seconds`, under a
`lease_seconds` lease) over authenticated Streamable HTTP, runs Claude Code locally on the
subtask (`ClaudeRunner`: the same prompt, run file and output parsing as the daemon's own
`claude` executor, its MCP config pointing at the same daemon and token), sends
`task_heartbeat` every third of the lease while Claude runs, and reports `task_complete` or
`task_fail`. A heartbeat the daemon refuses (the task was cancelled, the lease expired or the
daemon restarted) means the subtask is no longer ours: its Claude is killed and nothing is
reported. An unreachable daemon is retried with backoff (up to 30 s apart); a refused token or
an unknown swarm ends the worker with the daemon's reason.

`stop` (SIGINT/SIGTERM in the CLI) ends it cleanly: waiting claims are cancelled, running
Claude processes are killed, and their subtasks are failed (retryable) with a reason naming this
machine and the signal. The claims' subtasks may thus run again elsewhere at once; a claim the
daemon granted just as we cancelled it comes back when its lease expires.
"""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import structlog

from ..errors import SwarmError, Unavailable
from ..swarm import WorkOutcome
from ..workers import ClaudeRunner, Endpoint, work_item_from_claim
from ..workers._result import MAX_REASON_CHARS
from ._client import DaemonClient, ToolError, Unauthorized

__all__ = ("WorkerSettings", "WorkerStop", "run_worker")

log = structlog.get_logger("swarm_mcp.worker")

REPORT_TIMEOUT = 10.0  # a report sent while stopping gets this long
MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    url: str
    token: str | None
    concurrency: int = 2
    swarm_id: str | None = None
    capabilities: tuple[str, ...] | None = None
    lease_seconds: float = 60.0
    poll_seconds: float = 30.0


class WorkerStop:
    """The one stop request of a worker process (a signal, or a test)."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            log.info("worker_stopping", reason=reason)
            self.event.set()


async def run_worker(settings: WorkerSettings, runner: ClaudeRunner, stop: WorkerStop) -> Counter[str]:
    """Claim and do subtasks until `stop`; returns what happened (claimed, completed, failed, ...).

    Raises:
        NotFound: no Claude Code binary (before anything is claimed).
        InvalidArgument: a malformed URL.
        Unavailable: the daemon cannot be reached at the start, or refuses the token.
        ToolError: the daemon refuses the claims themselves (an unknown swarm id, say).
    """
    binary = runner.binary()
    async with DaemonClient(settings.url, settings.token) as daemon:
        worker = _Worker(settings, runner, daemon, binary, stop)
        log.info("worker_started", url=settings.url, concurrency=settings.concurrency, swarm_id=settings.swarm_id,
                 claude=str(binary), server=daemon.server_info.get("name"))
        async with anyio.create_task_group() as slots:
            for slot in range(settings.concurrency):
                slots.start_soon(worker.serve, slot, name=f"worker slot {slot}")
            await stop.event.wait()
            slots.cancel_scope.cancel()
    log.info("worker_stopped", reason=stop.reason, **worker.counts)
    return worker.counts


class _Worker:
    def __init__(self, settings: WorkerSettings, runner: ClaudeRunner, daemon: DaemonClient, binary: Path,
                 stop: WorkerStop) -> None:
        self.settings, self.runner, self.daemon, self.binary, self.stop = settings, runner, daemon, binary, stop
        self.endpoint = Endpoint(settings.url, settings.token)
        self.counts: Counter[str] = Counter()
        self.host = socket.gethostname()

    async def serve(self, slot: int) -> None:
        backoff = 1.0
        while True:
            try:
                claim = await self._claim()
            except Unauthorized:
                raise
            except Unavailable as exc:
                log.warning("daemon_unreachable", slot=slot, error=str(exc), retry_in=backoff)
                await anyio.sleep(backoff)
                backoff = min(2 * backoff, MAX_BACKOFF)
                continue
            backoff = 1.0
            if claim.get("claimed"):
                await self.work(claim)

    async def _claim(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {"wait": self.settings.poll_seconds, "leaseSeconds": self.settings.lease_seconds}
        if self.settings.swarm_id is not None:
            arguments["swarmId"] = self.settings.swarm_id
        if self.settings.capabilities is not None:
            arguments["capabilities"] = list(self.settings.capabilities)
        return await self.daemon.call_tool("task_claim", arguments)

    async def work(self, claim: dict[str, Any]) -> None:
        item = work_item_from_claim(claim)
        lease_id = str(claim["lease"]["lease_id"])
        self.counts["claimed"] += 1
        log.info("subtask_claimed", subtask_id=item.subtask_id, agent_id=item.agent.get("id"),
                 attempt=claim.get("attempt"))
        lost: list[str] = []
        outcome: WorkOutcome | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeat, item.subtask_id, lease_id, lost, tg.cancel_scope)
            try:
                outcome = await self.runner.run(item, self.endpoint, binary=self.binary)
            except anyio.get_cancelled_exc_class():
                if not lost:  # the worker is stopping: give the subtask back with the reason
                    await self._report_stopped(item.subtask_id, lease_id)
                raise
            except (SwarmError, OSError) as exc:
                outcome = WorkOutcome(False, None, reason=f"the worker on {self.host} could not run Claude: {exc}")
            tg.cancel_scope.cancel()
        if lost:
            self.counts["lost"] += 1
            log.warning("subtask_lost", subtask_id=item.subtask_id, reason=lost[0])
            return
        assert outcome is not None
        with anyio.CancelScope(shield=True), anyio.move_on_after(REPORT_TIMEOUT):  # finish what is finished
            await self._report(item.subtask_id, lease_id, outcome)

    async def _heartbeat(self, subtask_id: str, lease_id: str, lost: list[str], scope: anyio.CancelScope) -> None:
        every = self.settings.lease_seconds / 3
        while True:
            await anyio.sleep(every)
            try:
                await self.daemon.call_tool("task_heartbeat", {"taskId": subtask_id, "leaseId": lease_id,
                                                               "seconds": self.settings.lease_seconds})
            except ToolError as exc:  # cancelled, expired or requeued: no longer ours
                lost.append(exc.text)
                scope.cancel()
                return
            except Unavailable as exc:
                log.warning("heartbeat_failed", subtask_id=subtask_id, error=str(exc))

    async def _report(self, subtask_id: str, lease_id: str, outcome: WorkOutcome) -> None:
        try:
            if outcome.success:
                await self.daemon.call_tool("task_complete", {"taskId": subtask_id, "leaseId": lease_id,
                                                              "result": outcome.result})
                self.counts["completed"] += 1
                return
            await self._fail(subtask_id, lease_id, outcome.reason or "the Claude worker reported failure")
            self.counts["failed"] += 1
        except ToolError as exc:
            if exc.tool == "task_complete":  # e.g. a result over the daemon's limit: say so instead
                refused = WorkOutcome(False, None, reason=f"the result was refused: {exc.text}")
                await self._report(subtask_id, lease_id, refused)
                return
            log.warning("report_refused", subtask_id=subtask_id, error=str(exc))
        except Unavailable as exc:
            log.warning("report_failed", subtask_id=subtask_id, error=str(exc))

    async def _fail(self, subtask_id: str, lease_id: str, reason: str) -> None:
        await self.daemon.call_tool("task_fail", {"taskId": subtask_id, "leaseId": lease_id, "retry": True,
                                                  "reason": reason[:MAX_REASON_CHARS]})

    async def _report_stopped(self, subtask_id: str, lease_id: str) -> None:
        reason = (f"the swarm-mcp worker on {self.host} stopped ({self.stop.reason or 'cancelled'}) before the subtask "
                  "finished; it can run again elsewhere")
        with anyio.CancelScope(shield=True), anyio.move_on_after(REPORT_TIMEOUT):
            try:
                await self._fail(subtask_id, lease_id, reason)
                self.counts["given_back"] += 1
            except SwarmError as exc:
                log.warning("report_failed", subtask_id=subtask_id, error=str(exc))
