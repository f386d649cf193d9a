"""Helpers for the surface tests: the SDK's client on a daemon App, and a swarm at work."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from swarm_mcp.app import App

__all__ = ("a_swarm_at_work", "body", "client_of")


@asynccontextmanager
async def client_of(app: App, registry: Any, mode: str = "legacy", **kwargs: Any) -> AsyncIterator[Any]:
    from mcp import Client

    from swarm_mcp.sdk_server import build_sdk_server

    async with Client(build_sdk_server(app, registry, transport="memory"), mode=mode, **kwargs) as client:  # type: ignore[arg-type]
        yield client


def body(result: Any, index: int = 0) -> Any:
    return json.loads(result.contents[index].text)


async def a_swarm_at_work(app: App) -> tuple[str, list[str], str]:
    """A round-robin ring of three agents, a two-step task whose first step the coder has done."""
    swarm, _ = await app.swarm.create_swarm(topology="ring", max_agents=4, strategy=None, name="builders",
                                            routing="round_robin")  # the first subtask goes to the coder
    agents = [(await app.swarm.spawn(swarm.id, kind)).id for kind in ("coder", "tester", "documenter")]
    task = await app.swarm.board.orchestrate("Build the importer, then test it", swarm_id=swarm.id, subtasks=[
        {"id": "build", "description": "Build the CSV importer", "type": "code"},
        {"id": "test", "description": "Test the importer", "type": "testing", "dependsOn": ["build"]}])
    claim = await app.swarm.board.claim(swarm_id=swarm.id)
    assert claim is not None
    await app.swarm.board.complete(claim.subtask.id, {"files": ["importer.py"]}, quality=0.9)
    return swarm.id, agents, task.id
