"""Daemon events as MCP notifications: log messages, resource updates, list changes.

One set of rules for every engine and era. `Notices` turns a batch of feed events into the
notifications one audience should get: `notifications/message` at or above its log level,
`notifications/resources/updated` for the URIs it subscribed to, `notifications/resources/list_changed`
when the set of resources changed. Three audiences use it:

- a handshake-era session (`SessionChannel`): level `warning` until `logging/setLevel`, its
  `resources/subscribe` URIs, list changes;
- a 2026-07-28 `subscriptions/listen` stream (`listen`): the filter it asked for, every frame
  stamped with its subscription id;
- a 2026-07-28 request carrying `_meta` log level (`with_logs`): log messages while it runs.

Bounds: a watcher's feed subscription holds at most `QUEUE` events (one that falls behind gets a
warning and an update of everything it watches, never a backlog); a burst of events settles for
`SETTLE` seconds so each URI is announced once; log messages are rate-limited per audience
(`BURST`, then `RATE` per second, with a count of what was left out).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio

from ..feed import Batch, EventFeed, FeedEvent, Subscription
from ..protocol import INVALID_PARAMS, LOG_LEVELS, SUBSCRIPTION_ID_KEY, Notify, RpcError
from ._uris import uri_for

__all__ = ("LEVEL_OF", "MAX_SUBSCRIPTIONS", "Notices", "SessionChannel", "level_of", "listen", "message_of",
           "uris_of", "with_logs")

QUEUE = 512
SETTLE = 0.05
BURST, RATE = 100, 20.0
MAX_SUBSCRIPTIONS = 256  # resources one session (or listen stream) may watch
MAX_URI_CHARS = 4096
DEFAULT_LEVEL = "warning"  # what a handshake-era session hears before it calls logging/setLevel
LOGGER = "swarm-mcp"
_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}

# The level each event is reported at; kinds not listed are debug.
LEVEL_OF: dict[str, str] = {
    "daemon_child_escalated": "critical",
    "daemon_child_crashed": "error", "daemon_child_restarted": "error", "daemon_child_shutdown_timeout": "error",
    "store_write_failed": "error", "store_read_only": "error", "supervisor_escalated": "error",
    "supervisor_restarted": "warning", "supervisor_shutdown_timeout": "warning", "lease_expired": "warning",
    "subtask_failed": "warning", "task_failed": "warning", "store_quota_high": "warning",
    "task_completed": "notice", "task_cancelled": "notice", "subtask_retried": "notice", "network_trained": "notice",
    "store_write_recovered": "notice", "store_quota_ok": "notice", "engine_recovered": "notice",
    "daa_pattern_changed": "notice", "daa_meta_learning": "notice",
    "brain_trained": "info", "daa_initialized": "info", "daa_agent_adapted": "info", "daa_knowledge_shared": "info",
    "daa_workflow_executed": "info",
    "swarm_created": "info", "swarm_destroyed": "info", "agent_spawned": "info", "agent_stopped": "info",
    "task_created": "info", "subtask_completed": "info", "network_created": "info", "supervisor_crashed": "info",
}
# Events that add or remove a listed resource.
_LISTING = frozenset({"swarm_created", "swarm_destroyed", "agent_spawned", "agent_stopped", "task_created",
                      "network_created"})


def level_of(event: FeedEvent) -> str:
    return LEVEL_OF.get(event.kind, "debug")


def _says(event: FeedEvent) -> str:
    """One sentence a person reads in a client's log view."""
    d = dict(event.data or {})
    agent, swarm, task = event.agent_id, event.swarm_id, event.task_id
    kind = event.kind
    if kind == "supervisor_restarted":
        if agent:
            return f"agent {agent} was restarted by its supervisor after a crash ({d.get('cause') or d.get('reason')})"
        return f"swarm {swarm} was restarted with all its agents ({d.get('reason')})"
    if kind == "supervisor_escalated":
        return (f"swarm {swarm}'s agents crashed too often; its supervisor gave up and the engine restarts the swarm "
                f"({d.get('reason')})")
    if kind == "supervisor_crashed":
        return f"{d.get('child')} crashed: {d.get('reason')}"
    if kind == "lease_expired":
        return f"the lease on subtask {task} (agent {agent}, attempt {d.get('attempt')}) expired; it goes back to the queue"
    if kind == "subtask_retried":
        return f"subtask {task} failed on agent {agent} ({d.get('reason')}); it is retried on another agent"
    if kind == "subtask_failed":
        return f"subtask {task} failed for good after {d.get('attempts')} attempts: {d.get('reason')}"
    if kind.startswith("task_") and kind != "task_created":
        return f"task {task} {kind.removeprefix('task_')} after {d.get('seconds')} s"
    if kind == "task_created":
        return f"task {task} planned with {d.get('subtasks')} subtasks in swarm {swarm}"
    if kind == "subtask_completed":
        return f"subtask {task} completed by agent {agent} in {d.get('seconds')} s"
    if kind == "brain_trained":
        return (f"{d.get('agents')} agent brains of swarm {swarm} trained in {d.get('seconds')} s: MSE {d.get('mse_before')} "
                f"-> {d.get('mse_after')}")
    if kind == "network_trained":
        return (f"network {d.get('network_id')} trained {d.get('epochs')} epochs to MSE {d.get('mse')} "
                f"(stopped by {d.get('stopped_by')})")
    if kind == "store_write_failed":
        return f"the memory store cannot commit writes ({d.get('error')}); {d.get('pending')} are kept in memory and retried"
    if kind == "store_write_recovered":
        return "the memory store commits writes again"
    if kind == "store_read_only":
        return f"the memory store is read-only ({d.get('reason')}); writes are refused"
    if kind == "store_quota_high":
        return f"the memory store uses {d.get('used_bytes')} of its {d.get('quota_bytes')}-byte quota (memory_max_bytes)"
    if kind == "store_quota_ok":
        return f"the memory store is back under 80% of its quota ({d.get('used_bytes')} bytes)"
    if kind.startswith("daemon_child_"):
        return f"daemon service {d.get('child')} {kind.removeprefix('daemon_child_')}: {d.get('reason')}"
    subject = ", ".join(f"{name} {value}" for name, value in (("swarm", swarm), ("agent", agent), ("task", task)) if value)
    return f"{kind.replace('_', ' ')}" + (f" ({subject})" if subject else "")


