"""OTP-style supervision on anyio: restart strategies, intensity limits, ordered shutdown.

    tree = Supervisor("daemon", [ChildSpec("engine", engine.run)], strategy=Strategy.ONE_FOR_ONE)
    async with anyio.create_task_group() as tg:
        await tg.start(tree.run)

| OTP | here |
|---|---|
| permanent / transient / temporary | `ChildSpec(restart=Restart.PERMANENT)` … |
| one_for_one / one_for_all / rest_for_one | `Strategy` and the pure `affected(strategy, failed, order)` |
| intensity / period | `RestartWindow(intensity, period).allow(now)`, per supervisor, on an injected clock |
| simple_one_for_one | `DynamicSupervisor`: children started and stopped at run time |
| shutdown | reverse start order; each child gets `ChildSpec.shutdown` seconds after its cancel |
| give up, the parent decides | `RestartIntensityExceeded` is raised from `run`; a parent supervisor sees a failed child |

A child is an async callable. Returning is a normal exit; raising an `Exception` is a crash.
Each child runs in its own cancel scope, shielded from its supervisor's task group, so that when
the supervisor is cancelled it can stop its children one at a time, newest first. Decisions
(`affected`, `RestartWindow`, whether an exit restarts) are pure; `run` is the thin loop over
them. Every start, exit, restart and escalation is reported to `on_event`. Nothing here knows
about swarms.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

__all__ = (
    "ChildSpec",
    "DynamicSupervisor",
    "Restart",
    "RestartIntensityExceeded",
    "RestartWindow",
    "Strategy",
    "Supervisor",
    "SupervisorEvent",
    "affected",
    "restarts_after",
)


class Restart(Enum):
    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after a crash
    TEMPORARY = "temporary"  # never restarted


class Strategy(Enum):
    ONE_FOR_ONE = "one_for_one"  # restart the failed child
    ONE_FOR_ALL = "one_for_all"  # restart every child
    REST_FOR_ONE = "rest_for_one"  # restart the failed child and those started after it


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """A child: `start()` runs it until it returns (normal exit) or raises (crash). `stop()`,
    when given, asks it to finish on its own before it is cancelled (a supervisor child stops
    its own children this way, one at a time, instead of all of them being cancelled at once)."""

    id: str
    start: Callable[[], Awaitable[None]]
    restart: Restart = Restart.PERMANENT
    shutdown: float = 5.0  # seconds a stopping child may take before shutdown moves on without it
    stop: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    """One fact about a supervisor: `kind` is started, exited, crashed, restarted, escalated or
    shutdown_timeout; `cause` is the child whose crash led to a restart."""

    kind: str
    supervisor: str
    child: str | None
    time: float
    reason: str | None = None
    cause: str | None = None


class RestartIntensityExceeded(Exception):
    """A supervisor saw more restarts than its intensity allows within its period, stopped its
    children and gave up; its parent decides what happens next."""

    def __init__(self, supervisor: str, intensity: int, period: float, child: str, reason: str) -> None:
        super().__init__(
            f"supervisor {supervisor!r} gave up: child {child!r} crashed ({reason}) after {intensity} restarts "
            f"within {period:g} s"
        )
        self.supervisor = supervisor
        self.child = child
        self.reason = reason


def affected(strategy: Strategy, failed: str, order: Sequence[str]) -> list[str]:
    """The children to restart, in start order, when `failed` crashes."""
    if strategy is Strategy.ONE_FOR_ONE:
        return [failed]
    if strategy is Strategy.ONE_FOR_ALL:
        return list(order)
    return list(order[order.index(failed):])


def restarts_after(restart: Restart, crashed: bool) -> bool:
    """Whether a child with this restart type is restarted after it exits (crashed or not)."""
    return restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and crashed)


@dataclass(slots=True)
class RestartWindow:
    """At most `intensity` restarts within any `period` seconds."""

    intensity: int = 3
    period: float = 5.0
    _times: deque[float] = field(default_factory=deque)

    def allow(self, now: float) -> bool:
        """Record a restart at `now` if the window has room; False means the supervisor must give up."""
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        if len(self._times) >= self.intensity:
            return False
        self._times.append(now)
        return True


def _describe(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(slots=True)
class _Running:
    """A running child. Its scope is shielded, so only its own `cancel` stops it; `done` is made
    only when someone waits for the child to finish (thousands of idle children hold no event)."""

    spec: ChildSpec
    generation: int
    scope: anyio.CancelScope
    finished: bool = False
    done: anyio.Event | None = None

    def finish(self) -> None:
        self.finished = True
        if self.done is not None:
            self.done.set()

    async def wait(self) -> None:
        if not self.finished:
            if self.done is None:
                self.done = anyio.Event()
            await self.done.wait()


Exit = tuple[str, int, Exception | None] | None  # child id, generation, the crash (None: returned); None: shut down


class Supervisor:
    """Static children started in order at `run`, restarted by `strategy`; see the module docstring."""

    def __init__(
        self,
        name: str,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = 3,
        period: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[SupervisorEvent], None] | None = None,
    ) -> None:
        ids = [spec.id for spec in children]
        if len(set(ids)) != len(ids):
            raise ValueError(f"child ids must be unique, got {ids}")
        self.name = name
        self.strategy = strategy
        self.window = RestartWindow(intensity, period)
        self.clock = clock
        self.on_event = on_event
        self._specs: dict[str, ChildSpec] = {spec.id: spec for spec in children}
        self._order: list[str] = ids  # start order of the children we have (running or not)
        self._running: dict[str, _Running] = {}
        self._generation = 0
        self._restarts: dict[str, int] = {}
        self._tg: TaskGroup | None = None
        self._exits_tx: MemoryObjectSendStream[Exit] | None = None
        self._stopping = False

    # -- what callers can see ----------------------------------------------------------------

    @property
    def children(self) -> list[str]:
        """Running children, in start order."""
        return [cid for cid in self._order if cid in self._running]

    def restarts(self, child: str | None = None) -> int:
        """Restarts of one child, or of all children together."""
        if child is None:
            return sum(self._restarts.values())
        return self._restarts.get(child, 0)

    # -- the loop ----------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start the children in order, then supervise them until `shutdown` (returns), until
        cancelled (children are then stopped newest first) or until restarts exceed the
        intensity. A supervisor can be run again after it returns (a parent restarting it): its
        children start afresh, with a fresh restart window.

        Raises:
            RestartIntensityExceeded: too many restarts; every child has been stopped. Raised
                bare, not inside an exception group.
        """
        exits_tx, exits_rx = anyio.create_memory_object_stream[Exit](float("inf"))
        self._exits_tx = exits_tx
        self._stopping = False
        self.window = RestartWindow(self.window.intensity, self.window.period)
        escalation: RestartIntensityExceeded | None = None
        with exits_tx, exits_rx:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                try:
                    for cid in list(self._order):
                        self._start(self._specs[cid])
                    task_status.started()
                    async for exit_ in exits_rx:
                        if exit_ is None:
                            break  # shut down
                        try:
                            await self._on_exit(*exit_)
                        except RestartIntensityExceeded as exc:
                            escalation = exc
                            break
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._stop_all()
                    self._tg = None
        if escalation is not None:
            raise escalation

    async def shutdown(self) -> None:
        """Stop the children newest first, each through its own `stop` when it has one, then end
        `run` (which returns normally). Without pending cancellation, stopping ten thousand
        children costs ten thousand single cancellations, not a cancellation storm."""
        if self._tg is None or self._stopping:
            return
        self._stopping = True
        await self._stop_all()
        if self._exits_tx is not None:
            try:
                self._exits_tx.send_nowait(None)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass

    def _start(self, spec: ChildSpec) -> None:
        assert self._tg is not None, "the supervisor is not running"
        self._generation += 1
        running = _Running(spec, self._generation, anyio.CancelScope(shield=True))
        self._running[spec.id] = running
        self._tg.start_soon(self._child, running, name=f"{self.name}/{spec.id}")
        self._emit("started", spec.id)

    async def _child(self, running: _Running) -> None:
        crash: Exception | None = None
        try:
            with running.scope:  # shielded: only our own cancel stops a child, so shutdown is ordered
                await running.spec.start()
        except Exception as exc:  # a crash; cancellation is not one
            crash = exc
        finally:
            running.finish()
        if not running.scope.cancel_called and self._exits_tx is not None:
            try:
                self._exits_tx.send_nowait((running.spec.id, running.generation, crash))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # the supervisor has already stopped

    async def _on_exit(self, cid: str, generation: int, crash: Exception | None) -> None:
        running = self._running.get(cid)
        if running is None or running.generation != generation:
            return  # a child we already stopped or replaced
        del self._running[cid]
        spec = running.spec
        self._emit("crashed" if crash is not None else "exited", cid, reason=_describe(crash))
        if self._stopping:
            return  # shutting down: nothing restarts
        if not restarts_after(spec.restart, crash is not None):
            self._forget_if_temporary(spec)
            return
        if not self.window.allow(self.clock()):
            reason = _describe(crash) or "exited"
            self._emit("escalated", cid, reason=reason)
            raise RestartIntensityExceeded(self.name, self.window.intensity, self.window.period, cid, reason)
        await self._restart(cid)

    async def _restart(self, failed: str) -> None:
        order = [c for c in self._order if c in self._running or c == failed]
        targets = affected(self.strategy, failed, order)
        for cid in reversed(targets):
            if cid in self._running:
                await self._stop(cid)
        for cid in targets:
            self._restarts[cid] = self._restarts.get(cid, 0) + 1
            self._start(self._specs[cid])
            self._emit("restarted", cid, cause=failed)

    def _forget_if_temporary(self, spec: ChildSpec) -> None:
        if spec.restart is Restart.TEMPORARY:
            self._specs.pop(spec.id, None)
            self._order.remove(spec.id)

    async def _stop(self, cid: str) -> None:
        """Cancel one child and wait up to its shutdown time for it to finish."""
        running = self._running.pop(cid, None)
        if running is None:
            return
        with anyio.move_on_after(running.spec.shutdown) as waited:
            if running.spec.stop is not None and not running.finished:
                await running.spec.stop()
            running.scope.cancel()
            await running.wait()
        if waited.cancelled_caught:
            self._emit("shutdown_timeout", cid, reason=f"still running {running.spec.shutdown:g} s after its cancel")

    async def _stop_all(self) -> None:
        for cid in reversed(self.children):
            await self._stop(cid)

    def _emit(self, kind: str, child: str | None, *, reason: str | None = None, cause: str | None = None) -> None:
        if self.on_event is not None:
            self.on_event(SupervisorEvent(kind, self.name, child, self.clock(), reason, cause))


