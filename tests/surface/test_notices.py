"""Daemon events as notifications: what each audience hears (levels, subscriptions, list changes,
bounds), the same from the line engine and the SDK's `Server`, on 2026-07-28 listen streams and
log-level requests, and from real engine events (restarts, expired leases, finished tasks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp_types
import orjson
import pytest
from mcp.shared.message import SessionMessage
from support import FakeClock, LineHarness, running_app
from surface_support import client_of

from swarm_mcp.client import initialize_params, modern_meta
from swarm_mcp.feed import Batch, FeedEvent
from swarm_mcp.protocol import Session
from swarm_mcp.sdk_server import build_sdk_server
from swarm_mcp.surface._notices import BURST, MAX_SUBSCRIPTIONS, Notices, uris_of

MOD = modern_meta()


def event(kind: str, seq: int = 1, **ids: Any) -> FeedEvent:
    return FeedEvent(seq, 1.0, kind, ids.get("swarm_id"), ids.get("agent_id"), ids.get("task_id"), ids.get("data"))


def methods(out: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [m if m != "notifications/message" else f"message:{p['level']}:{p['data']['event']}" for m, p in out]


def test_an_audience_hears_events_at_or_above_its_level_and_updates_only_of_what_it_watches() -> None:
    notices = Notices(level="warning", subscriptions={"swarm://tasks/task-1"}, list_changed=True)
    out = notices.render(Batch([
        event("subtask_claimed", 1, swarm_id="s", agent_id="a", task_id="task-1.build"),
        event("lease_expired", 2, swarm_id="s", agent_id="a", task_id="task-1.build", data={"attempt": 1}),
        event("agent_spawned", 3, swarm_id="s", agent_id="b"),
        event("task_completed", 4, swarm_id="s", task_id="task-2"),
    ]))
    assert methods(out) == ["message:warning:lease_expired", "notifications/resources/list_changed",
                            "notifications/resources/updated"]
    assert out[2][1] == {"uri": "swarm://tasks/task-1"}, "a subtask's event updates its task, once per batch"
    assert "lease on subtask task-1.build" in out[0][1]["data"]["message"]
    assert uris_of(event("memory_written", data={"namespace": "a/b", "key": "k"})) == ["memory://a%2Fb/k", "memory://a%2Fb"]


def test_log_messages_are_rate_limited_and_what_was_withheld_is_counted() -> None:
    clock = FakeClock(0.0)
    notices = Notices(level="debug", clock=clock)
    first = notices.render(Batch([event("subtask_claimed", n) for n in range(BURST + 30)]))
    clock.advance(10.0)
    later = notices.render(Batch([event("subtask_claimed", 999)]))
    assert len(first) == BURST
    assert later[0][1]["data"] == {"message": later[0][1]["data"]["message"], "event": "log_messages_withheld", "count": 30}
    assert methods(later)[1:] == ["message:debug:subtask_claimed"]


def test_an_audience_that_fell_behind_is_told_so_and_gets_an_update_of_everything_it_watches() -> None:
    notices = Notices(level="info", subscriptions={"swarm://swarms/s", "memory://x/y"}, list_changed=True)
    out = notices.render(Batch([], lagged=True))
    assert methods(out) == ["message:warning:events_dropped", "notifications/resources/list_changed",
                            "notifications/resources/updated", "notifications/resources/updated"]


# -- the two engines alike ------------------------------------------------------------------

LEGACY = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize_params()},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "info"}},
    {"jsonrpc": "2.0", "id": 3, "method": "resources/subscribe", "params": {"uri": "swarm://tasks/task-7"}},
    {"jsonrpc": "2.0", "id": 4, "method": "resources/subscribe", "params": {"uri": "swarm://agents/agent-1"}},
    {"jsonrpc": "2.0", "id": 5, "method": "resources/unsubscribe", "params": {"uri": "swarm://agents/agent-1"}},
]
EVENTS = [
    ("subtask_claimed", {"swarm_id": "swarm-1", "agent_id": "agent-1", "task_id": "task-7.a"}),
    ("subtask_completed", {"swarm_id": "swarm-1", "agent_id": "agent-1", "task_id": "task-7.a"}),
    ("task_completed", {"swarm_id": "swarm-1", "task_id": "task-7"}),
    ("swarm_created", {"swarm_id": "swarm-2"}),
]


async def _ours(app: Any, registry: Any, script: list[dict[str, Any]], expect: int) -> list[dict[str, Any]]:
    out = []
    async with LineHarness(Session(app.identity, registry, "test", app.surface)) as h:
        for message in script:
            h.send(message)
            if "id" in message:
                assert "result" in await h.receive()
        await anyio.sleep(0.05)
        for kind, ids in EVENTS:
            app.feed.publish(kind, {"n": 1}, time=5.0, **ids)
        while len(out) < expect:
            out.append(await h.receive())
    return out


async def _sdk(app: Any, registry: Any, script: list[dict[str, Any]], expect: int) -> list[dict[str, Any]]:
    server = build_sdk_server(app, registry, transport="test")
    to_server, server_in = anyio.create_memory_object_stream[Any](100)
    server_out, from_server = anyio.create_memory_object_stream[Any](100)

    async def receive() -> dict[str, Any]:
        with anyio.fail_after(5):
            message = await from_server.receive()
        return orjson.loads(message.message.model_dump_json(by_alias=True, exclude_unset=True))

    out = []
    async with from_server, to_server, anyio.create_task_group() as tg:
        tg.start_soon(server.run, server_in, server_out, server.create_initialization_options())
        for message in script:
            await to_server.send(SessionMessage(mcp_types.jsonrpc_message_adapter.validate_python(message)))
            if "id" in message:
                assert "result" in await receive()
        await anyio.sleep(0.05)
        for kind, ids in EVENTS:
            app.feed.publish(kind, {"n": 1}, time=5.0, **ids)
        while len(out) < expect:
            out.append(await receive())
        tg.cancel_scope.cancel()
    return out


async def test_both_engines_send_the_same_notifications_for_the_same_events(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        ours = await _ours(app, registry, LEGACY, 5)
        theirs = await _sdk(app, registry, LEGACY, 5)
    assert ours == theirs
    assert [m["method"] for m in ours] == ["notifications/message", "notifications/message", "notifications/message",
                                           "notifications/resources/list_changed", "notifications/resources/updated"]
    assert [m["params"]["level"] for m in ours[:3]] == ["info", "notice", "info"]
    assert ours[4]["params"] == {"uri": "swarm://tasks/task-7"}


# -- 2026-07-28: listen streams and log levels per request ------------------------------------


async def test_a_listen_stream_is_acknowledged_first_stamped_with_its_id_and_ended_by_a_stop(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        async with LineHarness(Session(app.identity, registry, "test", app.surface)) as h:
            h.send({"jsonrpc": "2.0", "id": "L1", "method": "subscriptions/listen", "params": {"_meta": MOD,
                    "notifications": {"resourcesListChanged": True, "toolsListChanged": False,
                                      "resourceSubscriptions": ["swarm://tasks/task-7", *(f"x://{n}" for n in range(300))]}}})
            ack = await h.receive()
            app.feed.publish("subtask_completed", swarm_id="s", task_id="task-7.a")
            app.feed.publish("agent_spawned", swarm_id="s", agent_id="a")
            first, second = await h.receive(), await h.receive()
            app.stopper.request_stop("test")
            end = await h.receive()
    stamp = {"io.modelcontextprotocol/subscriptionId": "L1"}
    assert ack["method"] == "notifications/subscriptions/acknowledged" and ack["params"]["_meta"] == stamp
    honored = ack["params"]["notifications"]
    assert honored["resourcesListChanged"] is True and "toolsListChanged" not in honored
    assert len(honored["resourceSubscriptions"]) == MAX_SUBSCRIPTIONS, "the stream watches a bounded set"
    assert {first["method"], second["method"]} == {"notifications/resources/list_changed", "notifications/resources/updated"}
    assert first["params"]["_meta"] == second["params"]["_meta"] == stamp
    assert end["id"] == "L1" and end["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "L1"


async def test_a_2026_request_gets_log_messages_only_when_its_meta_asks_for_them(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm, _ = await app.swarm.create_swarm(topology="star", max_agents=2, strategy=None)
        await app.swarm.spawn(swarm.id, "coder")
        task = await app.swarm.board.orchestrate("Implement it", swarm_id=swarm.id,
                                                 subtasks=[{"id": "a", "description": "it", "type": "code"}])
        async with LineHarness(Session(app.identity, registry, "test", app.surface)) as h:
            for request_id, meta in ((1, MOD), (2, {**MOD, "io.modelcontextprotocol/logLevel": "info"})):
                h.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {
                    "name": "task_status", "arguments": {"taskId": task.id, "wait": 5}, "_meta": meta}})
                await anyio.sleep(0.1)
                claim = await app.swarm.board.claim(swarm_id=swarm.id)
                assert claim is not None
                await app.swarm.board.complete(claim.subtask.id, "ok")
                lines = []
                while not lines or "id" not in lines[-1]:
                    lines.append(await h.receive())
                if request_id == 1:
                    assert [line.get("method") for line in lines] == [None], "no logLevel: no log messages"
                    task = await app.swarm.board.orchestrate("Implement more", swarm_id=swarm.id, subtasks=[
                        {"id": "b", "description": "more", "type": "code"}])
        logged = [line["params"]["data"]["event"] for line in lines if line.get("method") == "notifications/message"]
    assert "subtask_completed" in logged and "task_completed" in logged and "subtask_claimed" not in logged
    assert lines[-1]["id"] == 2 and lines[-1]["result"]["structuredContent"]["task"]["state"] == "completed"


# -- real engine events, through the SDK's client --------------------------------------------


async def test_a_session_hears_of_agent_restarts_and_expired_leases_before_it_sets_any_level(tmp_path: Path) -> None:
    clock = FakeClock()
    heard: list[Any] = []

    async def on_log(params: Any) -> None:
        heard.append(params)

    async with running_app(tmp_path, swarm_learning=False, clock=clock) as (app, registry):
        async with client_of(app, registry, logging_callback=on_log) as client:
            await client.list_tools()
            swarm, _ = await app.swarm.create_swarm(topology="star", max_agents=2, strategy=None)
            agent = await app.swarm.spawn(swarm.id, "coder")
            app.swarm.inject_fault(agent.id, RuntimeError("injected fault"))
            await app.swarm.board.orchestrate("Implement it", swarm_id=swarm.id,
                                              subtasks=[{"id": "a", "description": "it", "type": "code"}])
            claim = await app.swarm.board.claim(swarm_id=swarm.id, lease_seconds=5)
            assert claim is not None
            clock.advance(10)
            app.swarm.tick()
            with anyio.fail_after(5):
                while {p.data["event"] for p in heard} < {"supervisor_restarted", "lease_expired"}:
                    await anyio.sleep(0.01)
    levels = {p.data["event"]: p.level for p in heard}
    assert levels == {"supervisor_restarted": "warning", "lease_expired": "warning"}, "nothing below warning by default"
    restart = next(p for p in heard if p.data["event"] == "supervisor_restarted")
    assert restart.logger == "swarm-mcp" and agent.id in restart.data["message"] and restart.data["agent_id"] == agent.id


async def test_subscribers_hear_that_a_task_finished_and_no_more_after_unsubscribing(tmp_path: Path) -> None:
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, mcp_types.ResourceUpdatedNotification):
            updates.append(message.params.uri)

    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm, _ = await app.swarm.create_swarm(topology="star", max_agents=2, strategy=None)
        await app.swarm.spawn(swarm.id, "coder")
        first = await app.swarm.board.orchestrate("One", swarm_id=swarm.id, subtasks=[{"id": "a", "description": "one"}])
        second = await app.swarm.board.orchestrate("Two", swarm_id=swarm.id, subtasks=[{"id": "a", "description": "two"}])
        async with client_of(app, registry, message_handler=on_message) as client:
            with pytest.warns(Warning):  # the SDK marks resources/subscribe deprecated (gone in 2026-07-28)
                await client.subscribe_resource(f"swarm://tasks/{first.id}")
                await client.subscribe_resource(f"swarm://tasks/{second.id}")
                await client.unsubscribe_resource(f"swarm://tasks/{second.id}")
            for _ in range(2):
                claim = await app.swarm.board.claim(swarm_id=swarm.id)
                assert claim is not None
                await app.swarm.board.complete(claim.subtask.id, "ok")
            with anyio.fail_after(5):
                while not updates:
                    await anyio.sleep(0.01)
            await anyio.sleep(0.2)
    assert set(updates) == {f"swarm://tasks/{first.id}"}
    assert app.swarm.board.tasks[first.id].state.value == "completed"


async def test_one_session_may_watch_at_most_a_bounded_number_of_resources(tmp_path: Path) -> None:
    from mcp.shared.exceptions import MCPError

    async with running_app(tmp_path, swarm_learning=False) as (app, registry), client_of(app, registry) as client:
        with pytest.warns(Warning):
            for n in range(MAX_SUBSCRIPTIONS):
                await client.subscribe_resource(f"swarm://tasks/task-{n}")
            with pytest.raises(MCPError) as refused:
                await client.subscribe_resource("swarm://tasks/one-too-many")
    assert refused.value.error.code == -32602 and "unsubscribe" in refused.value.error.message


def test_finished_brain_training_and_daa_pattern_changes_reach_a_user_at_info_and_notice() -> None:
    notices = Notices(level="info")
    out = notices.render(Batch([
        event("brain_trained", 1, swarm_id="s", data={"agents": 3, "seconds": 0.2, "mse_before": 0.4, "mse_after": 0.1}),
        event("daa_pattern_changed", 2, swarm_id="s", agent_id="a", data={"from": "convergent", "to": "lateral"}),
        event("subtask_claimed", 3, swarm_id="s", agent_id="a", task_id="task-1.build"),
    ]))
    assert methods(out) == ["message:info:brain_trained", "message:notice:daa_pattern_changed"]
    assert out[0][1]["data"]["message"] == "3 agent brains of swarm s trained in 0.2 s: MSE 0.4 -> 0.1"


async def test_a_slow_session_is_not_told_it_missed_events_it_never_asked_for(tmp_path: Path) -> None:
    """Found by tests/test_durability.py: 2,000 quick writes on stdio overflowed the session's
    queue with debug-level memory events, and the client got an unasked-for `events_dropped` warning."""
    from swarm_mcp.surface._notices import QUEUE, _pump

    async def warnings_after_a_burst(app: Any, watching: set[str]) -> list[str]:
        notices = Notices(level="warning", subscriptions=watching)
        sent: list[tuple[str, dict[str, Any]]] = []
        until = anyio.Event()

        async def notify(method: str, params: dict[str, Any]) -> None:
            sent.append((method, params))

        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: _pump(app.feed, notices, notify, until=until))
            await anyio.wait_all_tasks_blocked()
            for n in range(QUEUE + 50):  # faster than the pump reads: nothing yields in between
                app.feed.publish("memory_written", {"namespace": "notes", "key": f"k{n}", "version": 1})
            until.set()
        return [p["data"]["event"] for m, p in sent if m == "notifications/message"]

    async with running_app(tmp_path, swarm_learning=False) as (app, _):
        assert await warnings_after_a_burst(app, set()) == []
        assert await warnings_after_a_burst(app, {"memory://notes"}) == ["events_dropped"]
