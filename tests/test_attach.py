"""One swarm per data dir: every stdio `serve` on it shares one owner. Real processes and sockets:
the first session owns the data dir in process, later ones attach through a relay, an attached
session takes over when the owner goes away, and an owner left without clients stops by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from support import REPO_ROOT, free_port, log_events, server_env, spawn_stdio, wait_for_port

from swarm_mcp.attach import wait_for_exit
from swarm_mcp.client import LineClient, McpError, initialize_params, modern_meta
from swarm_mcp.datadir import read_lock_owner

T = TypeVar("T")
IDLE = "20"  # a detached owner a failing test leaves behind stops on its own soon


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    owner = read_lock_owner(tmp_path / "swarm-mcp.lock").get("pid")
    if isinstance(owner, int) and not wait_for_exit(owner, 0):
        cli("stop", home=tmp_path)


def cli(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swarm_mcp", *args], env=server_env(home, **env), capture_output=True,
                          text=True, timeout=120, cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL)


def session(home: Path, *args: str, **env: str) -> LineClient:
    client = spawn_stdio(home, *args, **{"SWARM_MCP_DAEMON_IDLE_TIMEOUT": IDLE, **env})
    client.initialize()
    return client


def call(client: LineClient, tool: str, **arguments: Any) -> dict[str, Any]:
    result = client.call_tool(tool, arguments)
    assert not result["isError"], result["content"][0]["text"]
    return dict(result["structuredContent"])


def retried(attempt: Callable[[], T]) -> T:
    """What a client does with a retryable error (a call that was running when its owner died): once more."""
    try:
        return attempt()
    except McpError as exc:
        assert exc.error.get("data", {}).get("retryable"), exc.error
        return attempt()


def owner_pid(home: Path) -> int:
    pid = read_lock_owner(home / "swarm-mcp.lock").get("pid")
    assert isinstance(pid, int), read_lock_owner(home / "swarm-mcp.lock")
    return pid


def status(home: Path, **env: str) -> dict[str, Any]:
    done = cli("status", "--json", home=home, **env)
    assert done.returncode == 0, done.stderr
    return dict(orjson.loads(done.stdout))


def stored(client: LineClient, key: str) -> Any:
    entry = call(client, "memory_usage", action="retrieve", key=key)
    return entry["entry"]["value"] if entry["found"] else None


# -- attach -------------------------------------------------------------------------------------


def test_two_stdio_sessions_writing_spawning_and_claiming_at_once_each_see_the_others_results(home: Path) -> None:
    with session(home) as first, session(home) as second:
        assert owner_pid(home) == first.process.pid  # type: ignore[union-attr]  # the first owns it, in process
        swarm_id = call(first, "swarm_init", topology="mesh", maxAgents=16)["swarm"]["swarm_id"]
        failures: list[BaseException] = []

        def work(name: str, client: LineClient) -> None:
            try:
                for i in range(15):
                    call(client, "memory_usage", action="store", key=f"{name}-{i}", value=i)
                    if i % 5 == 0:
                        call(client, "agent_spawn", type="coder", swarmId=swarm_id, name=f"{name}-agent-{i}")
            except BaseException as exc:  # reported below
                failures.append(exc)

        both = [threading.Thread(target=work, args=(name, client)) for name, client in (("first", first), ("second", second))]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
        assert not failures, failures
        assert stored(first, "second-14") == 14 and stored(second, "first-14") == 14
        names = {a["name"] for a in call(second, "agent_list", swarmId=swarm_id)["agents"]}
        assert names == {f"{who}-agent-{i}" for who in ("first", "second") for i in (0, 5, 10)}

        plan = [{"id": f"s{i}", "description": f"Implement module {i}"} for i in range(12)]
        task_id = call(first, "task_orchestrate", task="twelve modules", subtasks=plan)["task"]["task_id"]
        claimed: dict[str, list[str]] = {"first": [], "second": []}

        def claim(name: str, client: LineClient) -> None:
            try:
                while (got := call(client, "task_claim", swarmId=swarm_id))["claimed"]:
                    claimed[name].append(got["subtask_id"])
                    call(client, "task_complete", taskId=got["subtask_id"], result=f"{name} did it",
                         leaseId=got["lease"]["lease_id"])
            except BaseException as exc:  # reported below
                failures.append(exc)

        both = [threading.Thread(target=claim, args=(name, client)) for name, client in (("first", first), ("second", second))]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
        assert not failures, failures
        assert not set(claimed["first"]) & set(claimed["second"]), "a subtask was claimed twice"
        assert len(claimed["first"]) + len(claimed["second"]) == 12
        assert call(second, "task_status", taskId=task_id)["task"]["state"] == "completed"
        results = {r["result"] for r in call(first, "task_results", taskId=task_id)["results"]}
        assert results <= {"first did it", "second did it"}


def test_the_owner_sees_each_attached_session_as_its_own_mcp_session(home: Path) -> None:
    with session(home) as owner, LineClient.spawn([sys.executable, "-m", "swarm_mcp", "serve"], env=server_env(home),
                                                  cwd=str(REPO_ROOT), stderr=subprocess.DEVNULL) as old, \
            LineClient.spawn([sys.executable, "-m", "swarm_mcp", "serve", "--tools", "memory"], env=server_env(home),
                             cwd=str(REPO_ROOT), stderr=subprocess.DEVNULL) as modern:
        assert old.request("initialize", initialize_params("2024-11-05"))["protocolVersion"] == "2024-11-05"
        old.notify("notifications/initialized")
        listed = modern.request("tools/list", {"_meta": modern_meta()})
        assert {t["name"] for t in listed["tools"]} == {"memory_usage"}  # its own `--tools`
        assert listed["resultType"] == "complete"
        sessions = sorted(status(home)["attached_sessions"], key=lambda s: s["era"])
        assert owner.process is not None
    assert [(s["era"], s["protocol_version"], s["tools"]) for s in sessions] == [
        ("legacy", "2024-11-05", None), ("modern", "2026-07-28", "memory")]


def test_progress_cancellation_and_notifications_pass_through_the_relay(home: Path) -> None:
    with session(home) as _owner, session(home) as attached:
        attached.send({"jsonrpc": "2.0", "id": "watch", "method": "tools/call", "params": {
            "name": "swarm_monitor", "arguments": {"duration": 60, "interval": 0.1}, "_meta": {"progressToken": "p-1"}}})
        progress = attached.receive()
        assert progress["method"] == "notifications/progress" and progress["params"]["progressToken"] == "p-1"
        attached.notify("notifications/cancelled", {"requestId": "watch", "reason": "enough"})
        assert attached.request("ping") == {}  # answered; the cancelled call never is
        assert all(n.get("id") != "watch" for n in attached.notifications)


# -- takeover -----------------------------------------------------------------------------------


def test_kill_9_of_the_owner_hands_the_session_to_a_new_owner_and_loses_no_acknowledged_write(home: Path) -> None:
    with session(home) as owner, session(home) as attached:
        killed = owner_pid(home)
        assert owner.process is not None and killed == owner.process.pid
        for i in range(20):
            call(attached, "memory_usage", action="store", key=f"default-{i}", value=i)  # acknowledged in memory
        call(attached, "memory_usage", action="store", key="durable", value="committed", durable=True)
        attached.send({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {
            "name": "swarm_monitor", "arguments": {"duration": 60, "interval": 0.1}, "_meta": {"progressToken": 1}}})
        assert attached.receive()["method"] == "notifications/progress"  # the call is running on the owner

        os.kill(killed, signal.SIGKILL)
        while (reply := attached.receive()).get("id") != 77:
            assert reply["method"] == "notifications/progress"
        assert reply["error"]["code"] == -32000 and reply["error"]["data"] == {"retryable": True, "reason": "owner_lost"}
        assert "retry" in reply["error"]["message"]

        assert [stored(attached, f"default-{i}") for i in range(20)] == list(range(20))
        assert stored(attached, "durable") == "committed"
        now = status(home)
        assert now["pid"] not in (killed, attached.process.pid) and now["kind"] == "daemon"  # type: ignore[union-attr]
        assert [s["pid"] for s in now["attached_sessions"]] == [attached.process.pid]  # type: ignore[union-attr]
        assert now["attached_sessions"][0]["client"]["name"] == "swarm-mcp-client"  # the handshake was replayed


def test_when_a_detached_owner_dies_one_session_takes_over_and_the_others_reattach(home: Path) -> None:
    started = cli("serve", "--daemon", home=home, SWARM_MCP_DAEMON_IDLE_TIMEOUT=IDLE)
    assert started.returncode == 0 and "serves" in started.stderr, started.stderr
    first_owner = owner_pid(home)
    with session(home) as a, session(home) as b, session(home) as c:
        call(a, "memory_usage", action="store", key="before", value="kept", durable=True)
        os.kill(first_owner, signal.SIGKILL)
        results = {}

        def use(name: str, client: LineClient) -> None:
            try:
                results[name] = retried(lambda: stored(client, "before"))
                retried(lambda: call(client, "memory_usage", action="store", key=name, value=name))
            except BaseException as exc:  # reported below
                results[name] = exc

        threads = [threading.Thread(target=use, args=item) for item in (("a", a), ("b", b), ("c", c))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == {"a": "kept", "b": "kept", "c": "kept"}
        assert [stored(a, name) for name in "abc"] == ["a", "b", "c"]
        now = status(home)
        assert now["pid"] != first_owner and len(now["attached_sessions"]) == 3  # one new owner, all three on it
        started_by = [e for e in log_events((home / "server.stderr").read_bytes()) if e["event"] == "owner_started"]
        assert len(started_by) == 1


def test_a_session_from_a_newer_version_takes_over_from_an_older_owner(home: Path) -> None:
    old = {"SWARM_MCP_REPORT_VERSION": "0.0.1"}
    assert cli("serve", "--daemon", home=home, SWARM_MCP_DAEMON_IDLE_TIMEOUT=IDLE, **old).returncode == 0
    older_owner = owner_pid(home)
    with session(home, **old) as older:
        call(older, "memory_usage", action="store", key="from-0.0.1", value=1, durable=True)
        assert older.call_tool("features_detect", {})["structuredContent"]  # served by 0.0.1
        with session(home) as newer:
            assert wait_for_exit(older_owner, 60), "the older owner handed over and exited"
            assert stored(newer, "from-0.0.1") == 1
            now = status(home)
            assert now["version"] != "0.0.1" and now["pid"] != older_owner
            assert stored(older, "from-0.0.1") == 1  # the older session re-attached to the newer owner
            assert len(status(home)["attached_sessions"]) == 2
    events = log_events((home / "swarm-mcp.log").read_bytes())
    assert any(e["event"] == "handing_over" and e["to_version"] != "0.0.1" for e in events)


# -- lifecycle ----------------------------------------------------------------------------------


def test_after_all_clients_exit_no_process_remains_once_the_idle_timeout_has_passed(home: Path) -> None:
    first, second = session(home, SWARM_MCP_DAEMON_IDLE_TIMEOUT="1"), session(home, SWARM_MCP_DAEMON_IDLE_TIMEOUT="1")
    pids = [first.process.pid, second.process.pid]  # type: ignore[union-attr]
    call(first, "memory_usage", action="store", key="k", value="v")
    first.close()  # the owner's own client leaves: it stops, and the attached session starts a detached owner
    assert stored(second, "k") == "v"
    second.close()
    daemon = [e["owner_pid"] for e in log_events((home / "server.stderr").read_bytes()) if e["event"] == "owner_started"]
    assert len(daemon) == 1
    for pid in [*pids, daemon[0]]:
        assert wait_for_exit(pid, 30), f"pid {pid} still runs"
    stopping = [e for e in log_events((home / "swarm-mcp.log").read_bytes()) if e["event"] == "daemon_stopping"]
    assert stopping[-1]["reason"] == "idle for 1 s (no client, no running work)"
    assert not (home / "swarm-mcp.sock").exists()
    assert cli("status", home=home).returncode == 1


def test_a_foreground_server_with_idle_exit_stops_once_its_last_client_leaves(home: Path) -> None:
    port = free_port()
    with open(home / "server.stderr", "wb") as err:
        server = subprocess.Popen([sys.executable, "-m", "swarm_mcp", "serve", "--tcp", f"127.0.0.1:{port}", "--idle-exit"],
                                  env=server_env(home, SWARM_MCP_DAEMON_IDLE_TIMEOUT="0.5"), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=err, cwd=str(REPO_ROOT))
    try:
        wait_for_port(port, server, home)  # it owns the data dir by then
        with LineClient.connect("127.0.0.1", port) as remote, session(home, SWARM_MCP_DAEMON_IDLE_TIMEOUT="0.5") as attached:
            remote.initialize()  # a client from the start, so it cannot go idle before the session attaches
            assert status(home)["pid"] == server.pid
            call(attached, "memory_usage", action="store", key="k", value="v")
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    stopped = [e for e in log_events((home / "server.stderr").read_bytes()) if e["event"] == "daemon_stopping"]
    assert [e["reason"] for e in stopped] == ["idle for 0.5 s (no client, no running work)"]


def test_serve_daemon_status_and_stop(home: Path) -> None:
    started = cli("serve", "--daemon", home=home)
    assert started.returncode == 0, started.stderr
    pid = owner_pid(home)
    assert cli("serve", "--daemon", home=home).stderr.strip().endswith(f"already served by pid {pid}")
    with session(home) as client:
        call(client, "memory_usage", action="store", key="k", value="v")
        shown = status(home)
        text = cli("status", home=home).stdout
    assert shown["pid"] == pid and shown["kind"] == "daemon" and shown["data_dir"] == str(home)
    assert shown["version"] and shown["uptime_seconds"] > 0 and shown["idle"]["timeout_seconds"] == 300
    assert shown["transports"]["attached"]["endpoint"] == str(home / "swarm-mcp.sock")
    assert f"pid {pid} (daemon)" in text and "attached    1 session(s)" in text
    stopped = cli("stop", home=home)
    assert stopped.returncode == 0 and f"stopped pid {pid}" in stopped.stderr
    assert wait_for_exit(pid, 0)
    gone = cli("status", "--json", home=home)
    assert gone.returncode == 1 and orjson.loads(gone.stdout)["running"] is False
    reasons = [e["reason"] for e in log_events((home / "swarm-mcp.log").read_bytes()) if e["event"] == "daemon_stopped"]
    assert reasons[-1].startswith("swarm-mcp stop (pid ")


def test_a_daemon_with_tcp_serves_tcp_clients_and_attached_sessions_one_state(home: Path) -> None:
    started = cli("serve", "--daemon", "--tcp", "127.0.0.1:0", home=home, SWARM_MCP_DAEMON_IDLE_TIMEOUT=IDLE)
    assert started.returncode == 0, started.stderr
    endpoints = status(home)["transports"]
    url = endpoints["tcp-lines"]["endpoint"]
    assert endpoints["http"]["endpoint"].startswith("http://127.0.0.1:") and url.startswith("tcp://127.0.0.1:")
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    with session(home) as attached, LineClient.connect(host, int(port)) as remote:
        remote.initialize()
        call(remote, "memory_usage", action="store", key="over-tcp", value=1)
        assert stored(attached, "over-tcp") == 1
        # its TCP port is its user's: a newer session attaches instead of taking it over
        with session(home, SWARM_MCP_REPORT_VERSION="999.0.0") as newer:
            assert stored(newer, "over-tcp") == 1
            assert status(home)["version"] != "999.0.0"
    assert cli("stop", home=home).returncode == 0


def test_with_a_token_status_and_attaching_need_it(home: Path) -> None:
    token = "attach-token-for-tests-0123456789abcdef"
    with session(home, SWARM_MCP_TOKEN=token) as _owner, session(home, SWARM_MCP_TOKEN=token) as attached:
        assert stored(attached, "nothing") is None
        refused_status = cli("status", home=home)
        assert refused_status.returncode == 1 and "Unauthorized" in refused_status.stderr
        assert status(home, SWARM_MCP_TOKEN=token)["attached_sessions"]
        refused = spawn_stdio(home)  # no token: refused before anything is relayed
        assert refused.process is not None and refused.process.wait(timeout=30) == 1
        refused.close()
    assert b"refused this session: Unauthorized" in (home / "server.stderr").read_bytes()


def test_with_attach_off_a_second_stdio_server_exits_naming_the_owner(home: Path) -> None:
    with session(home) as owner:
        second = subprocess.run([sys.executable, "-m", "swarm_mcp", "serve", "--set", "attach=false"], env=server_env(home),
                                input=b"", capture_output=True, timeout=30, cwd=str(REPO_ROOT))
        assert owner.process is not None
        assert second.returncode == 3 and f"pid {owner.process.pid}" in second.stderr.decode() and second.stdout == b""


def test_an_attached_session_imports_nothing_heavy(home: Path) -> None:
    with session(home) as _owner:
        with open(home / "imports.txt", "wb") as err:
            attached = LineClient.spawn([sys.executable, "-X", "importtime", "-m", "swarm_mcp", "serve"],
                                        env=server_env(home), stderr=err, cwd=str(REPO_ROOT))
        with attached:
            attached.initialize()
            assert len(attached.request("tools/list")["tools"]) > 20
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in (home / "imports.txt").read_text().splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "swarm_mcp" in imported and "orjson" in imported
    heavy = {"mcp", "pydantic", "jax", "numpy", "sqlite3", "_sqlite3", "aiosqlite", "anyio", "asyncio", "structlog", "uvicorn"}
    assert not imported & heavy, sorted(imported & heavy)
