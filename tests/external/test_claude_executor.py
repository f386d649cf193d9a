"""The `claude` executor end to end: a real daemon hands subtasks to the real Claude Code 2.1.197
binary (sandboxed, offline, its model played by the Messages stand-in), which calls the daemon's
tools back over Streamable HTTP with the worker's bearer token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from external_clients import ClaudeSandbox
from held_standin import HeldStandIn
from messages_standin import MessagesStandIn, running_standin
from process_groups import live_members, wait_group_gone
from support import call, config_for

from swarm_mcp.app import App, open_app
from swarm_mcp.client import HttpClient, McpError
from swarm_mcp.workers._process import KILL_GRACE

pytestmark = pytest.mark.slow


def worker_env(sandbox: ClaudeSandbox, standin: MessagesStandIn) -> dict[str, str]:
    """The daemon's environment as its workers see it: the sandbox, the binary, the stand-in model."""
    return sandbox.env(CLAUDE_BIN=str(sandbox.clients.claude), ANTHROPIC_BASE_URL=standin.base_url,
                       ANTHROPIC_API_KEY="test-key")


@asynccontextmanager
async def daemon(home: Path, sandbox: ClaudeSandbox, standin: MessagesStandIn,
                 **settings: Any) -> AsyncIterator[tuple[Any, App]]:
    """A real daemon App (stdio-only: no TCP port) and an MCP client on it."""
    from mcp import Client

    from swarm_mcp.sdk_server import build_sdk_server
    from swarm_mcp.tools import build_registry

    config = config_for(home, swarm_learning=False, claude_workdir=str(sandbox.cwd), **settings)
    async with open_app(config, environ=worker_env(sandbox, standin)) as app:
        async with Client(build_sdk_server(app, build_registry(app), transport="memory")) as client:
            yield client, app


async def claude_swarm(client: Any, agents: int = 1) -> str:
    swarm = (await call(client, "swarm_init", topology="mesh", maxAgents=4, executor="claude", strategy="balanced",
                        cognitivePattern="convergent"))["swarm"]["swarm_id"]  # routing by load, no exploring
    for _ in range(agents):
        await call(client, "agent_spawn", type="coder", cognitivePattern="convergent")  # convergent: no reviews
    return swarm


def diagnostics(sandbox: ClaudeSandbox, standin: MessagesStandIn, app: App) -> Callable[[], str]:
    return lambda: f"{standin.transcript()}\nexecutor: {app.claude.status()}"


