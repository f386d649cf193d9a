"""The owner's side of sharing a data dir: its role, the sessions attached to it, its status, and
stopping once idle.

Roles: `stdio` serves its own stdio client in process (it stops when that client leaves, and the
attached sessions take over); `daemon` is detached (`serve --daemon`, or started by an attached
session): it stops after `daemon_idle_timeout` with no client and no running work, and hands over
to a newer version that attaches; `server` is a user's foreground `serve --tcp`, stopped only by
its user (or, with `--idle-exit`, when idle).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio
import structlog

from .control import is_newer
from .protocol import LATEST_MODERN

if TYPE_CHECKING:
    from .app import App
    from .protocol import Session

__all__ = ("AttachedSession", "AttachedSessions", "OwnerRole", "busy_with", "owner_status", "stop_when_idle")

log = structlog.get_logger("swarm_mcp.lifecycle")

Kind = Literal["stdio", "daemon", "server"]


@dataclass(frozen=True, slots=True)
class OwnerRole:
    """How this owner came to be, and so when it stops and whether it hands over."""

    kind: Kind = "server"
    idle_timeout: float | None = None  # stop after this long idle; None: never

    def hands_over_to(self, version: str, mine: str, *, serves_tcp: bool) -> bool:
        """A detached owner without a TCP port gives way to a newer attaching version (a stdio
        owner cannot: its own client would lose its server; a TCP port is its user's to move)."""
        return self.kind == "daemon" and not serves_tcp and is_newer(version, mine)


@dataclass(slots=True)
class AttachedSession:
    """One attached `swarm-mcp serve` (a relay) as its hello introduced it."""

    pid: int | None
    version: str
    tools: str | None
    since: float = field(default_factory=time.time)
    session: Session | None = None  # set once its MCP session starts

    def describe(self, now: float) -> dict[str, Any]:
        session = self.session
        client = dict(session.client_info) if session is not None and session.client_info else None
        return {
            "pid": self.pid,
            "version": self.version,
            "tools": self.tools,
            "connected_seconds": round(now - self.since, 3),
            "client": client,
            "protocol_version": None if session is None or session.era is None else
            session.protocol_version if session.era == "legacy" else LATEST_MODERN,
            "era": session.era if session is not None else None,
        }


@dataclass
class AttachedSessions:
    """The attached sessions connected now."""

    sessions: dict[int, AttachedSession] = field(default_factory=dict)

    def add(self, session: AttachedSession) -> int:
        key = id(session)
        self.sessions[key] = session
        return key

    def remove(self, key: int) -> None:
        self.sessions.pop(key, None)

    def __len__(self) -> int:
        return len(self.sessions)


def running_work(app: App) -> dict[str, int]:
    """Work the swarm is doing now: subtasks under a lease or being run, and Claude workers."""
    board = app.swarm.board
    running = sum(1 for sub in board.subtasks.values() if sub.state.value == "running") if board.open else 0
    return {"running_subtasks": running, "claude_workers": len(app.claude.processes), "claude_waiting": app.claude.waiting}


def busy_with(app: App) -> str | None:
    """Why the owner is not idle (a client connected, or work running), or None when it is."""
    clients = app.transports.connected()
    if clients:
        return f"{clients} client connection(s)"
    work = running_work(app)
    if any(work.values()):
        return ", ".join(f"{count} {what.replace('_', ' ')}" for what, count in work.items() if count)
    return None


async def stop_when_idle(app: App, timeout: float, *, clock: Callable[[], float] = time.monotonic) -> None:
    """Ask for a graceful stop once nothing has been connected or running for `timeout` seconds."""
    step = max(0.05, min(1.0, timeout / 4))
    idle_since: float | None = None
    while not app.stopping.is_set():
        now = clock()
        if busy_with(app) is not None:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= timeout:
            app.request_stop(f"idle for {timeout:g} s (no client, no running work)")
            return
        app.idle_since = idle_since
        await anyio.sleep(step)


def owner_status(app: App) -> dict[str, Any]:
    """What `swarm-mcp status` shows: who serves the data dir, how, for whom, and what runs."""
    now = time.time()
    idle_since = app.idle_since
    return {
        "pid": os.getpid(),
        "version": app.identity.version,
        "kind": app.role.kind,
        "data_dir": str(app.config.data_dir),
        "started_at": app.started_at,
        "uptime_seconds": round(now - app.started_at, 3),
        "transports": app.transports.snapshot(),
        "attached_sessions": [s.describe(now) for s in app.attached.sessions.values()],
        "work": running_work(app),
        "idle": {
            "timeout_seconds": app.role.idle_timeout,
            "idle_seconds": round(time.monotonic() - idle_since, 3) if idle_since is not None else None,
            "busy_with": busy_with(app),
        },
    }
