"""The `claude` executor: the daemon's agents hand their subtasks to headless Claude Code workers.

Each subtask is one `ClaudeRunner.run`: `claude -p` with the subtask's prompt, attached to this
daemon over Streamable HTTP (`DaemonEndpoint`: the TCP port the daemon serves, or a private
loopback listener with a random per-daemon token), so the worker can use the swarm's tools.

Limits: at most `claude_workers` processes at once across the daemon; a subtask waits for a free
worker at most `claude_timeout` seconds (then that attempt fails and is retried), and each run
lasts at most `claude_timeout` seconds. When the engine cancels a run (`task_cancel`, the agent
stopping or crashing, the daemon stopping) the process's whole group is killed and reaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import anyio

from ..config import ConfigError
from ..errors import SwarmError
from ..swarm import WorkItem, WorkOutcome
from ._endpoint import DaemonEndpoint
from ._process import KILL_GRACE
from ._runner import ClaudeRunner

__all__ = ("ClaudeExecutor",)


class ClaudeExecutor:
    """The daemon's `claude` executor (a `swarm_mcp.swarm.Executor`)."""

    name = "claude"

    def __init__(self, endpoint: DaemonEndpoint, runner: ClaudeRunner, *, workers: int = 2) -> None:
        """Raises: ConfigError: `workers` is below 1."""
        if workers < 1:
            raise ConfigError(f"claude_workers is {workers}; it must be at least 1")
        self.endpoint = endpoint
        self.runner = runner
        self.workers = workers
        # The engine's bound on one subtask: a wait for a free worker, the run, and the kill.
        self.timeout = 2 * runner.timeout + KILL_GRACE + 5.0
        self._slots = anyio.CapacityLimiter(workers)
        self.waiting = 0

    @classmethod
    def create(cls, *, data_dir: Path, environ: Mapping[str, str], workers: int, timeout: float,
               binary: Path | None, cwd: Path | None, max_result_bytes: int) -> ClaudeExecutor:
        """Raises: ConfigError: a limit that cannot work (no workers, no time)."""
        runner = ClaudeRunner(data_dir=data_dir, environ=environ, timeout=timeout, binary=binary, cwd=cwd,
                              max_result_bytes=max_result_bytes)
        return cls(DaemonEndpoint(), runner, workers=workers)

    @property
    def processes(self) -> dict[str, int]:
        """Subtask id -> pid of each Claude Code process running now."""
        return self.runner.processes

    def unavailable(self) -> str | None:
        try:
            self.runner.binary()
        except SwarmError as exc:
            return str(exc)
        return None

    def status(self) -> dict[str, object]:
        """The limit, who runs (subtask -> pid), how many wait, and what happened so far."""
        return {"workers": self.workers, "running": dict(self.processes), "waiting": self.waiting,
                "timeout_seconds": self.runner.timeout, **self.runner.counters}

    async def run(self, item: WorkItem) -> WorkOutcome:
        """Do `item` with one Claude Code process once a worker is free."""
        binary = self.runner.binary()
        self.waiting += 1
        try:
            with anyio.move_on_after(self.runner.timeout) as waited:
                await self._slots.acquire()
        finally:
            self.waiting -= 1
        if waited.cancelled_caught:
            return WorkOutcome(False, None, reason=f"all {self.workers} Claude workers (claude_workers) stayed busy "
                                                   f"for {self.runner.timeout:g} s; the subtask will be retried")
        try:
            return await self.runner.run(item, await self.endpoint.get(), binary=binary)
        finally:
            self._slots.release()
