"""The data dir's Unix socket as a path: bound by the data dir's owner, connected to by every other
`swarm-mcp` on it. Standard library only, so an attaching session can use it without loading the
daemon.

Only the process holding the data-dir lock binds the path. It binds a socket under a short
temporary name, makes it 0600, listens, and renames it over the path: a socket a killed owner left
is replaced in one step, and a client connecting meanwhile finds either the dead socket (refused)
or the new one, never nothing for long. Connections made before the owner is ready wait in the
listen backlog until it serves them.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from .errors import Unavailable

__all__ = ("BACKLOG", "MAX_SOCKET_PATH_BYTES", "bind_socket", "connect_socket", "socket_path_fits")

MAX_SOCKET_PATH_BYTES = 107  # sun_path is 108 bytes with its terminating NUL
BACKLOG = 128


def socket_path_fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES


def _check_replaceable(path: Path) -> None:
    """A socket (or a link) at `path` is a previous owner's; anything else is not ours to replace."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not (stat.S_ISSOCK(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        raise Unavailable(f"{path} exists and is not a socket; move it aside, or start with --set unix_socket=false")


def bind_socket(path: Path) -> socket.socket:
    """A listening, non-inheritable socket at `path` (0600), replacing a stale one. Call it only
    while holding the data-dir lock.

    Raises:
        Unavailable: something that is not a socket is at `path`, or binding fails.
    """
    _check_replaceable(path)
    temporary = path.with_name(f".s{os.getpid()}")  # never longer than the path itself
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        temporary.unlink(missing_ok=True)
        sock.bind(str(temporary))
        os.chmod(temporary, 0o600)
        sock.listen(BACKLOG)
        os.rename(temporary, path)
    except OSError as exc:
        sock.close()
        temporary.unlink(missing_ok=True)
        raise Unavailable(f"cannot serve the Unix socket {path}: {exc.strerror}; or start with --set unix_socket=false") from exc
    return sock


def connect_socket(path: Path, *, timeout: float | None = None) -> socket.socket:
    """A connected (blocking) socket to the owner at `path`.

    Raises:
        OSError: nobody listens there (FileNotFoundError, ConnectionRefusedError), or another error.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock
