"""The `claude` executor: each subtask is done by a headless Claude Code process.

    claude -p --output-format json --mcp-config <run file> --strict-mcp-config ...  < prompt

The prompt (`build_prompt`) carries the subtask, its agent's role, the task and its dependencies'
results; the run file names this daemon over Streamable HTTP (`DaemonEndpoint`), so the worker
can use the swarm's tools (memory_usage, task_status, ...). The JSON result becomes the
subtask's result (`outcome_of`).

Limits: at most `claude_workers` processes at once across the daemon (a subtask waits for a
free worker at most `claude_timeout` seconds, then fails that attempt); each process runs at
most `claude_timeout` seconds. Leaving a run early (timeout, `task_cancel`, the agent stopping
or crashing, the daemon stopping) kills the process's whole group and reaps it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import anyio
import structlog

from ..config import ConfigError
from ..errors import SwarmError
from ..swarm import WorkItem, WorkOutcome
from ._endpoint import DaemonEndpoint
from ._launch import claude_argv, locate_claude, mcp_config_file, sweep_run_files
from ._process import KILL_GRACE, open_claude
from ._prompt import build_prompt
from ._result import outcome_of

__all__ = ("ClaudeExecutor",)

log = structlog.get_logger("swarm_mcp.workers")


class ClaudeExecutor:
    """An `Executor` (see `swarm_mcp.swarm.Executor`) that runs Claude Code workers."""

    name = "claude"

    def __init__(self, endpoint: DaemonEndpoint, *, data_dir: Path, environ: Mapping[str, str], workers: int = 2,
                 run_timeout: float = 600.0, binary: Path | None = None, max_result_bytes: int = 2**20,
                 cwd: Path | None = None) -> None:
        """Raises: ConfigError: `workers` or `run_timeout` is not positive."""
        if workers < 1:
            raise ConfigError(f"claude_workers is {workers}; it must be at least 1")
        if not 0 < run_timeout < math.inf:
            raise ConfigError(f"claude_timeout is {run_timeout:g}; give the seconds one worker may run, e.g. 600")
        self.endpoint = endpoint
        self.data_dir = data_dir
        self.environ = dict(environ)
        self.workers = workers
        self.run_timeout = run_timeout
        self.binary = binary
        self.max_result_bytes = max(1024, max_result_bytes - 4096)  # room for the run's metadata
        self.cwd = cwd
        # The engine's bound on one subtask: a wait for a free worker, the run, and the kill.
        self.timeout = 2 * run_timeout + KILL_GRACE + 5.0
        self._slots = anyio.CapacityLimiter(workers)
        self.processes: dict[str, int] = {}  # subtask id -> pid of its running worker
        self.waiting = 0
        self.counters = {"started": 0, "succeeded": 0, "failed": 0, "timed_out": 0, "stopped": 0}
        sweep_run_files(data_dir)

    def unavailable(self) -> str | None:
        try:
            self._binary()
        except SwarmError as exc:
            return str(exc)
        return None

    def _binary(self) -> Path:
        return locate_claude(self.binary, self.environ, self.cwd or Path.cwd())

    def status(self) -> dict[str, object]:
        """Workers now: the limit, who runs (subtask -> pid), how many wait, what happened so far."""
        return {"workers": self.workers, "running": dict(self.processes), "waiting": self.waiting,
                "timeout_seconds": self.run_timeout, **self.counters}

    async def run(self, item: WorkItem) -> WorkOutcome:
        """Do `item` with one Claude Code process; the outcome says why when it did not succeed."""
        binary = self._binary()
        self.waiting += 1
        try:
            with anyio.move_on_after(self.run_timeout) as waited:
                await self._slots.acquire()
        finally:
            self.waiting -= 1
        if waited.cancelled_caught:
            return WorkOutcome(False, None, reason=f"all {self.workers} Claude workers (claude_workers) stayed busy "
                                                   f"for {self.run_timeout:g} s; the subtask will be retried")
        try:
            return await self._run(binary, item)
        finally:
            self._slots.release()

    async def _run(self, binary: Path, item: WorkItem) -> WorkOutcome:
        endpoint = await self.endpoint.get()
        prompt = build_prompt(item).encode()
        env = {k: v for k, v in self.environ.items() if not k.startswith("SWARM_MCP_")}
        with mcp_config_file(self.data_dir, endpoint) as config_path, structlog.contextvars.bound_contextvars(
            subtask_id=item.subtask_id, agent_id=item.agent.get("id")
        ):
            self.counters["started"] += 1
            try:
                async with open_claude(claude_argv(binary, config_path), env=env, cwd=self.cwd,
                                       label=item.subtask_id) as claude:
                    self.processes[item.subtask_id] = claude.pid
                    with anyio.move_on_after(self.run_timeout) as deadline:
                        output = await claude.communicate(prompt)
            except anyio.get_cancelled_exc_class():
                self.counters["stopped"] += 1
                raise
            finally:
                self.processes.pop(item.subtask_id, None)
        if deadline.cancelled_caught:
            self.counters["timed_out"] += 1
            log.warning("claude_timed_out", subtask_id=item.subtask_id, seconds=self.run_timeout)
            return WorkOutcome(False, None, reason=f"the Claude worker ran over claude_timeout ({self.run_timeout:g} s) "
                                                   "and was killed")
        outcome = outcome_of(output, max_result_bytes=self.max_result_bytes)
        self.counters["succeeded" if outcome.success else "failed"] += 1
        log.info("claude_run_finished", subtask_id=item.subtask_id, success=outcome.success,
                 seconds=round(output.seconds, 3), exit_code=output.exit_code)
        return outcome
