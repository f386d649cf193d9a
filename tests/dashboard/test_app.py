"""The dashboard on a real daemon's HTTP port: the same token and rebinding checks as /mcp, a cookie
that opens only the dashboard, its files, and one live event stream per page (bounded, snapshots
for a page that fell behind, ended by the daemon's stop)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from dashboard_support import get, open_events
from support import running_app, tcp_server

from swarm_mcp.client import LineClient
from swarm_mcp.dashboard import COOKIE, DashboardApp, cookie_value

TOKEN = "dashboard-token-for-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("dashboard")
    with tcp_server(home, SWARM_MCP_TOKEN=TOKEN, SWARM_MCP_DASHBOARD_MAX_STREAMS="2") as (port, process):
        yield port, process


def call(port: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with LineClient.connect("127.0.0.1", port, token=TOKEN) as client:
        client.initialize()
        result = client.call_tool(tool, arguments)
    assert not result.get("isError"), result
    return result["structuredContent"]


def test_without_the_token_the_page_explains_how_to_sign_in_and_the_data_is_refused(daemon) -> None:
    port, _ = daemon
    status, headers, body = get(port, "/")
    assert status == 401 and headers["content-type"].startswith("text/html")
    assert b"swarm-mcp dashboard" in body and b"/?token=" in body
    assert get(port, "/dashboard/api/state")[0] == 401
    assert get(port, "/dashboard/api/state", {"Authorization": "Bearer not-the-token"})[0] == 401
    assert get(port, "/?token=not-the-token")[0] == 401


def test_the_bearer_token_opens_the_page_under_a_strict_content_policy(daemon) -> None:
    port, _ = daemon
    status, headers, body = get(port, "/", BEARER)
    assert status == 200 and b'src="/dashboard/static/dashboard.js"' in body
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    assert get(port, "/", BEARER, method="HEAD")[2] == b""
    status, headers, body = get(port, "/dashboard/api/events", BEARER, method="HEAD")
    assert (status, headers["content-type"], body) == (200, "text/event-stream", b""), "HEAD starts no stream"


def test_signing_in_sets_a_cookie_that_opens_the_dashboard_but_not_mcp(daemon) -> None:
    port, _ = daemon
    status, headers, _ = get(port, f"/?token={TOKEN}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    pair = {"Cookie": cookie.split(";", 1)[0]}
    assert pair["Cookie"] == f"{COOKIE}={cookie_value(TOKEN)}"
    assert get(port, "/", pair)[0] == 200
    assert get(port, "/dashboard/api/state", pair)[0] == 200
    mcp = get(port, "/mcp", {**pair, "Accept": "application/json, text/event-stream"}, method="POST")
    assert mcp[0] == 401, "the dashboard cookie must never stand in for the token on /mcp"


def test_foreign_hosts_and_origins_are_refused_as_on_mcp_and_nothing_but_reading_is_allowed(daemon) -> None:
    port, _ = daemon
    assert get(port, "/", {**BEARER, "Host": "evil.example"})[0] == 421
    assert get(port, "/dashboard/api/state", {**BEARER, "Host": f"attacker.test:{port}"})[0] == 421
    assert get(port, "/dashboard/api/state", {**BEARER, "Origin": "http://evil.example"})[0] == 403
    assert get(port, "/dashboard/api/state", {**BEARER, "Origin": f"http://127.0.0.1:{port}"})[0] == 200
    status, headers, _ = get(port, "/", BEARER, method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, _, body = get(port, "/nope", BEARER, method="POST")
    assert status == 404 and b"MCP at /mcp" in body, "an MCP client sent to a wrong path learns where /mcp is"
    assert get(port, "/nope", method="POST")[0] == 401


def test_the_vendored_chart_library_and_its_licence_are_served_and_nothing_else_of_the_package(daemon) -> None:
    port, _ = daemon
    status, headers, body = get(port, "/dashboard/static/vendor/uPlot.iife.min.js", BEARER)
    assert status == 200 and headers["content-type"].startswith("text/javascript") and b"uPlot" in body
    licence = get(port, "/dashboard/static/vendor/uPlot.LICENSE", BEARER)
    assert licence[0] == 200 and b"MIT License" in licence[2]
    for path in ("/dashboard/static/../_app.py", "/dashboard/static/..%2f_app.py", "/dashboard/static/index.html",
                 "/dashboard/static/vendor/../../_state.py", "/dashboard/static/nope.js", "/etc/passwd"):
        assert get(port, path, BEARER)[0] == 404, path


def test_the_event_stream_starts_with_a_snapshot_and_sends_updates_of_what_changed(daemon) -> None:
    port, _ = daemon
    swarm = call(port, "swarm_init", {"topology": "ring", "maxAgents": 4, "name": "watched"})["swarm"]["swarm_id"]
    with open_events(port, BEARER) as (status, stream):
        assert status == 200
        first = stream.until("snapshot")
        assert any(s["id"] == swarm and s["agents_total"] == 0 for s in first["swarms"])
        assert {"memory", "neural", "engine", "daemon"} <= set(first["figures"])
        agent = call(port, "agent_spawn", {"swarmId": swarm, "type": "coder"})["agent"]["agent_id"]
        update = stream.until("update", lambda d: swarm in d["swarms"])
        card = update["swarms"][swarm]
        assert [a["id"] for a in card["agents"]] == [agent] and card["agents"][0]["state"] == "idle"
        assert ["queen", agent] in card["graph"]["edges"]
        assert any(e["kind"] == "agent_spawned" and e["agent_id"] == agent for e in update["events"])


def test_a_daemon_serves_at_most_its_limit_of_pages_at_once(daemon) -> None:
    port, _ = daemon
    with open_events(port, BEARER) as (one, a), open_events(port, BEARER) as (two, b):
        assert (one, two) == (200, 200)
        a.until("snapshot")
        b.until("snapshot")
        status, headers, body = get(port, "/dashboard/api/events", BEARER)
        assert status == 503 and headers["retry-after"] == "5" and b"dashboard_max_streams" in body
    with open_events(port, BEARER) as (again, c):
        assert again == 200, "a closed page gives its place back"
        c.until("snapshot")


def test_a_daemon_with_a_page_open_still_stops_promptly_and_cleanly(tmp_path: Path) -> None:
    with tcp_server(tmp_path) as (port, process), open_events(port) as (status, stream):
        assert status == 200
        stream.until("snapshot")
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=15) == 0
        except subprocess.TimeoutExpired:
            pytest.fail("the daemon did not stop within 15 s while a dashboard page was open")
        with pytest.raises((EOFError, OSError)):
            while True:
                stream.next()


async def test_a_page_that_falls_behind_gets_a_fresh_snapshot_not_a_replay(tmp_path: Path) -> None:
    from swarm_mcp.dashboard._app import QUEUE

    async with running_app(tmp_path) as (app, _):
        dashboard = DashboardApp(app, hosts=["127.0.0.1:1"], origins=[], token=None, max_streams=1)
        sent: list[bytes] = []
        first_sent, release, second_sent, gone = anyio.Event(), anyio.Event(), anyio.Event(), anyio.Event()

        async def send(message: Any) -> None:  # a page that stops reading after the first snapshot
            body = message.get("body", b"")
            if body.startswith(b"event:"):
                sent.append(body)
                if len(sent) == 1:
                    first_sent.set()
                    await release.wait()
                elif len(sent) == 2:
                    second_sent.set()

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        scope = {"type": "http", "method": "GET", "path": "/dashboard/api/events", "headers": [(b"host", b"127.0.0.1:1")]}
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(dashboard, scope, receive, send)
                await first_sent.wait()
                for n in range(QUEUE + 10):
                    app.feed.publish("memory_written", {"namespace": "default", "key": f"k{n}", "version": 1})
                release.set()
                await second_sent.wait()
                gone.set()
        assert [b.split(b"\n", 1)[0] for b in sent] == [b"event: snapshot", b"event: snapshot"]
        assert len(sent[1]) < 200_000, "a snapshot is bounded, whatever the backlog was"
        assert dashboard.streams == 0
