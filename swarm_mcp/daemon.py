"""Run the daemon: open the app, serve the chosen transports, stop cleanly on a signal or EOF.

SIGINT, SIGTERM and EOF on stdin all begin the same graceful stop: transports stop reading,
requests already received are answered (or, after `shutdown_grace`, cancelled and answered with
a shutting-down error), the store is flushed, and the process exits 0. Claude Code sends SIGINT
and then SIGTERM about 100 ms later without closing stdin, so the signal handlers stay installed
until the very end: a second signal must not kill the process before state is flushed.
"""

from __future__ import annotations

import signal

import anyio
import anyio.abc
import structlog

from .app import Stopper, open_app
from .config import Config, parse_host_port
from .tools import build_registry

__all__ = ("run_daemon",)

log = structlog.get_logger("swarm_mcp.daemon")


async def _stop_on_signals(stopper: Stopper, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            stopper.request_stop(signal.Signals(signum).name)


async def run_daemon(config: Config, *, stdio: bool, tcp: str | None) -> None:
    """Serve until stopped. At least one of `stdio` / `tcp` must be set.

    Raises:
        SwarmError: the data dir is busy or unusable, or the TCP address cannot be served.
    """
    stopper = Stopper()
    async with anyio.create_task_group() as signals:
        await signals.start(_stop_on_signals, stopper)
        async with open_app(config, stopper) as app:
            registry = build_registry(app)
            with anyio.CancelScope() as serving:
                async with anyio.create_task_group() as transports:
                    if tcp is not None:
                        from .transports.tcp import serve_tcp

                        host, port = parse_host_port(tcp)
                        await transports.start(serve_tcp, app, registry, host, port)
                    if stdio:
                        from .transports.stdio import serve_stdio

                        transports.start_soon(serve_stdio, app, registry)
                    await stopper.event.wait()
                    # Transports settle their own in-flight work; this bounds how long they may take.
                    serving.deadline = anyio.current_time() + config.shutdown_grace + 0.3
        log.info("daemon_stopped", reason=stopper.reason)
        signals.cancel_scope.cancel()
