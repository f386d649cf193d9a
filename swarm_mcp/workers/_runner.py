"""One subtask, one Claude Code process: the step the daemon's executor and `swarm-mcp worker` share.

    claude -p --output-format json --mcp-config <run file> --strict-mcp-config ...  < prompt

The prompt (`build_prompt`) goes in on stdin (a dependency's results can exceed what one
command-line argument may hold); the run file names the daemon's Streamable HTTP endpoint with
its bearer token; the JSON result becomes the outcome (`outcome_of`). A run that passes
`timeout` seconds is killed and fails the attempt; a run that is cancelled is killed and the
cancellation goes on. Either way the process group is gone before `run` returns or raises.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import anyio
import structlog

from ..config import ConfigError
from ..errors import NotFound
from ..swarm import WorkItem, WorkOutcome
from ._launch import Endpoint, claude_argv, locate_claude, mcp_config_file, sweep_run_files
from ._process import open_claude
from ._prompt import build_prompt
from ._result import outcome_of

__all__ = ("ClaudeRunner",)

log = structlog.get_logger("swarm_mcp.workers")

RESULT_HEADROOM = 4096  # bytes kept free under the result limit for the run's metadata
COUNTED = ("started", "succeeded", "failed", "timed_out", "stopped")


class ClaudeRunner:
    """Runs subtasks in Claude Code processes; `processes` and `counters` say what it is doing."""

    def __init__(self, *, data_dir: Path, environ: Mapping[str, str], timeout: float = 600.0,
                 binary: Path | None = None, cwd: Path | None = None, max_result_bytes: int = 2**20) -> None:
        """Raises: ConfigError: `timeout` is not a positive number of seconds."""
        if not 0 < timeout < math.inf:
            raise ConfigError(f"claude_timeout is {timeout:g}; give the seconds one worker may run, e.g. 600")
        self.data_dir = data_dir
        self.environ = {k: v for k, v in environ.items() if not k.startswith("SWARM_MCP_")}  # not the daemon's token
        self.timeout = timeout
        self.binary_setting = binary
        self.cwd = cwd
        self.max_result_bytes = max(1024, max_result_bytes - RESULT_HEADROOM)
        self.processes: dict[str, int] = {}  # subtask id -> pid of its running Claude Code
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTED, 0))
        sweep_run_files(data_dir)

    def binary(self) -> Path:
        """The Claude Code binary runs use now (and a check that their folder exists).

        Raises:
            NotFound: no binary (the message lists where it looked), or no `claude_workdir` folder.
        """
        if self.cwd is not None and not self.cwd.is_dir():
            raise NotFound(f"claude_workdir {self.cwd} is not a directory; create it, or change the setting "
                           "(swarm-mcp config shows where it came from)")
        return locate_claude(self.binary_setting, self.environ, self.cwd or Path.cwd())

    async def run(self, item: WorkItem, endpoint: Endpoint, *, binary: Path | None = None) -> WorkOutcome:
        """Do `item` in one Claude Code process that reaches the daemon at `endpoint`.

        Raises:
            NotFound: no Claude Code binary.
            Unavailable: the run's MCP config file cannot be written.
            OSError: the binary cannot be started.
        """
        binary = binary or self.binary()
        prompt = build_prompt(item).encode()
        with mcp_config_file(self.data_dir, endpoint) as config_path, structlog.contextvars.bound_contextvars(
            subtask_id=item.subtask_id, agent_id=item.agent.get("id")
        ):
            self.counters["started"] += 1
            try:
                async with open_claude(claude_argv(binary, config_path), env=self.environ, cwd=self.cwd,
                                       label=item.subtask_id) as claude:
                    self.processes[item.subtask_id] = claude.pid
                    with anyio.move_on_after(self.timeout) as deadline:
                        output = await claude.communicate(prompt)
                    if deadline.cancelled_caught:
                        await claude.stop(f"ran over claude_timeout ({self.timeout:g} s)")
            except anyio.get_cancelled_exc_class():
                self.counters["stopped"] += 1
                raise
            finally:
                self.processes.pop(item.subtask_id, None)
        if deadline.cancelled_caught:
            self.counters["timed_out"] += 1
            log.warning("claude_timed_out", subtask_id=item.subtask_id, seconds=self.timeout)
            return WorkOutcome(False, None, reason=f"the Claude worker ran over claude_timeout ({self.timeout:g} s) "
                                                   "and was killed")
        outcome = outcome_of(output, max_result_bytes=self.max_result_bytes)
        self.counters["succeeded" if outcome.success else "failed"] += 1
        log.info("claude_run_finished", subtask_id=item.subtask_id, success=outcome.success,
                 seconds=round(output.seconds, 3), exit_code=output.exit_code)
        return outcome
