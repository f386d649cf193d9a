"""Attaching to the data dir's owner: one swarm per data dir, however many sessions use it.

    code = serve_attached(config, version=__version__, daemon_args=[...])   # relay stdio to the owner
    pid = start_daemon(config, daemon_args=[...])                          # a detached owner (serve --daemon)
    status = ask_owner(config, STATUS)                                     # None: nobody serves the data dir

This package is the light side of sharing: it imports the standard library, orjson and the small
`config`, `control`, `datadir` and `local_socket` modules, never the SDK, JAX, SQLite or the
daemon. The owner's side is `swarm_mcp.lifecycle` and the control requests in `transports.unix`.
"""

from __future__ import annotations

import os
import select
from typing import Any

from ..config import Config
from ..control import control_request
from ..datadir import DataDirLock
from ..local_socket import connect_socket
from ._log import RelayLog
from ._owner import AttachFailed, OwnerFinder, OwnerLink, daemon_log_file, start_owner
from ._relay import OWNER_LOST, Relay

__all__ = (
    "OWNER_LOST",
    "AttachFailed",
    "OwnerLink",
    "ask_owner",
    "daemon_log_file",
    "serve_attached",
    "start_daemon",
    "wait_for_exit",
)


def serve_attached(config: Config, *, version: str, daemon_args: list[str]) -> int:
    """Serve this process's stdio client through the data dir's owner (started here if needed);
    the exit code once the client leaves.

    Raises:
        AttachFailed: no owner could be reached or started.
        DataDirBusy: the owner serves no socket (unix_socket = false there).
        Unavailable: the socket path is taken by something else.
    """
    log = RelayLog(config.log_level, config.log_file)
    finder = OwnerFinder(config, version=version, daemon_args=daemon_args, log=log)
    return Relay(finder.connect, log, max_line_bytes=config.max_line_bytes).run()


def start_daemon(config: Config, *, daemon_args: list[str]) -> int | None:
    """Start a detached owner for the data dir and return its pid once it serves; None when the
    data dir already has an owner.

    Raises:
        AttachFailed: the owner could not start (its own message and exit code).
        Unavailable: the data dir cannot be locked, or the socket path is taken by something else.
    """
    lock = DataDirLock(config.lock_path)
    if not lock.try_acquire():
        return None
    try:
        return start_owner(config, lock, daemon_args)
    finally:
        lock.release()  # only if start_owner failed before handing it off


def ask_owner(config: Config, method: str, *, timeout: float = 30.0) -> dict[str, Any] | None:
    """Send one control request (`control.STATUS`, `control.STOP`) to the owner; its result, or
    None when nothing serves the data dir's socket.

    Raises:
        AttachFailed: the owner refused (a token is required), or did not answer in time.
    """
    try:
        sock = connect_socket(config.socket_path, timeout=timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    with sock:
        sock.sendall(control_request(method, method, token=config.resolved_token, pid=os.getpid()))
        data = b""
        try:
            while b"\n" not in data:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return None  # it was stopping: as good as gone
                data += chunk
        except TimeoutError:
            raise AttachFailed(f"the owner of {config.data_dir} did not answer {method} within {timeout:g} s") from None
    import orjson

    reply = orjson.loads(data.split(b"\n", 1)[0])
    if "error" in reply:
        raise AttachFailed(f"the owner of {config.data_dir} refused {method}: {reply['error'].get('message')}")
    result = reply.get("result")
    return result if isinstance(result, dict) else {}


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Whether process `pid` exited within `timeout` seconds (waits on a pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)

