"""What is left of a process group, read from /proc (Linux)."""

from __future__ import annotations

import os

import anyio

__all__ = ("live_members", "wait_group_gone")


def live_members(pgid: int) -> list[int]:
    """Pids in process group `pgid` that are still running. Zombies do not count: a killed
    grandchild waits as a zombie until the container's init gets round to reaping it."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # exited while we looked
        fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            found.append(int(name))
    return found


async def wait_group_gone(pgid: int, timeout: float = 2.0) -> bool:
    """Whether group `pgid` has no running member within `timeout` s: SIGKILL is delivered to each
    member asynchronously, so a grandchild may still be exiting when its leader has been reaped."""
    with anyio.move_on_after(timeout):
        while live_members(pgid):
            await anyio.sleep(0.01)
        return True
    return False
