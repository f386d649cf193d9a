"""The owner's lifecycle in process: what keeps it busy, when it stops by itself, whom it hands over to."""

from __future__ import annotations

from pathlib import Path

import anyio
from support import running_app

from swarm_mcp.lifecycle import OwnerRole, busy_with, owner_status, stop_when_idle


async def test_an_owner_with_no_client_and_no_running_work_stops_after_its_idle_timeout(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _), anyio.create_task_group() as tg:
        app.transports.opened("attached")
        tg.start_soon(stop_when_idle, app, 0.2)
        with anyio.move_on_after(0.5):
            await app.stopping.wait()
        assert not app.stopping.is_set(), "a connected client keeps it running"
        app.transports.closed("attached")
        with anyio.fail_after(10):
            await app.stopping.wait()
    assert app.stopper.reason == "idle for 0.2 s (no client, no running work)"


async def test_a_claimed_lease_counts_as_running_work(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _):
        swarm, _ = await app.swarm.create_swarm(topology="mesh", max_agents=4, strategy=None)
        await app.swarm.spawn(swarm.id, "coder")
        await app.swarm.board.orchestrate("one module", subtasks=[{"id": "s1", "description": "Implement it"}])
        assert busy_with(app) is None
        claim = await app.swarm.board.claim()
        assert claim is not None
        assert busy_with(app) == "1 running subtasks"
        assert owner_status(app)["work"] == {"running_subtasks": 1, "claude_workers": 0, "claude_waiting": 0}


def test_only_a_detached_owner_without_tcp_hands_over_and_only_to_a_newer_version() -> None:
    daemon, stdio, server = OwnerRole("daemon", 300.0), OwnerRole("stdio"), OwnerRole("server")
    assert daemon.hands_over_to("0.2.0", "0.1.0", serves_tcp=False)
    assert not daemon.hands_over_to("0.1.0", "0.1.0", serves_tcp=False)
    assert not daemon.hands_over_to("0.2.0", "0.1.0", serves_tcp=True)  # its TCP port is its user's
    assert not stdio.hands_over_to("0.2.0", "0.1.0", serves_tcp=False)  # its own client would lose its server
    assert not server.hands_over_to("0.2.0", "0.1.0", serves_tcp=False)
