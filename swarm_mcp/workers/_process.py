"""One Claude Code process: its own process group, the prompt on stdin, bounded output, and the
whole group killed and reaped whenever the block that owns it is left.

`open_claude` starts the process in a new session (so it and everything it spawns share one
process group, and a terminal's Ctrl-C reaches only us). `ClaudeProcess.communicate` feeds the
prompt, reads stdout (at most `MAX_STDOUT_BYTES`) and the tail of stderr, and waits for the exit.
Leaving the `async with` block, normally or by cancellation (a timeout, `task_cancel`, the agent
or the daemon stopping), sends SIGTERM to the group, SIGKILL after `KILL_GRACE` seconds, and
reaps the process: no worker outlives the subtask it was started for. Its output never reaches
our stdout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
import anyio.abc
import structlog

from ._result import RunOutput

__all__ = ("KILL_GRACE", "MAX_STDOUT_BYTES", "ClaudeProcess", "open_claude")

log = structlog.get_logger("swarm_mcp.workers")

KILL_GRACE = 3.0
MAX_STDOUT_BYTES = 8 * 2**20
STDERR_TAIL_BYTES = 16 * 2**10
DRAIN_AFTER_EXIT = 1.0  # a grandchild that keeps the pipes open must not hold the result back


class ClaudeProcess:
    """A running Claude Code process (see the module docstring)."""

    def __init__(self, process: anyio.abc.Process, label: str) -> None:
        self.process = process
        self.label = label
        self.started = time.monotonic()
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._overflow = False
        self._drained = 0
        self._all_drained = anyio.Event()
        self._stopped = False

    @property
    def pid(self) -> int:
        return self.process.pid

    async def communicate(self, stdin: bytes) -> RunOutput:
        """Feed `stdin`, collect the output, and wait for the process to exit."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._feed, stdin)
            tg.start_soon(self._read_stdout)
            tg.start_soon(self._read_stderr)
            await self.process.wait()
            with anyio.move_on_after(DRAIN_AFTER_EXIT):
                await self._all_drained.wait()
            tg.cancel_scope.cancel()
        seconds = time.monotonic() - self.started
        stopped = None
        if self._overflow:
            stopped = f"claude wrote more than {MAX_STDOUT_BYTES:,} bytes to stdout and was stopped"
        return RunOutput(self.process.returncode, bytes(self._stdout), bytes(self._stderr), seconds, stopped)

    async def _feed(self, data: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            for start in range(0, len(data), 65536):
                await stdin.send(data[start : start + 65536])
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await stdin.aclose()

    async def _read_stdout(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            async for chunk in stream:
                if len(self._stdout) + len(chunk) > MAX_STDOUT_BYTES:
                    self._overflow = True
                    self.signal_group(signal.SIGKILL)
                    return
                self._stdout += chunk
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self._reader_done()

    async def _read_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        try:
            async for chunk in stream:
                self._stderr += chunk
                if len(self._stderr) > STDERR_TAIL_BYTES:
                    del self._stderr[: len(self._stderr) - STDERR_TAIL_BYTES]
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self._reader_done()

    def _reader_done(self) -> None:
        self._drained += 1
        if self._drained == 2:
            self._all_drained.set()

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the process's whole group (nothing if the group is gone)."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    async def stop(self, why: str) -> None:
        """Terminate the group (SIGTERM, then SIGKILL after `KILL_GRACE` s), reap, close the pipes.
        Only the first call acts."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.returncode is None:
            log.info("claude_stopping", pid=self.pid, label=self.label, why=why)
            self.signal_group(signal.SIGTERM)
            with anyio.move_on_after(KILL_GRACE):
                await self.process.wait()
        # Anything left in the group (a tool's background process, or a leader that ignored
        # SIGTERM): the group outlives its leader only while members remain, so its id is safe.
        self.signal_group(signal.SIGKILL)
        await self.process.wait()
        await self.process.aclose()


@asynccontextmanager
async def open_claude(argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: Path | None,
                      label: str) -> AsyncIterator[ClaudeProcess]:
    """Start `argv` in its own session; on leaving the block, stop and reap its process group.

    Raises:
        OSError: the binary cannot be executed.
    """
    process = await anyio.open_process(
        list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=cwd, env=dict(env) if env is not None else None, start_new_session=True,
    )
    claude = ClaudeProcess(process, label)
    log.info("claude_started", pid=claude.pid, label=label)
    why = "the run ended"
    try:
        yield claude
    except BaseException as exc:
        why = "cancelled" if isinstance(exc, anyio.get_cancelled_exc_class()) else f"{type(exc).__name__}"
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await claude.stop(why)
        log.info("claude_exited", pid=claude.pid, label=label, exit_code=process.returncode,
                 seconds=round(time.monotonic() - claude.started, 3))
