"""Finding the data dir's owner from an attached session, and starting one when there is none.

The OS lock on the data dir decides who owns it. A session that finds nobody accepting on the
socket tries the lock: if it gets it, it binds the socket, starts a detached owner
(`serve --daemon`, in its own session, so no terminal or client signal reaches it) that inherits
both the lock and the listening socket, and waits for it to say it is ready; if it does not, it
connects again until whoever holds the lock accepts (a new owner binds its socket right after
taking the lock, so the wait is short). There is never a moment without a lock holder, so two
owners cannot both open the store.

A hello answers who the owner is; a newer attaching version asks an older detached owner to hand
over, takes the lock once the old owner has flushed and let it go, and starts its own. The old
owner leaves `handover_to` in the lock file, so an older session that happens to take the lock
first steps back for a moment instead of starting an old owner again.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..config import Config
from ..control import HELLO, HELLO_ID, control_request, is_newer
from ..datadir import DataDirLock, busy_error, read_lock_owner
from ..errors import SwarmError
from ..local_socket import bind_socket, connect_socket
from ._log import RelayLog

__all__ = ("AttachFailed", "OwnerFinder", "OwnerLink", "daemon_log_file", "start_owner")

CONNECT_WAIT = 30.0  # how long a lock holder may take to accept on its socket
READY_WAIT = 120.0  # how long a started owner may take to open the store and serve
HANDOVER_WAIT = 90.0  # how long an owner handing over may take to stop (in-flight calls, flush, workers)
STEP_BACK = 5.0  # an older session that takes the lock during a handover leaves it this long to the newer one


class AttachFailed(SwarmError):
    """No owner could be reached or started; `exit_code` is what `serve` should exit with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(slots=True)
class OwnerLink:
    """A connection to the owner whose hello was answered."""

    sock: socket.socket
    pid: int | None
    version: str | None  # None: an owner older than the hello
    kind: str | None
    started_here: bool  # this session started that owner
    pending: bytes = b""  # what the owner sent after the hello's reply (nothing, normally)


def daemon_log_file(config: Config) -> Path:
    """Where a detached owner logs: `log_file`, else `<data dir>/swarm-mcp.log`."""
    return config.log_file or config.data_dir / "swarm-mcp.log"


def start_owner(config: Config, lock: DataDirLock, daemon_args: list[str], *, ready_wait: float = READY_WAIT) -> int:
    """Start a detached owner that inherits `lock` (held by this process) and a socket bound at the
    data dir's path; return its pid once it serves.

    Raises:
        AttachFailed: it could not start (the message and exit code are its own: a corrupt
            database, a busy TCP port, ...), or did not say it was ready in time.
        Unavailable: something that is not a socket is at the socket path.
    """
    assert lock.fd is not None
    try:
        listener = bind_socket(config.socket_path) if config.unix_socket else None
    except BaseException:
        lock.release()
        raise
    read_end, write_end = os.pipe()
    fds = [lock.fd, listener.fileno() if listener is not None else -1, write_end]
    log_file = daemon_log_file(config)
    log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    argv = [sys.executable, "-m", "swarm_mcp", "serve", "--daemon", "--inherit-fds", ",".join(map(str, fds)),
            "--data-dir", str(config.data_dir), "--log-file", str(log_file), *daemon_args]
    try:
        process = subprocess.Popen(
            argv, pass_fds=[fd for fd in fds if fd >= 0], start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_fd,  # a crash before logging still lands in the log
        )
    finally:
        os.close(write_end)
        os.close(log_fd)
        lock.hand_off()  # the child holds it now; closing our descriptor does not unlock it
        if listener is not None:
            listener.close()
    _children.append(process)
    try:
        ready = _read_ready(read_end, ready_wait)
    finally:
        os.close(read_end)
    if ready.get("ok") is not True:
        message = ready.get("message") or (
            f"the owner it started (pid {process.pid}) exited before it was ready; see {log_file}"
            if ready.get("exited") else f"the owner it started (pid {process.pid}) was not ready within {ready_wait:g} s; see {log_file}"
        )
        raise AttachFailed(str(message), int(ready.get("code") or 1))
    return process.pid


_children: list[subprocess.Popen[bytes]] = []  # started owners outlive this process; kept so none is garbage-collected mid-run


