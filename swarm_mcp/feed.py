"""The daemon's live event feed: what happened, as it happens, for whoever watches.

The swarm engine publishes every event it records (`SwarmEngine.event`), and other subsystems
publish what a user should hear about (a network trained, the store failing to write). Watchers
subscribe: an MCP session turning events into log messages and resource updates, a dashboard
page streaming them. Publishing never waits and never grows without bound: each subscription
holds at most `limit` events, and one that falls further behind is emptied and marked `lagged`,
so its consumer takes a fresh snapshot of the state instead of replaying what it missed.

    with feed.subscribe(limit=256) as events:
        while True:
            batch = await events.receive()
            if batch.lagged:
                ...  # re-read the state; batch.events are those since
            for event in batch.events: ...
"""

from __future__ import annotations

import itertools
import time as _time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio

__all__ = ("Batch", "EventFeed", "FeedEvent", "Subscription")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event: `seq` grows by one per event published on this feed (not the store's seq)."""

    seq: int
    time: float
    kind: str
    swarm_id: str | None = None
    agent_id: str | None = None
    task_id: str | None = None  # a task's or a subtask's id, as the engine records it
    data: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "time": self.time, "kind": self.kind}
        for name in ("swarm_id", "agent_id", "task_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.data:
            out["data"] = dict(self.data)
        return out


@dataclass(frozen=True, slots=True)
class Batch:
    """What a subscriber receives: the events since its last batch, and whether some were dropped."""

    events: list[FeedEvent]
    lagged: bool = False


class Subscription:
    """One watcher's bounded queue on a feed. Use it as a context manager; `receive` waits."""

    def __init__(self, feed: EventFeed, limit: int, accept: Callable[[FeedEvent], bool] | None = None) -> None:
        if limit < 1:
            raise ValueError("a subscription holds at least one event")
        self._feed = feed
        self._limit = limit
        self._accept = accept
        self._queue: deque[FeedEvent] = deque()
        self._lagged = False
        self._ready = anyio.Event()
        self.closed = False
        self.dropped = 0  # events thrown away because this subscriber fell behind

    def put(self, event: FeedEvent) -> None:
        if self.closed or (self._accept is not None and not self._accept(event)):
            return
        if len(self._queue) >= self._limit:
            self.dropped += len(self._queue) + 1
            self._queue.clear()
            self._lagged = True
        else:
            self._queue.append(event)
        self._ready.set()

    def receive_nowait(self) -> Batch | None:
        """The pending batch, or None when nothing happened since the last one."""
        if not self._queue and not self._lagged:
            return None
        batch = Batch(list(self._queue), self._lagged)
        self._queue.clear()
        self._lagged = False
        self._ready = anyio.Event()
        return batch

    async def receive(self) -> Batch:
        """Wait for the next batch (at least one event, or a lag).

        Raises:
            anyio.EndOfStream: the subscription was closed.
        """
        while True:
            if self.closed:
                raise anyio.EndOfStream
            batch = self.receive_nowait()
            if batch is not None:
                return batch
            await self._ready.wait()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._feed._subscribers.discard(self)
            self._queue.clear()
            self._ready.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class EventFeed:
    """Fan-out of events to subscriptions, plus the newest `history` events for late joiners."""

    def __init__(self, *, history: int = 500, clock: Callable[[], float] | None = None) -> None:
        self._subscribers: set[Subscription] = set()
        self._seq = itertools.count(1)
        self.history: deque[FeedEvent] = deque(maxlen=history)
        self._clock = clock or _time.time
        self.published = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, data: Mapping[str, Any] | None = None, *, swarm_id: str | None = None,
                agent_id: str | None = None, task_id: str | None = None, time: float | None = None) -> FeedEvent:
        """Record an event and hand it to every subscriber (never blocks)."""
        event = FeedEvent(next(self._seq), self._clock() if time is None else time, kind, swarm_id, agent_id, task_id,
                          data)
        self.published += 1
        self.history.append(event)
        for subscription in list(self._subscribers):
            subscription.put(event)
        return event

    def subscribe(self, *, limit: int = 256, accept: Callable[[FeedEvent], bool] | None = None) -> Subscription:
        """A new subscription receiving every event published from now on (at most `limit` queued);
        with `accept`, only the events it returns true for (it is asked at publish time, so a
        watcher whose interest changes sees the change from the next event on)."""
        subscription = Subscription(self, limit, accept)
        self._subscribers.add(subscription)
        return subscription

    def recent(self, limit: int = 50) -> list[FeedEvent]:
        """The newest `limit` events kept, oldest first."""
        if limit <= 0:
            return []
        return list(self.history)[-limit:]
