"""The data directory: created private (0700), owned by one process at a time through an OS lock.

The lock file holds the owner's pid, TCP URL and Unix socket path as JSON, so a second `swarm-mcp
serve` on the same directory can say who owns it (and later connect to it) instead of corrupting
or splitting the state.
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path

import orjson

from .errors import Conflict, Unavailable

__all__ = ("DataDirBusy", "DataDirLock", "check_owned_privately", "ensure_data_dir", "read_lock_owner")

PACKAGE_DIR = Path(__file__).resolve().parent


class DataDirBusy(Conflict):
    """Another live process owns the data directory."""


def check_owned_privately(path: Path, *, what: str) -> None:
    """Refuse `path` (if it exists) when another user owns it or others may write to it: whoever
    can write the data dir or its config.toml chooses the token file and the paths tools use.

    Raises:
        Unavailable: owned by another user, or group- or world-writable.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise Unavailable(f"cannot inspect {what} {path}: {exc.strerror}") from exc
    if info.st_uid != os.geteuid():
        raise Unavailable(
            f"{what} {path} is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()}); its owner could change "
            "this server's settings. Use a data dir of your own (--data-dir), or chown it"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise Unavailable(
            f"{what} {path} is writable by other users (mode {mode:04o}), who could change this server's settings; "
            f"run chmod go-w {path} (chmod 700 for the data dir), or use another --data-dir"
        )


def ensure_data_dir(path: Path) -> list[str]:
    """Create `path` with mode 0700 if needed; return warnings about an existing directory.

    Raises:
        Unavailable: the path is inside the installed package, is not a directory, or cannot be created.
    """
    resolved = path.resolve()
    if resolved == PACKAGE_DIR or PACKAGE_DIR in resolved.parents:
        raise Unavailable(f"data dir {path} is inside the swarm_mcp package; choose another with --data-dir")
    warnings = []
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise Unavailable(f"cannot create data dir {path}: {exc.strerror}; choose another with --data-dir") from exc
    if not path.is_dir():
        raise Unavailable(f"data dir {path} exists but is not a directory; choose another with --data-dir")
    check_owned_privately(path, what="data dir")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        warnings.append(f"data dir {path} is accessible to other users (mode {mode:04o}); consider chmod 700")
    return warnings


def read_lock_owner(lock_path: Path) -> dict[str, object]:
    try:
        data = orjson.loads(lock_path.read_bytes() or b"{}")
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class DataDirLock:
    """An exclusive `flock` on `<data_dir>/swarm-mcp.lock`, released when the process exits."""

    def __init__(self, lock_path: Path) -> None:
        self.path = lock_path
        self._fd: int | None = None
        self._owner: dict[str, object] = {}

    def acquire(self, *, tcp_url: str | None = None) -> None:
        """Take the lock or raise `DataDirBusy` naming the owner's pid and TCP URL.

        Raises:
            DataDirBusy: another process holds the lock.
            Unavailable: the lock file cannot be created (read-only data dir).
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise Unavailable(f"cannot create lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = read_lock_owner(self.path)
            pid = owner.get("pid", "unknown")
            url = owner.get("tcp_url")
            where = f" serving {url}" if url else " (no TCP URL)"
            if owner.get("socket"):
                where += f" and the line protocol on {owner['socket']}"
            raise DataDirBusy(
                f"data dir {self.path.parent} is in use by swarm-mcp pid {pid}{where}. "
                "Stop that server, connect to it instead"
                + (f" (e.g. `swarm-mcp claude --attach {url}`)" if url else "")
                + ", or start this one with a different --data-dir."
            ) from None
        self._fd = fd
        self._owner = {"pid": os.getpid(), "tcp_url": tcp_url, "socket": None, "started_at": time.time()}
        self._write()

    def set_tcp_url(self, url: str | None) -> None:
        self._owner["tcp_url"] = url
        self._write()

    def set_socket_path(self, path: str | None) -> None:
        """Record (or clear) the Unix socket the owner serves, for a second swarm-mcp to find."""
        if self._fd is not None:
            self._owner["socket"] = path
            self._write()

    def _write(self) -> None:
        assert self._fd is not None
        data = orjson.dumps(self._owner)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