def _read_ready(fd: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return {"ok": False}
        chunk = os.read(fd, 65536)
        if not chunk:
            return {"ok": False, "exited": True}
        data += chunk
    try:
        ready = orjson.loads(data.split(b"\n", 1)[0])
    except orjson.JSONDecodeError:
        return {"ok": False, "exited": True}
    return ready if isinstance(ready, dict) else {"ok": False}


class OwnerFinder:
    """Connects an attached session to the data dir's owner, starting one when there is none."""

    def __init__(self, config: Config, *, version: str, daemon_args: list[str], log: RelayLog) -> None:
        self.config = config
        self.version = version
        self.daemon_args = daemon_args
        self.log = log
        self.token = config.resolved_token

    def connect(self) -> OwnerLink:
        """A connection to the owner, its hello answered (after a handover, to the owner started here).

        Raises:
            AttachFailed: no owner could be reached or started.
            DataDirBusy: the data dir is owned by a process that serves no socket.
            Unavailable: the socket path is taken by something else.
        """
        deadline = time.monotonic() + CONNECT_WAIT
        started_here = False
        step_back_until = 0.0
        while True:
            try:
                sock = connect_socket(self.config.socket_path)
            except (FileNotFoundError, ConnectionRefusedError):
                sock = None
            if sock is not None:
                link = self._hello(sock, started_here)
                if link is not None:
                    return link
                deadline = max(deadline, time.monotonic() + HANDOVER_WAIT)  # the owner is stopping: wait for the lock
                continue
            lock = DataDirLock(self.config.lock_path)
            if lock.try_acquire():
                heir = lock.previous.get("handover_to")
                if isinstance(heir, str) and is_newer(heir, self.version):
                    if not step_back_until:
                        step_back_until = time.monotonic() + STEP_BACK
                        deadline = max(deadline, step_back_until + CONNECT_WAIT)
                        self.log.info("stepping_back", for_version=heir, seconds=STEP_BACK)
                    if time.monotonic() < step_back_until:
                        lock.release(note=lock.previous)
                        time.sleep(0.01)
                        continue
                pid = start_owner(self.config, lock, self.daemon_args)
                self.log.info("owner_started", owner_pid=pid, version=self.version)
                started_here = True
                continue
            self._check_shareable()
            if time.monotonic() > deadline:
                raise AttachFailed(
                    f"the owner of {self.config.data_dir} (pid {read_lock_owner(self.config.lock_path).get('pid', 'unknown')}) "
                    f"holds its lock but did not accept on {self.config.socket_path} within {CONNECT_WAIT:g} s; "
                    "check that process (swarm-mcp status), or stop it"
                )
            time.sleep(0.01)

    def _check_shareable(self) -> None:
        """An owner that serves no socket (unix_socket = false, or a path too long) cannot be attached to."""
        if read_lock_owner(self.config.lock_path).get("attachable") is False:
            raise busy_error(self.config.lock_path)

    def _hello(self, sock: socket.socket, started_here: bool) -> OwnerLink | None:
        """Send the hello and read its answer; None when the owner is handing over or stopping."""
        sock.settimeout(READY_WAIT)
        try:
            sock.sendall(control_request(HELLO, HELLO_ID, version=self.version, pid=os.getpid(), tools=self.config.tools,
                                         token=self.token))
            reply, rest = _read_line(sock)
        except OSError:
            reply, rest = None, b""
        if reply is None:
            sock.close()
            return None  # it went away between accepting and answering
        sock.settimeout(None)
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            code = error.get("code")
            if code == -32601:  # an owner older than the hello: attach without one
                self.log.warning("owner_without_hello", detail="an older swarm-mcp owns the data dir; upgrade it with swarm-mcp stop")
                return OwnerLink(sock, None, None, None, started_here, rest)
            sock.close()
            if code == -32000:
                return None  # stopping: the next owner takes over
            raise AttachFailed(f"the owner of {self.config.data_dir} refused this session: {error.get('message')}"
                               + ("; set SWARM_MCP_TOKEN or --token-file to its token" if code == -32001 else ""))
        result = reply.get("result") if isinstance(reply.get("result"), dict) else {}
        if result.get("handover"):
            self.log.info("owner_handing_over", owner_pid=result.get("pid"), owner_version=result.get("version"),
                          version=self.version)
            sock.close()
            return None
        return OwnerLink(sock, result.get("pid"), result.get("version"), result.get("kind"), started_here, rest)


def _read_line(sock: socket.socket) -> tuple[dict[str, Any] | None, bytes]:
    """The hello's reply (the first line) and whatever followed it."""
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    line, _, rest = data.partition(b"\n")
    try:
        reply = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, b""
    return (reply if isinstance(reply, dict) else None), rest
