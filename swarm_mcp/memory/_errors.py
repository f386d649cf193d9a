"""Errors specific to the memory store, each a subclass of the package's error base classes."""

from __future__ import annotations

from pathlib import Path

from swarm_mcp.errors import Conflict, Unavailable


class VersionConflict(Conflict):
    """A compare-and-set write found another version than the caller expected.

    `actual` is the current version (0 when the entry does not exist); retry with it.
    """

    def __init__(self, namespace: str, key: str, *, expected: int, actual: int) -> None:
        if actual == 0:
            now = "it does not exist (version 0)"
        else:
            now = f"its current version is {actual}"
        wanted = "absent (if_version=0)" if expected == 0 else f"version {expected}"
        super().__init__(
            f"Entry {key!r} in namespace {namespace!r} was expected to be {wanted} but {now}; "
            f"read it again and retry with if_version={actual}"
        )
        self.namespace = namespace
        self.key = key
        self.expected = expected
        self.actual = actual


class StoreCorrupt(Unavailable):
    """The database file is not a readable swarm-mcp store; it is never recreated over."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"The memory database {str(path)!r} is unreadable or corrupt ({reason}); refusing to open it. "
            f"Restore a backup over it, or move it aside (e.g. mv {path} {path}.corrupt, with its -wal and "
            f"-shm files) to start with an empty store"
        )
        self.path = path
