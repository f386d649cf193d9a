"""OTP supervision: strategies, restart types, intensity and escalation, ordered shutdown (with fault injection)."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarm_mcp.supervisor import (
    ChildSpec,
    DynamicSupervisor,
    Restart,
    RestartIntensityExceeded,
    RestartWindow,
    Strategy,
    Supervisor,
    SupervisorEvent,
    affected,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Child:
    """A child whose faults a test injects: `crash()` makes the running incarnation raise,
    `finish()` makes it return. Records starts and stops (in a shared log)."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.starts = 0
        self._command: anyio.Event = anyio.Event()
        self._crash = False
        self.started = anyio.Event()

    async def __call__(self) -> None:
        self.starts += 1
        self._command = anyio.Event()
        self.log.append(f"start {self.name}")
        self.started.set()
        try:
            await self._command.wait()
        finally:
            self.log.append(f"stop {self.name}")
        if self._crash:
            self._crash = False
            raise RuntimeError(f"{self.name} injected fault")

    def crash(self) -> None:
        self._crash = True
        self.started = anyio.Event()
        self._command.set()

    def finish(self) -> None:
        self.started = anyio.Event()
        self._command.set()


async def wait_for(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


def tree(*names: str, strategy: Strategy = Strategy.ONE_FOR_ONE, restart: Restart = Restart.PERMANENT,
         intensity: int = 3, clock: FakeClock | None = None):
    log: list[str] = []
    events: list[SupervisorEvent] = []
    children = {name: Child(name, log) for name in names}
    sup = Supervisor("sup", [ChildSpec(n, c, restart) for n, c in children.items()], strategy=strategy,
                     intensity=intensity, period=5.0, clock=clock or FakeClock(), on_event=events.append)
    return sup, children, log, events


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [(Strategy.ONE_FOR_ONE, ["b"]), (Strategy.ONE_FOR_ALL, ["a", "b", "c"]), (Strategy.REST_FOR_ONE, ["b", "c"])],
)
async def test_a_crash_restarts_the_children_its_strategy_names_and_no_others(strategy, restarted) -> None:
    sup, kids, log, events = tree("a", "b", "c", strategy=strategy)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await wait_for(lambda: all(k.starts == 1 for k in kids.values()))
        log.clear()
        kids["b"].crash()
        await wait_for(lambda: all(kids[n].starts == 2 for n in restarted))
        await anyio.sleep(0.01)
        assert {n: k.starts for n, k in kids.items()} == {n: 2 if n in restarted else 1 for n in kids}
        stopped_others = [entry for entry in log if entry.startswith("stop") and entry != "stop b"]
        assert stopped_others == [f"stop {n}" for n in reversed(restarted) if n != "b"]  # newest first
        assert [e.child for e in events if e.kind == "restarted"] == restarted
        assert {e.cause for e in events if e.kind == "restarted"} == {"b"}
        assert sup.restarts() == len(restarted) and sup.restarts("b") == 1
        tg.cancel_scope.cancel()


async def test_transient_children_restart_after_a_crash_but_not_after_returning() -> None:
    sup, kids, _, events = tree("t", restart=Restart.TRANSIENT)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await wait_for(lambda: kids["t"].starts == 1)
        kids["t"].crash()
        await wait_for(lambda: kids["t"].starts == 2)
        kids["t"].finish()
        await wait_for(lambda: any(e.kind == "exited" for e in events))
        await anyio.sleep(0.01)
        assert kids["t"].starts == 2 and sup.children == []
        tg.cancel_scope.cancel()


async def test_temporary_children_are_never_restarted() -> None:
    sup, kids, _, events = tree("tmp", "p", restart=Restart.TEMPORARY)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await wait_for(lambda: kids["tmp"].starts == 1)
        kids["tmp"].crash()
        await wait_for(lambda: any(e.kind == "crashed" for e in events))
        await anyio.sleep(0.01)
        assert kids["tmp"].starts == 1 and sup.children == ["p"] and sup.restarts() == 0
        tg.cancel_scope.cancel()


async def test_restarts_beyond_the_intensity_within_the_period_stop_every_child_and_escalate() -> None:
    clock = FakeClock()
    sup, kids, log, events = tree("a", "b", intensity=2, clock=clock)
    with pytest.RaisesGroup(RestartIntensityExceeded) as raised:
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            for expected in (2, 3):
                await wait_for(lambda: kids["a"].started.is_set())
                kids["a"].crash()
                await wait_for(lambda e=expected: kids["a"].starts == e)
                clock.now += 1.0  # still inside the 5 s period
            await wait_for(lambda: kids["a"].started.is_set())
            kids["a"].crash()  # the third restart within 5 s: over the intensity of 2
            await anyio.sleep_forever()
    escalation = raised.value.exceptions[0]
    assert escalation.supervisor == "sup" and escalation.child == "a"
    assert "injected fault" in str(escalation)
    assert log[-1] == "stop b"  # the survivor was stopped before giving up
    assert events[-1].kind == "escalated"


async def test_crashes_spread_beyond_the_period_never_escalate() -> None:
    clock = FakeClock()
    sup, kids, _, _ = tree("a", intensity=2, clock=clock)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        for n in range(2, 8):
            await wait_for(lambda: kids["a"].started.is_set())
            kids["a"].crash()
            await wait_for(lambda n=n: kids["a"].starts == n)
            clock.now += 3.0  # two crashes per 6 s: the window never holds three
        assert sup.restarts("a") == 6
        tg.cancel_scope.cancel()


