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
from types import FrameType

import anyio
import structlog

from . import heap
from .app import Stopper, open_app
from .config import Config, parse_host_port
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


async def run_daemon(config: Config, *, stdio: bool, tcp: str | None, signals: StopSignals | None = None) -> None:
    """Serve until stopped. At least one of `stdio` / `tcp` must be set.

    Raises:
        SwarmError: the data dir is busy or unusable, or the TCP address cannot be served.
    """
    stopper = Stopper()
    if signals is not None:
        signals.attach(stopper)
    try:
        async with open_app(config, stopper, after_jax_import=heap.settle) as app:
            registry = build_registry(app, config.tools)
            with anyio.CancelScope() as serving:
                async with anyio.create_task_group() as transports:
                    if config.unix_socket:
                        from .transports.unix import serve_unix

                        await transports.start(serve_unix, app, registry)
                    if tcp is not None:
                        from .transports.tcp import serve_tcp

                        host, port = parse_host_port(tcp)
                        await transports.start(serve_tcp, app, registry, host, port)
                    if stdio:
                        from .transports.stdio import serve_stdio

                        transports.start_soon(serve_stdio, app, registry)
                    heap.settle()  # everything imported and opened so far lives as long as the process
                    await stopper.event.wait()
                    # Transports settle their own in-flight work; this bounds how long they may take.
                    serving.deadline = anyio.current_time() + config.shutdown_grace + 0.3
        log.info("daemon_stopped", reason=stopper.reason)
    finally:
        if signals is not None:
            signals.detach()