class DynamicSupervisor(Supervisor):
    """OTP's simple_one_for_one: no children at start; `start_child` and `stop_child` add and
    remove them while `run` is running. Crashes restart only the crashed child."""

    def __init__(
        self,
        name: str,
        *,
        intensity: int = 3,
        period: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[SupervisorEvent], None] | None = None,
    ) -> None:
        super().__init__(name, (), strategy=Strategy.ONE_FOR_ONE, intensity=intensity, period=period,
                         clock=clock, on_event=on_event)

    @property
    def running(self) -> bool:
        return self._tg is not None

    def start_child(self, spec: ChildSpec) -> None:
        """Start `spec` now (scheduled at once; no await needed), or, before `run`, register it
        to start with the others when `run` begins.

        Raises:
            ValueError: a child with this id exists.
        """
        if spec.id in self._specs:
            raise ValueError(f"supervisor {self.name!r} already has a child {spec.id!r}")
        self._specs[spec.id] = spec
        self._order.append(spec.id)
        if self._tg is not None:
            self._start(spec)

    async def stop_child(self, cid: str) -> bool:
        """Stop a child and forget it (it is not restarted); False if there was no such child."""
        if cid not in self._specs:
            return False
        await self._stop(cid)
        self._specs.pop(cid, None)
        self._order.remove(cid)
        return True

    def _forget_if_temporary(self, spec: ChildSpec) -> None:
        # A dynamic child that is done for good (temporary, or a transient that returned) is forgotten.
        self._specs.pop(spec.id, None)
        self._order.remove(spec.id)
