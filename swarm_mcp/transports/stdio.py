"""MCP over stdin/stdout, newline-delimited JSON-RPC.

While serving, the wire uses private duplicates of fds 0 and 1; fd 0 then reads /dev/null and fd 1
points at stderr, so nothing else in the process (a stray print, a C library, a child process)
can corrupt the protocol stream. EOF on stdin stops the daemon after in-flight requests settle.
"""

from __future__ import annotations

import asyncio
import os
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import anyio
import structlog

from ..protocol import LineLimits, Session, serve_line_connection

if TYPE_CHECKING:
    from ..app import App
    from ..tools import ToolRegistry

__all__ = ("serve_stdio",)

log = structlog.get_logger("swarm_mcp.stdio")


@contextmanager
def _claim_stdio() -> Iterator[tuple[int, int]]:
    """Yield private (stdin, stdout) fds; divert fds 0 and 1 until exit, then restore them."""
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    try:
        yield wire_in, wire_out
    finally:
        for fd in (wire_in, wire_out):
            with suppress(OSError):
                os.set_blocking(fd, True)  # the fds may be shared with a terminal: leave it as we found it
        with suppress(OSError):
            os.dup2(wire_in, 0)
        with suppress(OSError):
            os.dup2(wire_out, 1)
        for fd in (wire_in, wire_out):
            with suppress(OSError):
                os.close(fd)


class _FileSink:
    """Blocking writes for a stdout that is a regular file (asyncio pipes refuse files)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._closed = anyio.Event()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    async def drain(self) -> None:
        return None

    def is_closing(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def close(self) -> None:
        self._closed.set()


def _pollable(fd: int) -> bool:
    """Whether epoll accepts `fd` (pipes, sockets, terminals do; regular files and /dev/null do not)."""
    poller = select.epoll()
    try:
        poller.register(fd, select.EPOLLIN)
    except OSError:
        return False
    finally:
        poller.close()
    return True


class _PipeProtocol(asyncio.streams.FlowControlMixin):
    """A write pipe's protocol that can also say when the pipe has closed (`StreamWriter.wait_closed`)."""

    def __init__(self) -> None:
        super().__init__()
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._closed.done():
            self._closed.set_result(None)

    def _get_close_waiter(self, stream: asyncio.StreamWriter) -> asyncio.Future[None]:
        return self._closed


async def _open_reader(fd: int, limit: int, tg: anyio.abc.TaskGroup) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    pipe = os.fdopen(fd, "rb", buffering=0, closefd=False)
    try:
        if not _pollable(fd):
            raise ValueError("not pollable")
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    except ValueError:  # a regular file or /dev/null: read it from a worker thread
        async def pump() -> None:
            while chunk := await anyio.to_thread.run_sync(os.read, fd, 1 << 16):
                reader.feed_data(chunk)
            reader.feed_eof()

        tg.start_soon(pump)
    return reader


async def _open_sink(fd: int) -> Any:
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "wb", buffering=0, closefd=False)
    try:
        if not _pollable(fd):
            raise ValueError("not pollable")
        transport, protocol = await loop.connect_write_pipe(_PipeProtocol, pipe)
    except ValueError:  # a regular file or /dev/null
        return _FileSink(fd)
    return asyncio.StreamWriter(transport, protocol, None, loop)


async def serve_stdio(app: App, registry: ToolRegistry) -> None:
    """Serve one MCP session on stdin/stdout until EOF or the daemon stops."""
    with _claim_stdio() as (wire_in, wire_out):
        async with anyio.create_task_group() as tg:
            reader = await _open_reader(wire_in, app.config.max_line_bytes, tg)
            sink = await _open_sink(wire_out)
            app.transports.serving("stdio", "stdin/stdout")
            app.transports.opened("stdio")
            try:
                await serve_line_connection(
                    reader,
                    sink,
                    Session(app.identity, registry, "stdio", app.surface),
                    stopping=app.stopping,
                    shutdown_grace=app.config.shutdown_grace,
                    max_line_bytes=app.config.max_line_bytes,
                    on_eof=lambda: app.request_stop("stdin closed"),
                    limits=LineLimits(max_in_flight=app.config.max_in_flight),  # no timeouts: the peer owns this process
                )
            finally:
                app.transports.closed("stdio")
                with suppress(Exception):
                    await sink.drain()
                sink.close()
                tg.cancel_scope.cancel()
