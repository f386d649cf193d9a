"""Run the daemon: open the app, serve the chosen transports, stop cleanly on a signal or EOF.

SIGINT, SIGTERM and EOF on stdin all begin the same graceful stop: transports stop reading,
requests already received are answered (or, after `shutdown_grace`, cancelled and answered with
a shutting-down error), the store is flushed, and the process exits 0. Claude Code sends SIGINT
and then SIGTERM about 100 ms later without closing stdin. So the handlers are installed for the
whole life of the process (`StopSignals.install` in main), not just while the event loop runs: a
signal that arrives while the interpreter is already shutting down must not kill it with -15
(and once the daemon has stopped, `StopSignals.block` holds them until the process is gone).
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import anyio
import structlog

from . import __version__, heap
from .app import Stopper, open_app
from .config import Config, parse_host_port
from .datadir import DataDirLock, ensure_data_dir
from .lifecycle import OwnerRole, stop_when_idle
from .local_socket import bind_socket, socket_path_fits
from .tools import build_registry

__all__ = ("StopSignals", "run_daemon")

log = structlog.get_logger("swarm_mcp.daemon")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT/SIGTERM handlers for the process's lifetime, forwarding to the running daemon."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._target: tuple[asyncio.AbstractEventLoop, Stopper] | None = None

    def install(self) -> None:
        for signum in _SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if self._target is not None:
            loop, stopper = self._target
            loop.call_soon_threadsafe(stopper.request_stop, name)

    def block(self) -> None:
        """Hold SIGINT/SIGTERM from here to exit: CPython's finalization resets Python signal
        handlers to the default action, so a signal arriving then would kill us with -15."""
        signal.pthread_sigmask(signal.SIG_BLOCK, set(_SIGNALS))

    def attach(self, stopper: Stopper) -> None:
        self._target = (asyncio.get_running_loop(), stopper)
        if self.received:  # a signal arrived while starting up
            stopper.request_stop(self.received[0])

    def detach(self) -> None:
        self._target = None


async def run_daemon(
    config: Config, *, stdio: bool, tcp: str | None, signals: StopSignals | None = None, role: OwnerRole | None = None,
    lock: DataDirLock | None = None, listener: socket.socket | None = None, version: str = __version__,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve until stopped: stdio, the data dir's socket (unless `unix_socket` is off) and `tcp`.

    `lock` and `listener` are the data-dir lock and the socket bound at its path when the caller
    already holds them (a detached owner inherits both); otherwise both are taken here, the socket
    right after the lock, so sessions attaching meanwhile wait in its backlog instead of retrying.
    `role` says when to stop by itself (`OwnerRole.idle_timeout`); `on_ready` runs once every
    transport serves.

    Raises:
        SwarmError: the data dir is busy or unusable, or the TCP address cannot be served.
    """
    stopper = Stopper()
    if signals is not None:
        signals.attach(stopper)
    role = role or OwnerRole()
    bound: int | None = None
    try:
        if lock is None:
            ensure_data_dir(config.data_dir)
            lock = DataDirLock(config.lock_path)
            lock.acquire()
        if listener is None and config.unix_socket and socket_path_fits(config.socket_path):
            try:
                listener = bind_socket(config.socket_path)
            except BaseException:
                lock.release()
                raise
            lock.set_socket_path(str(config.socket_path))
        lock.record(attachable=listener is not None)  # sessions wait for a stopping owner's successor, not for this one
        bound = _identity(config.socket_path) if listener is not None else None
        async with open_app(config, stopper, after_jax_import=heap.settle, lock=lock, role=role, version=version) as app:
            registry = build_registry(app, config.tools)
            with anyio.CancelScope() as serving:
                async with anyio.create_task_group() as transports:
                    if config.unix_socket:
                        from .transports.unix import serve_unix

                        await transports.start(lambda *, task_status: serve_unix(app, registry, listener=listener,
                                                                                  task_status=task_status))
                    if tcp is not None:
                        from .transports.tcp import serve_tcp

                        host, port = parse_host_port(tcp)
                        await transports.start(serve_tcp, app, registry, host, port)
                    if stdio:
                        from .transports.stdio import serve_stdio

                        transports.start_soon(serve_stdio, app, registry)
                    if role.idle_timeout:
                        transports.start_soon(stop_when_idle, app, role.idle_timeout)
                    heap.settle()  # everything imported and opened so far lives as long as the process
                    if on_ready is not None:
                        on_ready()
                    await stopper.event.wait()
                    # Transports settle their own in-flight work; this bounds how long they may take.
                    serving.deadline = anyio.current_time() + config.shutdown_grace + 0.3
        log.info("daemon_stopped", reason=stopper.reason)
    finally:
        if listener is not None:
            listener.close()
            if bound is not None and _identity(config.socket_path) == bound:
                config.socket_path.unlink(missing_ok=True)  # a start that failed leaves no dead socket behind
        if signals is not None:
            signals.detach()


def _identity(path: Path) -> int | None:
    try:
        return path.lstat().st_ino
    except FileNotFoundError:
        return None