def message_of(event: FeedEvent) -> dict[str, Any]:
    """The `data` of the log message for `event`: a sentence, the event's kind and ids, and its facts."""
    out: dict[str, Any] = {"message": _says(event), "event": event.kind, "time": event.time}
    for name in ("swarm_id", "agent_id", "task_id"):
        value = getattr(event, name)
        if value is not None:
            out[name] = value
    if event.data:
        out["data"] = dict(event.data)
    return out


def uris_of(event: FeedEvent) -> list[str]:
    """The resources whose contents `event` changed."""
    out = []
    if event.swarm_id:
        out.append(uri_for("swarm", event.swarm_id))
    if event.agent_id:
        out.append(uri_for("agent", event.agent_id))
    if event.task_id:
        out.append(uri_for("task", event.task_id.split(".", 1)[0]))  # a subtask's id is <task id>.<step>
    data = event.data or {}
    if isinstance(data.get("network_id"), str):
        out.append(uri_for("network", data["network_id"]))
    if isinstance(data.get("namespace"), str) and isinstance(data.get("key"), str):
        out.append(uri_for("entry", data["namespace"], data["key"]))
        out.append(uri_for("namespace", data["namespace"]))
    return out


class Notices:
    """Which notifications batches of events become for one audience (not thread-safe; one loop)."""

    def __init__(self, *, level: str | None, subscriptions: Iterable[str] = (), list_changed: bool = False,
                 meta: Mapping[str, Any] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.level = level
        self.subscriptions: set[str] = set(subscriptions)
        self.list_changed = list_changed
        self.meta = dict(meta) if meta else None
        self._clock = clock
        self._tokens = float(BURST)
        self._refilled = clock()
        self._withheld = 0

    def _stamp(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.meta is not None:
            params["_meta"] = dict(self.meta)
        return params

    def _take_token(self) -> bool:
        now = self._clock()
        self._tokens = min(float(BURST), self._tokens + (now - self._refilled) * RATE)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wants(self, event: FeedEvent) -> bool:
        """Whether `event` can become a notification for this audience now: a log message at or
        above its level, a change of the listing it follows, or of a resource it watches. Only
        these are queued for it, so a client that reads slowly is not told it missed events it
        never asked for."""
        if self.level is not None and _RANK[level_of(event)] >= _RANK[self.level]:
            return True
        if self.list_changed and event.kind in _LISTING:
            return True
        return bool(self.subscriptions) and any(uri in self.subscriptions for uri in uris_of(event))

    def render(self, batch: Batch) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        floor = _RANK[self.level] if self.level is not None else None
        if batch.lagged:
            if floor is not None and floor <= _RANK["warning"]:
                out.append(("notifications/message", self._stamp({"level": "warning", "logger": LOGGER, "data": {
                    "message": "this client read events more slowly than they happened; some were dropped "
                               "(re-read the resources you watch)", "event": "events_dropped"}})))
            if self.list_changed:
                out.append(("notifications/resources/list_changed", self._stamp({})))
            out.extend(("notifications/resources/updated", self._stamp({"uri": uri})) for uri in sorted(self.subscriptions))
        updated: dict[str, None] = {}
        listing = False
        for event in batch.events:
            if floor is not None and _RANK[level_of(event)] >= floor:
                if self._take_token():
                    if self._withheld:
                        out.append(self._withheld_message())
                    out.append(("notifications/message",
                                self._stamp({"level": level_of(event), "logger": LOGGER, "data": message_of(event)})))
                else:
                    self._withheld += 1
            if self.subscriptions:
                for uri in uris_of(event):
                    if uri in self.subscriptions:
                        updated[uri] = None
            listing = listing or event.kind in _LISTING
        if self._withheld and self._take_token():
            out.append(self._withheld_message())
        if listing and self.list_changed and not batch.lagged:
            out.append(("notifications/resources/list_changed", self._stamp({})))
        if not batch.lagged:
            out.extend(("notifications/resources/updated", self._stamp({"uri": uri})) for uri in updated)
        return out

    def _withheld_message(self) -> tuple[str, dict[str, Any]]:
        count, self._withheld = self._withheld, 0
        return ("notifications/message", self._stamp({"level": "warning", "logger": LOGGER, "data": {
            "message": f"{count} more events were not sent (more than {RATE:g} log messages per second); "
                       "the dashboard and the swarm:// resources show the state", "event": "log_messages_withheld",
            "count": count}}))


async def _next(events: Subscription, until: anyio.Event) -> Batch | None:
    """The next batch, or None once `until` is set first (or the subscription is closed)."""
    batch: Batch | None = None
    async with anyio.create_task_group() as tg:
        async def receive() -> None:
            nonlocal batch
            try:
                batch = await events.receive()
            except anyio.EndOfStream:
                pass
            tg.cancel_scope.cancel()

        async def stop() -> None:
            await until.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(receive)
        tg.start_soon(stop)
    return batch


async def _pump(feed: EventFeed, notices: Notices, notify: Notify, *, until: anyio.Event | None = None) -> None:
    """Send what `notices` makes of the feed's events through `notify` until `until` is set (what
    happened up to then is still sent), the subscription is closed, or cancellation."""
    until = until if until is not None else anyio.Event()
    with feed.subscribe(limit=QUEUE, accept=notices.wants) as events:
        while not until.is_set():
            batch = await _next(events, until)
            if batch is None:
                break
            with anyio.move_on_after(SETTLE):  # gather the rest of a burst: each URI is announced once
                await until.wait()
            more = events.receive_nowait()
            if more is not None:
                batch = Batch(batch.events + more.events, batch.lagged or more.lagged)
            for method, params in notices.render(batch):
                await notify(method, params)
        last = events.receive_nowait()
        if last is not None and not events.closed:
            for method, params in notices.render(last):
                await notify(method, params)


class SessionChannel:
    """A handshake-era session's notifications (see the module docstring); `run` until `close`."""

    def __init__(self, feed: EventFeed) -> None:
        self.feed = feed
        self.notices = Notices(level=DEFAULT_LEVEL, list_changed=True)
        self._closed = anyio.Event()

    def set_level(self, level: str) -> None:
        self.notices.level = level

    def subscribe(self, uri: str) -> None:
        if len(uri) > MAX_URI_CHARS:
            raise RpcError(INVALID_PARAMS, f"a resource URI is at most {MAX_URI_CHARS} characters")
        if uri not in self.notices.subscriptions and len(self.notices.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise RpcError(INVALID_PARAMS, f"this session already watches {MAX_SUBSCRIPTIONS} resources, the most one "
                           "session may; unsubscribe from some first", {"uri": uri})
        self.notices.subscriptions.add(uri)

    def unsubscribe(self, uri: str) -> None:
        self.notices.subscriptions.discard(uri)

    async def run(self, notify: Notify) -> None:
        if not self._closed.is_set():
            await _pump(self.feed, self.notices, notify, until=self._closed)

    def close(self) -> None:
        self._closed.set()


async def listen(feed: EventFeed, request_id: str | int, wanted: Mapping[str, Any], notify: Notify,
                 stopping: anyio.Event) -> dict[str, Any]:
    """One 2026-07-28 `subscriptions/listen` stream: the acknowledgement first (naming what is
    honored: every kind asked for, and up to `MAX_SUBSCRIPTIONS` URIs), then the matching change
    notifications, each stamped with the subscription id (the request's id), until the daemon
    stops; the result, stamped the same way, ends the stream."""
    meta = {SUBSCRIPTION_ID_KEY: request_id}
    honored: dict[str, Any] = {key: True for key in ("toolsListChanged", "promptsListChanged", "resourcesListChanged")
                               if wanted.get(key) is True}
    uris = [u for u in dict.fromkeys(wanted.get("resourceSubscriptions") or ()) if len(u) <= MAX_URI_CHARS]
    uris = uris[:MAX_SUBSCRIPTIONS]
    if uris:
        honored["resourceSubscriptions"] = uris
    notices = Notices(level=None, subscriptions=uris, list_changed=bool(honored.get("resourcesListChanged")), meta=meta)
    await notify("notifications/subscriptions/acknowledged", {"notifications": honored, "_meta": dict(meta)})
    await _pump(feed, notices, notify, until=stopping)
    return {"_meta": dict(meta)}


async def with_logs(feed: EventFeed, level: str, work: Awaitable[dict[str, Any]], notify: Notify) -> dict[str, Any]:
    """Await `work`; meanwhile send the daemon's log messages at or above `level` (a 2026-07-28
    request's `_meta` log level) through `notify`, which carries them on that request's stream."""
    done = anyio.Event()
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _pump(feed, Notices(level=level), notify, until=done))
        try:
            result = await work
        except Exception as exc:  # re-raised as itself below, not wrapped in the task group's ExceptionGroup
            failure = exc
        finally:
            done.set()
    if failure is not None:
        raise failure
    return result
