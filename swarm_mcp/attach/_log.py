"""Log lines of an attached session: the same JSON lines the daemon writes, without structlog.

An attached session logs a handful of events in its life (attached, owner lost, took over), so a
few lines of orjson cost less than importing structlog, which is about a third of the attach
path's import time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ("RelayLog",)

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


class RelayLog:
    """JSON lines on stderr or appended to `log_file` (created 0600), at `level` and above."""

    def __init__(self, level: str = "info", log_file: Path | None = None) -> None:
        self._threshold = _LEVELS[level]
        self._fd = 2
        if log_file is not None:
            log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if _LEVELS[level] < self._threshold:
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1_000_000):06d}Z"
        record = {"logger": "swarm_mcp.attach", **fields, "event": event, "level": level, "timestamp": stamp}
        try:
            os.write(self._fd, orjson.dumps(record, default=str) + b"\n")
        except OSError:  # logging must never take the session down
            pass

    def debug(self, event: str, **fields: Any) -> None:
        self._emit("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, fields)