async def test_cancelling_a_supervisor_stops_its_children_in_reverse_start_order() -> None:
    sup, kids, log, _ = tree("first", "second", "third")
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await wait_for(lambda: all(k.starts == 1 for k in kids.values()))
        tg.cancel_scope.cancel()
    assert [e for e in log if e.startswith("stop")] == ["stop third", "stop second", "stop first"]


async def test_a_child_that_ignores_its_cancel_is_waited_for_only_its_shutdown_time() -> None:
    log: list[str] = []
    events: list[SupervisorEvent] = []
    release = anyio.Event()

    async def stubborn() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await release.wait()
                log.append("stubborn stopped")

    polite = Child("polite", log)
    sup = Supervisor("sup", [ChildSpec("polite", polite), ChildSpec("stubborn", stubborn, shutdown=0.05)],
                     on_event=events.append)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sup.run)
        await wait_for(lambda: polite.starts == 1)
        tg.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):  # this task watches the shutdown it just began
            await wait_for(lambda: "stop polite" in log)  # reached while stubborn still runs
            assert "stubborn stopped" not in log
            assert [e.child for e in events if e.kind == "shutdown_timeout"] == ["stubborn"]
            release.set()
    assert log[-1] == "stubborn stopped"


async def test_an_escalating_child_supervisor_is_restarted_by_its_parent_with_fresh_children() -> None:
    clock = FakeClock()
    inner, kids, _, _ = tree("worker", intensity=1, clock=clock)
    parent_events: list[SupervisorEvent] = []
    parent = Supervisor("parent", [ChildSpec("inner", inner.run)], clock=clock, on_event=parent_events.append)
    async with anyio.create_task_group() as tg:
        await tg.start(parent.run)
        for expected in (2, 3):
            await wait_for(lambda: kids["worker"].started.is_set())
            kids["worker"].crash()
            await wait_for(lambda e=expected: kids["worker"].starts == e)
        # The second crash within the period exceeded the inner intensity of 1: the parent
        # restarted the inner supervisor, which started its worker again.
        assert [e.kind for e in parent_events if e.child == "inner"] == ["started", "crashed", "started", "restarted"]
        assert "gave up" in (next(e for e in parent_events if e.kind == "crashed").reason or "")
        assert inner.children == ["worker"]
        tg.cancel_scope.cancel()


async def test_a_dynamic_supervisor_starts_stops_and_restarts_children_before_and_during_its_run() -> None:
    log: list[str] = []
    events: list[SupervisorEvent] = []
    dyn = DynamicSupervisor("agents", intensity=10, on_event=events.append)
    kids = {f"agent-{i}": Child(f"agent-{i}", log) for i in range(3)}
    dyn.start_child(ChildSpec("agent-0", kids["agent-0"], Restart.TRANSIENT))  # before run: starts with it
    async with anyio.create_task_group() as tg:
        await tg.start(dyn.run)
        for name, child in list(kids.items())[1:]:
            dyn.start_child(ChildSpec(name, child, Restart.TRANSIENT))
        with pytest.raises(ValueError, match="already has a child"):
            dyn.start_child(ChildSpec("agent-0", kids["agent-0"]))
        await wait_for(lambda: all(k.starts == 1 for k in kids.values()))
        kids["agent-1"].crash()
        await wait_for(lambda: kids["agent-1"].starts == 2)
        assert await dyn.stop_child("agent-2") and not await dyn.stop_child("agent-2")
        kids["agent-0"].finish()  # a transient child that returns is done for good
        await wait_for(lambda: dyn.children == ["agent-1"])
        assert kids["agent-0"].starts == 1 and kids["agent-2"].starts == 1
        tg.cancel_scope.cancel()


@given(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True), st.data())
def test_affected_children_are_a_suffix_of_the_start_order_containing_the_failed_one(order, data) -> None:
    failed = data.draw(st.sampled_from(order))
    assert affected(Strategy.ONE_FOR_ONE, failed, order) == [failed]
    assert affected(Strategy.ONE_FOR_ALL, failed, order) == order
    rest = affected(Strategy.REST_FOR_ONE, failed, order)
    assert rest[0] == failed and rest == order[len(order) - len(rest):]


@given(st.integers(1, 5), st.lists(st.floats(0, 3, allow_nan=False), max_size=30))
def test_a_restart_window_never_allows_more_than_its_intensity_within_any_period(intensity, gaps) -> None:
    window = RestartWindow(intensity, period=5.0)
    now, allowed = 0.0, []
    for gap in gaps:
        now += gap
        if window.allow(now):
            allowed.append(now)
    for i, start in enumerate(allowed):
        assert sum(1 for t in allowed[i:] if t < start + 5.0) <= intensity


async def test_shutdown_stops_children_newest_first_through_their_stop_hooks_and_run_returns() -> None:
    log: list[str] = []
    first = Child("first", log)
    inner = DynamicSupervisor("inner")
    workers = [Child(f"w{i}", log) for i in range(3)]
    for worker in workers:
        inner.start_child(ChildSpec(worker.name, worker))
    outer = Supervisor("outer", [ChildSpec("first", first), ChildSpec("inner", inner.run, stop=inner.shutdown)])
    async with anyio.create_task_group() as tg:
        tg.start_soon(outer.run)
        await wait_for(lambda: first.starts == 1 and all(w.starts == 1 for w in workers))
        await outer.shutdown()
        with anyio.fail_after(5):
            while outer.children:
                await anyio.sleep(0.001)
    # The task group ended on its own: run returned, nothing was cancelled from outside.
    assert [e for e in log if e.startswith("stop")] == ["stop w2", "stop w1", "stop w0", "stop first"]
    assert outer.restarts() == 0 and inner.restarts() == 0
