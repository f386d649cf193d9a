"""A worker process: the prompt goes in on stdin, output comes back bounded, and leaving its block
early kills its whole process group (grandchildren included) and reaps it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
from process_groups import wait_group_gone

from swarm_mcp.workers._process import KILL_GRACE, MAX_STDOUT_BYTES, open_claude


async def test_the_prompt_arrives_on_stdin_and_stdout_and_the_end_of_stderr_come_back(tmp_path: Path) -> None:
    script = "data=$(cat); printf '%s|%s' \"$data\" \"$PWD\"; echo oops >&2; exit 3"
    async with open_claude(["sh", "-c", script], env={"PATH": os.environ["PATH"]}, cwd=tmp_path, label="t") as claude:
        output = await claude.communicate(b"the prompt")
    assert output.stdout == f"the prompt|{tmp_path}".encode() and output.stderr_tail == b"oops\n"
    assert output.exit_code == 3 and output.stopped_because is None


async def test_leaving_early_kills_the_whole_group_including_a_grandchild(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    script = f"sleep 300 & echo $! > {pid_file}; wait"
    with anyio.move_on_after(30) as scope:
        async with open_claude(["sh", "-c", script], env=None, cwd=None, label="t") as claude:
            leader = claude.pid
            with anyio.move_on_after(0.5):
                await claude.communicate(b"")
            while not pid_file.exists() or not pid_file.read_text().strip():
                await anyio.sleep(0.01)
            grandchild = int(pid_file.read_text())
    assert not scope.cancelled_caught
    assert await wait_group_gone(leader), "the leader and its grandchild are gone"
    assert grandchild != leader


async def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = f"trap '' TERM; touch {ready}; while :; do sleep 1; done"
    started = anyio.current_time()
    async with open_claude(["sh", "-c", script], env=None, cwd=None, label="t") as claude:
        leader = claude.pid
        while not ready.exists():
            await anyio.sleep(0.01)
    took = anyio.current_time() - started
    assert await wait_group_gone(leader) and KILL_GRACE <= took < KILL_GRACE + 5


async def test_output_past_the_limit_stops_the_process_and_says_why() -> None:
    script = f"head -c {MAX_STDOUT_BYTES + 65536} /dev/zero; sleep 300"
    async with open_claude(["sh", "-c", script], env=None, cwd=None, label="t") as claude:
        with anyio.fail_after(30):
            output = await claude.communicate(b"")
    assert output.stopped_because == f"claude wrote more than {MAX_STDOUT_BYTES:,} bytes to stdout and was stopped"
    assert output.exit_code == -signal.SIGKILL and len(output.stdout) <= MAX_STDOUT_BYTES