def initialize_status(url: str, token: str | None) -> int:
    """HTTP status of an `initialize` sent to `url` with `token` (200 when it is answered)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with HttpClient(parts.hostname, parts.port, path=parts.path, token=token) as client:
        try:
            client.initialize()
        except McpError as exc:
            return int(exc.code or 0)
    return 200


def first_prompt(standin: MessagesStandIn) -> str:
    """The user turn Claude Code sent the model first: the prompt the executor gave it."""
    for request in standin.requests:
        if isinstance(request.body, dict) and request.body.get("messages"):
            for message in request.body["messages"]:
                if message.get("role") == "user":
                    content = message["content"]
                    return content if isinstance(content, str) else "".join(
                        block.get("text", "") for block in content if isinstance(block, dict))
    raise AssertionError(f"no user turn reached the model\n{standin.transcript()}")


def process_group_gone(pid: int) -> bool:
    return not live_members(pid)


async def wait_for(condition: Callable[[], bool], *, timeout: float, what: Callable[[], str]) -> None:
    """Check `condition` after each short pause until it holds; fail after `timeout` s with `what()`."""
    with anyio.move_on_after(timeout):
        while not condition():
            await anyio.sleep(0.02)
        return
    raise AssertionError(f"timed out after {timeout} s: {what()}")


async def wait_arrived(standin: HeldStandIn, why: Callable[[], str], timeout: float = 60) -> None:
    """Until a Claude run asks the (held) model for its first turn."""
    if not await anyio.to_thread.run_sync(standin.arrived.wait, timeout):
        raise AssertionError(f"no Claude run reached the model within {timeout} s\n{why()}")


# -- the whole path ----------------------------------------------------------------------------


async def test_a_claude_subtask_is_done_by_the_real_binary_reaching_the_daemon_through_its_token_protected_listener(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    marker = f"kept-by-a-claude-worker-{uuid.uuid4()}"
    store = {"action": "store", "key": "executor-e2e", "value": marker, "durable": True}
    standin = MessagesStandIn("mcp__swarm__memory_usage", store, final_text=f"Stored {marker}.")

    with running_standin(standin):
        async with daemon(data, claude_sandbox, standin) as (client, app):
            why = diagnostics(claude_sandbox, standin, app)
            await claude_swarm(client)
            task = (await call(client, "task_orchestrate", task="Keep the release marker where the team can find it",
                               subtasks=[{"id": "keep", "description": f"Store the marker {marker} in swarm memory"}]))
            task_id = task["task"]["task_id"]
            done = (await call(client, "task_status", taskId=task_id, wait=60))["task"]
            results = (await call(client, "task_results", taskId=task_id, format="detailed"))["results"]
            stored = await call(client, "memory_usage", action="retrieve", key="executor-e2e")
            url = app.claude.endpoint.loopback
            assert url is not None, why()
            statuses = [await anyio.to_thread.run_sync(initialize_status, url, token)
                        for token in (None, "w" * 43, app.claude.endpoint.token)]
            served = app.transports.snapshot()

    assert done["state"] == "completed", why()
    [result] = results
    assert result["result"]["text"] == f"Stored {marker}.", why()
    assert result["result"]["claude"]["num_turns"] == 2 and result["result"]["claude"]["seconds"] > 0
    assert stored["entry"]["value"] == marker, "the worker's tool call reached this daemon"
    assert statuses == [401, 401, 200], "no token and a wrong token are refused; the workers' token is accepted"
    assert urlsplit(url).hostname == "127.0.0.1" and served["http-workers"]["endpoint"] == url
    prompt = first_prompt(standin)
    for part in (f"Store the marker {marker} in swarm memory", "Keep the release marker where the team can find it",
                 "## Your role", "a coder agent", "Cognitive pattern: convergent", "mcp__swarm__"):
        assert part in prompt, prompt
    assert list((data / "claude-runs").iterdir()) == [], "the run's MCP config (it holds the token) is removed"
    claude_sandbox.assert_stayed_offline()


# -- limits and cancellation -------------------------------------------------------------------


async def test_a_worker_past_claude_timeout_is_killed_with_its_process_group_and_the_attempt_fails(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    standin = HeldStandIn("mcp__swarm__none", {})  # the model never answers: Claude hangs mid-request

    with running_standin(standin):
        try:
            async with daemon(tmp_path / "data", claude_sandbox, standin, claude_timeout=6) as (client, app):
                why = diagnostics(claude_sandbox, standin, app)
                await claude_swarm(client)
                task_id = (await call(client, "task_orchestrate", task="Wait for the model",
                                      subtasks=[{"id": "hang", "description": "Ask the model"}]))["task"]["task_id"]
                await wait_for(lambda: bool(app.claude.processes), timeout=30, what=why)
                [pid] = app.claude.processes.values()
                await wait_for(lambda: app.claude.runner.counters["timed_out"] == 1, timeout=30, what=why)
                gone = await wait_group_gone(pid)
                [subtask] = (await call(client, "task_status", taskId=task_id))["task"]["subtasks"]
                await call(client, "task_cancel", taskId=task_id)  # no second attempt
        finally:
            standin.release.set()

    assert gone, f"the timed-out worker's process group {pid} is gone"
    assert "ran over claude_timeout (6 s) and was killed" in subtask["reason"], subtask
    assert subtask["attempts"] >= 1 and subtask["state"] in ("assigned", "running"), "the attempt failed and is retried"
    claude_sandbox.assert_stayed_offline()


async def test_task_cancel_kills_the_running_worker_and_its_process_group(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    standin = HeldStandIn("mcp__swarm__none", {})

    with running_standin(standin):
        try:
            async with daemon(tmp_path / "data", claude_sandbox, standin) as (client, app):
                why = diagnostics(claude_sandbox, standin, app)
                await claude_swarm(client)
                task_id = (await call(client, "task_orchestrate", task="Wait for the model",
                                      subtasks=[{"id": "hang", "description": "Ask the model"}]))["task"]["task_id"]
                await wait_arrived(standin, why)
                [pid] = app.claude.processes.values()
                cancelled = await call(client, "task_cancel", taskId=task_id)
                with anyio.fail_after(KILL_GRACE + 2):
                    await wait_for(lambda: process_group_gone(pid) and not app.claude.processes,
                                   timeout=KILL_GRACE + 2, what=why)
                status = app.claude.status()
        finally:
            standin.release.set()

    assert cancelled["state"] == "cancelled" and cancelled["subtasks_cancelled"] == 1
    assert status["stopped"] == 1 and status["running"] == {} and status["succeeded"] == 0
    claude_sandbox.assert_stayed_offline()


async def test_claude_workers_bounds_how_many_workers_run_at_once_and_the_rest_wait_their_turn(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    standin = HeldStandIn("mcp__swarm__none", {})

    with running_standin(standin):
        try:
            async with daemon(tmp_path / "data", claude_sandbox, standin, claude_workers=1) as (client, app):
                why = diagnostics(claude_sandbox, standin, app)
                await claude_swarm(client, agents=2)
                task = (await call(client, "task_orchestrate", task="Two independent questions", subtasks=[
                    {"id": "one", "description": "Ask the model one thing"},
                    {"id": "two", "description": "Ask the model another thing"}]))["task"]
                assert len({s["agent_id"] for s in task["subtasks"]}) == 2, "one subtask per agent: both could start"
                await wait_arrived(standin, why)
                await wait_for(lambda: app.claude.waiting == 1, timeout=10, what=why)
                while_held = app.claude.status()
                standin.release.set()
                done = (await call(client, "task_status", taskId=task["task_id"], wait=60))["task"]
                results = (await call(client, "task_results", taskId=task["task_id"]))["results"]
        finally:
            standin.release.set()

    assert len(while_held["running"]) == 1 and while_held["waiting"] == 1, while_held
    assert done["state"] == "completed", why()
    assert standin.most_in_flight == 1, "the second worker started only after the first had finished"
    assert [r["state"] for r in results] == ["completed", "completed"]
    claude_sandbox.assert_stayed_offline()


async def test_stopping_an_agent_kills_its_worker_and_stopping_the_daemon_kills_the_rest(
    claude_sandbox: ClaudeSandbox, tmp_path: Path
) -> None:
    standin = HeldStandIn("mcp__swarm__none", {})

    with running_standin(standin):
        try:
            async with daemon(tmp_path / "data", claude_sandbox, standin) as (client, app):
                why = diagnostics(claude_sandbox, standin, app)
                await claude_swarm(client, agents=2)
                task = (await call(client, "task_orchestrate", task="Two questions", subtasks=[
                    {"id": "one", "description": "Ask the model one thing"},
                    {"id": "two", "description": "Ask the model another thing"}]))["task"]
                await wait_for(lambda: standin.in_flight == 2, timeout=60, what=why)
                by_agent = {s["agent_id"]: app.claude.processes[s["subtask_id"]] for s in task["subtasks"]}
                (stopped_agent, stopped_pid), (kept_agent, kept_pid) = by_agent.items()
                await call(client, "agent_stop", agentId=stopped_agent)
                stopped_gone = await wait_group_gone(stopped_pid, KILL_GRACE + 2)
                kept_alive = bool(live_members(kept_pid))
        finally:
            standin.release.set()
    daemon_stopped_gone = await wait_group_gone(kept_pid, 2)

    assert stopped_gone, "agent_stop killed its agent's worker"
    assert kept_alive, "the other agent's worker was left alone"
    assert daemon_stopped_gone, "closing the daemon killed the remaining worker"
    claude_sandbox.assert_stayed_offline()
