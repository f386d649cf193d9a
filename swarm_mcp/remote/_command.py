"""`swarm-mcp worker --attach URL ...` as a process: settings, signals, exit codes.

SIGINT and SIGTERM stop the worker cleanly (exit 0); a problem the user must fix (no Claude
binary, a malformed URL, an unreachable daemon, a refused token, an unknown swarm) is one line
on stderr and exit code 1 (2 for a malformed argument). Logs are JSON lines on stderr; stdout
stays empty.
"""

from __future__ import annotations

import signal
import sys
from collections import Counter
from collections.abc import Mapping

import anyio

from ..config import Config
from ..errors import InvalidArgument, SwarmError
from ..workers import ClaudeRunner
from ._loop import WorkerSettings, WorkerStop, run_worker

__all__ = ("MAX_CONCURRENCY", "worker_main")

MAX_CONCURRENCY = 64


def _settings(config: Config, *, attach: str, concurrency: int | None, swarm_id: str | None,
              capabilities: str | None) -> WorkerSettings:
    count = config.claude_workers if concurrency is None else concurrency
    if not 1 <= count <= MAX_CONCURRENCY:
        raise InvalidArgument(f"--concurrency {count}: give 1 to {MAX_CONCURRENCY} subtasks to do at once")
    caps = None
    if capabilities is not None:
        caps = tuple(c.strip() for c in capabilities.split(",") if c.strip())
        if not caps or len(caps) > 64:
            raise InvalidArgument(f"--capabilities {capabilities!r}: give 1 to 64 comma-separated names, "
                                  "e.g. python,testing")
    return WorkerSettings(url=attach, token=config.resolved_token, concurrency=count, swarm_id=swarm_id,
                          capabilities=caps)


async def _until_signalled(stop: WorkerStop) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
        async for signum in received:
            stop.request(signal.Signals(signum).name)


async def _serve(settings: WorkerSettings, runner: ClaudeRunner) -> Counter[str]:
    stop = WorkerStop()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_until_signalled, stop)
        try:
            return await run_worker(settings, runner, stop)
        finally:
            tg.cancel_scope.cancel()


def _first_error(exc: BaseException) -> SwarmError | None:
    if isinstance(exc, SwarmError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_error(inner)
            if found is not None:
                return found
    return None


def worker_main(config: Config, environ: Mapping[str, str], *, attach: str, concurrency: int | None,
                swarm_id: str | None, capabilities: str | None) -> int:
    """Run the worker until SIGINT/SIGTERM; the process's exit code."""
    try:
        settings = _settings(config, attach=attach, concurrency=concurrency, swarm_id=swarm_id,
                             capabilities=capabilities)
        runner = ClaudeRunner(data_dir=config.data_dir, environ=environ, timeout=config.claude_timeout,
                              binary=config.claude_bin, cwd=config.claude_workdir,
                              max_result_bytes=config.memory_max_value_bytes)
        anyio.run(_serve, settings, runner)
    except KeyboardInterrupt:  # SIGINT before the handlers were installed: nothing was claimed yet
        return 0
    except BaseException as exc:  # task groups wrap errors; find the one the user can act on
        error = _first_error(exc)
        if error is None:
            raise
        sys.stderr.write(f"swarm-mcp worker: error: {error}\n")
        return 2 if isinstance(error, InvalidArgument) else 1
    return 0
