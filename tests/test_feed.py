"""The live event feed: every subscriber gets every event in order, a slow one is bounded and told
it fell behind, closing ends it, and the engine, the store watcher and the networks publish on it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from support import running_app

from swarm_mcp.feed import EventFeed
from swarm_mcp.health import watch_store


async def test_each_subscriber_receives_every_event_published_after_it_subscribed_in_order() -> None:
    feed = EventFeed(clock=lambda: 1.0)
    feed.publish("before")
    with feed.subscribe() as first, feed.subscribe() as second:
        for n in range(3):
            feed.publish("step", {"n": n}, swarm_id="s")
        one, two = await first.receive(), await second.receive()
    assert [e.data for e in one.events] == [{"n": 0}, {"n": 1}, {"n": 2}] == [e.data for e in two.events]
    assert [e.seq for e in one.events] == [2, 3, 4] and not one.lagged
    assert feed.subscribers == 0, "leaving the block unsubscribes"
    assert [e.kind for e in feed.recent(10)] == ["before", "step", "step", "step"]


async def test_a_subscriber_that_falls_behind_holds_at_most_its_limit_and_is_told_to_take_a_snapshot() -> None:
    feed = EventFeed()
    with feed.subscribe(limit=4) as slow:
        for n in range(10):
            feed.publish("tick", {"n": n})
        batch = await slow.receive()
        feed.publish("after")
        again = await slow.receive()
    assert batch.lagged, "the overflow is reported, not buffered"
    assert len(batch.events) <= 4 and slow.dropped >= 6
    assert [e.kind for e in again.events] == ["after"] and not again.lagged


async def test_a_subscriber_with_a_filter_queues_only_what_it_accepts_and_so_never_lags_on_the_rest() -> None:
    feed = EventFeed()
    wanted = {"warning"}
    with feed.subscribe(limit=4, accept=lambda e: e.kind in wanted) as picky:
        for _ in range(100):
            feed.publish("chatter")
        feed.publish("warning")
        wanted.add("late")  # asked at publish time: a change of interest counts from the next event
        feed.publish("late")
        batch = picky.receive_nowait()
    assert batch is not None and not batch.lagged and [e.kind for e in batch.events] == ["warning", "late"]
    assert picky.dropped == 0


async def test_closing_a_subscription_ends_a_waiting_receive() -> None:
    feed = EventFeed()
    subscription = feed.subscribe()
    ended = anyio.Event()

    async def wait() -> None:
        with pytest.raises(anyio.EndOfStream):
            await subscription.receive()
        ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.sleep(0.01)
        subscription.close()
        with anyio.fail_after(5):
            await ended.wait()
    feed.publish("ignored")
    assert subscription.receive_nowait() is None


async def test_engine_events_are_published_live_with_their_ids(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _):
        with app.feed.subscribe() as events:
            swarm, _ = await app.swarm.create_swarm(topology="ring", max_agents=3, strategy=None)
            agent = await app.swarm.spawn(swarm.id, "coder")
            batch = await events.receive()
    kinds = [(e.kind, e.swarm_id, e.agent_id) for e in batch.events]
    assert ("swarm_created", swarm.id, None) in kinds and ("agent_spawned", swarm.id, agent.id) in kinds


async def test_finished_attempts_fill_the_swarms_success_windows(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _):
        swarm, _ = await app.swarm.create_swarm(topology="star", max_agents=2, strategy=None, routing="round_robin")
        await app.swarm.spawn(swarm.id, "coder")
        for n in range(3):
            await app.swarm.board.orchestrate(f"Implement part {n}", swarm_id=swarm.id,
                                              subtasks=[{"id": "a", "description": f"part {n}", "type": "code"}])
            claim = await app.swarm.board.claim(swarm_id=swarm.id)
            assert claim is not None
            if n == 1:
                await app.swarm.board.fail(claim.subtask.id, "no", retry=False)
            else:
                await app.swarm.board.complete(claim.subtask.id, "ok")
        assert swarm.windows == [[2, 1]]


class _Store:
    """The store's health facts, set by hand."""

    def __init__(self) -> None:
        self.write_error: str | None = None
        self.read_only_reason: str | None = None
        self.quota_bytes = 1000
        self.used_bytes = 100

    def pending_writes(self) -> int:
        return 3


async def test_the_store_watcher_announces_failing_writes_and_a_nearly_full_quota_once_each() -> None:
    feed, store = EventFeed(), _Store()

    async def until(kind: str) -> None:
        with anyio.fail_after(5):
            while not any(e.kind == kind for e in feed.history):
                await anyio.sleep(0.01)

    with feed.subscribe():
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: watch_store(store, feed, every=0.01, task_status=task_status))  # type: ignore[arg-type]
            store.write_error = "disk full"
            await until("store_write_failed")
            store.used_bytes = 950
            await until("store_quota_high")
            store.write_error, store.used_bytes = None, 100
            await until("store_write_recovered")
            await until("store_quota_ok")
            tg.cancel_scope.cancel()
    kinds = [e.kind for e in feed.history]
    assert kinds.count("store_write_failed") == 1 and kinds.count("store_quota_high") == 1
    failed = next(e for e in feed.history if e.kind == "store_write_failed")
    assert failed.data == {"error": "disk full", "pending": 3}
