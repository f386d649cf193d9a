"""Structured logging: one JSON object per line, on stderr or a log file, never on stdout.

In stdio mode stdout is the MCP wire, so `configure_logging` must run before anything could log,
and it also routes the standard library's `logging` (used by the MCP SDK, uvicorn, aiosqlite)
into the same JSON stream.

Tracebacks are logged as structured frames without local variables: structlog's default
`dict_tracebacks` shows every frame's locals, which would put tool arguments, memory values and
tokens into the log. A log file is created private (0600).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import orjson
import structlog

__all__ = ("configure_logging",)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(level: str = "info", log_file: Path | None = None) -> BinaryIO:
    """Send structlog and stdlib logging to `log_file` (appended) or stderr as JSON lines.

    Returns the binary stream the logs go to (the caller owns a file it opened).
    """
    numeric = _LEVELS[level]
    if log_file is not None:
        log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # often the (private) data dir
        stream: BinaryIO = _open_private_log(log_file)
    else:
        stream = sys.stderr.buffer
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _iso_timestamp,
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.BytesLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    _route_stdlib_logging(numeric, stream)
    return stream


class _IsoTimestamp:
    """structlog's `TimeStamper(fmt="iso", utc=True)` output (`2026-01-02T03:04:05.123456Z`) at a
    fraction of its cost: the date and time are formatted once per second. One line per tool
    call makes this part of every call's price."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: tuple[int, str] = (-1, "")

    def __call__(self, logger: object, method: str, event_dict: dict[str, object]) -> dict[str, object]:
        now = time.time()
        second = int(now)
        cached = self._cache  # one tuple: threads that log race harmlessly
        if cached[0] != second:
            cached = self._cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        event_dict["timestamp"] = f"{cached[1]}.{int((now - second) * 1_000_000):06d}Z"
        return event_dict


_iso_timestamp = _IsoTimestamp()


def _open_private_log(path: Path) -> BinaryIO:
    """Append to `path`, created 0600; a file we own that others could read is made 0600 too."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    info = os.fstat(fd)
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab", buffering=0)  # lives as long as the process


class _JsonLineHandler(logging.Handler):
    """Render stdlib records (SDK, uvicorn, asyncio) as the same JSON lines structlog writes."""

    def __init__(self, stream: BinaryIO, level: int) -> None:
        super().__init__(level)
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = {
                "event": record.getMessage(),
                "logger": record.name,
                "level": record.levelname.lower(),
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            }
            if record.exc_info:
                event["exception"] = logging.Formatter().formatException(record.exc_info)
            self._stream.write(orjson.dumps({k: v for k, v in event.items() if v is not None}) + b"\n")
        except Exception:  # logging must never take the server down
            self.handleError(record)


def _route_stdlib_logging(level: int, stream: BinaryIO) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_JsonLineHandler(stream, level))
    # The SDK and uvicorn are chatty at info; keep their warnings and errors.
    root.setLevel(max(level, logging.WARNING) if level > logging.DEBUG else level)
