"""The daemon-wide application object, shared by every connection on every transport.

`open_app` owns the data directory (lock included) and, as they arrive, the store, swarm engine
and neural runtime. Transports and tools reach daemon state only through `App`; the SDK's
per-connection lifespan just hands out this one object.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog

from . import __version__
from .config import Config
from .datadir import DataDirLock, ensure_data_dir
from .feed import EventFeed
from .health import watch_store
from .memory import StoreConfig, TieredStore, open_store
from .jax_probe import JaxProbe
from .lifecycle import AttachedSessions, OwnerRole
from .neural_runtime import NeuralRuntime
from .neural_service import NeuralService
from .protocol import ServerIdentity
from .surface import Surface
from .supervisor import ChildSpec, Strategy, Supervisor, SupervisorEvent
from .swarm import EngineConfig, SwarmEngine
from .workers import ClaudeExecutor

__all__ = ("App", "Stopper", "TransportBook", "open_app", "SERVER_INSTRUCTIONS")

log = structlog.get_logger("swarm_mcp.app")

SERVER_INSTRUCTIONS = (
    "swarm-mcp coordinates swarms of agents, trains FANN-compatible neural networks in JAX and keeps "
    "a durable shared memory. Every tool computes its answer from the daemon's real state; errors say "
    "what was wrong and which tool to call next. Start with features_detect to see what this host offers."
)


@dataclass
class TransportBook:
    """Which transports are serving, where, and how many connections each has now and in total."""

    endpoints: dict[str, str] = field(default_factory=dict)
    open_connections: dict[str, int] = field(default_factory=dict)
    total_connections: dict[str, int] = field(default_factory=dict)
    probes: dict[str, Callable[[], int]] = field(default_factory=dict)  # open connections counted elsewhere (HTTP)

    def serving(self, name: str, where: str) -> None:
        self.endpoints[name] = where
        self.open_connections.setdefault(name, 0)
        self.total_connections.setdefault(name, 0)

    def opened(self, name: str) -> None:
        self.open_connections[name] = self.open_connections.get(name, 0) + 1
        self.total_connections[name] = self.total_connections.get(name, 0) + 1

    def closed(self, name: str) -> None:
        self.open_connections[name] -= 1

    def connected(self) -> int:
        """Connections open now on every transport."""
        return sum(self.open_connections.values()) + sum(probe() for probe in self.probes.values())

    def snapshot(self) -> dict[str, Any]:
        return {
            name: {
                "endpoint": where,
                "open_connections": self.open_connections.get(name, 0),
                "total_connections": self.total_connections.get(name, 0),
            }
            for name, where in self.endpoints.items()
        }


@dataclass
class Stopper:
    """The one graceful-stop request of the process: set by signals, stdin EOF or a test."""

    event: anyio.Event = field(default_factory=anyio.Event)
    reason: str | None = None

    def request_stop(self, reason: str) -> None:
        """Begin a graceful shutdown (idempotent): transports stop reading and settle in-flight work."""
        if not self.event.is_set():
            self.reason = reason
            log.info("daemon_stopping", reason=reason)
            self.event.set()


@dataclass
class App:
    """Daemon state: configuration, identity, lifecycle and the subsystems."""

    config: Config
    identity: ServerIdentity
    lock: DataDirLock
    store: TieredStore
    neural: NeuralService
    swarm: SwarmEngine
    claude: ClaudeExecutor
    feed: EventFeed  # the daemon's live events (the engine's, store health, trained networks)
    clock: Callable[[], float] = time.time  # the one clock of the daemon's state (TTLs, timestamps)
    stopper: Stopper = field(default_factory=Stopper)
    started_at: float = field(default_factory=time.time)
    transports: TransportBook = field(default_factory=TransportBook)
    jax_probe: JaxProbe = field(default_factory=JaxProbe)  # probes JAX once, in a subprocess, when asked
    role: OwnerRole = field(default_factory=OwnerRole)
    attached: AttachedSessions = field(default_factory=AttachedSessions)
    idle_since: float | None = None  # monotonic time since which nothing was connected or running
    handover_to: str | None = None  # set when this owner stops to let a newer version take over

    @property
    def stopping(self) -> anyio.Event:
        return self.stopper.event

    @functools.cached_property
    def surface(self) -> Surface:
        """Resources, prompts, completions and log messages, served beside the tools on every transport."""
        return Surface(self)

    def request_stop(self, reason: str) -> None:
        self.stopper.request_stop(reason)


@asynccontextmanager
async def open_app(
    config: Config, stopper: Stopper | None = None, *, clock: Callable[[], float] = time.time,
    after_jax_import: Callable[[], None] | None = None, environ: Mapping[str, str] | None = None,
    lock: DataDirLock | None = None, role: OwnerRole | None = None, version: str = __version__,
) -> AsyncIterator[App]:
    """Take the data dir (create 0700, lock), open the subsystems, and close them all on exit.
    `after_jax_import` runs once JAX is loaded (the daemon freezes the new modules out of GC).
    `environ` is what Claude Code workers run with and where their binary is searched
    (default: this process's environment). `lock`, when given, is already held (the daemon takes
    it before binding its socket); it is released on exit either way. `version` is what this
    owner reports (tests simulate other versions with it).

    Raises:
        DataDirBusy: another swarm-mcp process owns the data dir.
        Unavailable: the data dir cannot be created or locked.
    """
    for warning in ensure_data_dir(config.data_dir):
        log.warning("data_dir_permissions", detail=warning)
    if lock is None:
        lock = DataDirLock(config.lock_path)
        lock.acquire(tcp_url=None)
    role = role or OwnerRole()
    lock.record(version=version, kind=role.kind)
    app: App | None = None
    try:
        async with open_store(store_config(config), clock=clock, background=False) as store:
            runtime = NeuralRuntime(
                config.data_dir / "jax-cache", workers=config.neural_workers, host_devices=config.neural_host_devices,
                after_jax_import=after_jax_import,
            )
            claude = claude_executor(config, os.environ if environ is None else environ)
            feed = EventFeed(clock=clock)
            engine = SwarmEngine(store, runtime, engine_config(config), clock=clock, executors={"claude": claude},
                                 feed=feed)
            await engine.load()
            app = App(
                config=config,
                identity=ServerIdentity("swarm-mcp", version, SERVER_INSTRUCTIONS),
                lock=lock,
                store=store,
                neural=NeuralService(
                    store, runtime, max_layer_size=config.neural_max_layer_size, max_layers=config.neural_max_layers,
                    max_parameters=config.neural_max_parameters, max_response_bytes=config.max_response_bytes, clock=clock,
                    feed=feed,
                ),
                swarm=engine,
                claude=claude,
                feed=feed,
                clock=clock,
                stopper=stopper or Stopper(),
                role=role,
            )
            claude.endpoint.bind(app)
            # The daemon's supervision tree: the store's loops, the workers' HTTP endpoint, then the
            # swarm engine (stopped first, so Claude workers are gone before their endpoint closes).
            children = [ChildSpec(name, loop) for name, loop in store.background()]
            children.append(ChildSpec("store_watch", functools.partial(watch_store, store, feed)))
            children.append(ChildSpec("jax_probe", app.jax_probe.run, shutdown=1.0))
            children.append(ChildSpec("worker_endpoint", claude.endpoint.serve))
            children.append(ChildSpec("swarm_engine", engine.run, shutdown=60.0, stop=engine.shutdown))
            root = Supervisor("daemon", children, strategy=Strategy.ONE_FOR_ONE, intensity=3, period=60.0,
                              clock=clock, on_event=functools.partial(_daemon_event, feed))
            async with anyio.create_task_group() as tg:
                await tg.start(root.run)
                log.info("daemon_started", pid=os.getpid(), version=version, data_dir=str(config.data_dir), kind=role.kind)
                try:
                    yield app
                finally:
                    with anyio.CancelScope(shield=True):
                        await root.shutdown()  # in order, newest first, before anything is cancelled
                    tg.cancel_scope.cancel()
    finally:
        lock.release(note={"handover_to": app.handover_to} if app is not None and app.handover_to else None)


def _daemon_event(feed: EventFeed, event: SupervisorEvent) -> None:
    if event.kind != "started":
        log.warning(f"daemon_child_{event.kind}", child=event.child, reason=event.reason)
        feed.publish(f"daemon_child_{event.kind}", {"child": event.child, "reason": event.reason})


def engine_config(config: Config) -> EngineConfig:
    return EngineConfig(
        max_swarms=config.swarm_max_swarms,
        max_agents=config.swarm_max_agents,
        max_open_subtasks=config.swarm_max_open_subtasks,
        max_finished_tasks=config.swarm_max_finished_tasks,
        lease_seconds=config.swarm_lease_seconds,
        restart_intensity=config.swarm_restart_intensity,
        restart_period=config.swarm_restart_period,
        learning=config.swarm_learning,
        brain_save_every=config.swarm_brain_save_every,
        max_result_bytes=config.memory_max_value_bytes,
    )


def claude_executor(config: Config, environ: Mapping[str, str]) -> ClaudeExecutor:
    return ClaudeExecutor.create(
        data_dir=config.data_dir,
        environ=environ,
        workers=config.claude_workers,
        timeout=config.claude_timeout,
        binary=config.claude_bin,
        cwd=config.claude_workdir,
        max_result_bytes=config.memory_max_value_bytes,
    )


def store_config(config: Config) -> StoreConfig:
    return StoreConfig(
        path=config.db_path,
        hot_max_entries=config.memory_hot_max_entries,
        hot_max_bytes=config.memory_hot_max_bytes,
        flush_interval=config.memory_flush_ms / 1000,
        flush_max_dirty=config.memory_flush_max_dirty,
        synchronous=config.memory_synchronous,
        max_value_bytes=config.memory_max_value_bytes,
        max_bytes=config.memory_max_bytes,
    )
