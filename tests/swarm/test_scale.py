"""Ten thousand agents spawned with 64 calls in flight: no crash, every id unique, all listed."""

from __future__ import annotations

from pathlib import Path

import anyio
from support import mcp_client


async def test_ten_thousand_spawns_with_64_in_flight_give_unique_agents_that_are_all_listed(tmp_path: Path) -> None:
    total, in_flight = 10_000, 64
    async with mcp_client(tmp_path, swarm_learning=False) as (client, app):
        await client.call_tool("swarm_init", {"topology": "mesh", "maxAgents": total})
        ids: list[str] = []

        async def spawner(first: int) -> None:
            for _ in range(first, total, in_flight):
                result = await client.call_tool("agent_spawn", {"type": "coder"})
                assert not result.is_error, result.content[0].text
                ids.append(result.structured_content["agent"]["agent_id"])

        async with anyio.create_task_group() as tg:
            for first in range(in_flight):
                tg.start_soon(spawner, first)
        listed: list[str] = []
        cursor = None
        while True:
            page = (await client.call_tool("agent_list", {"limit": 1000, **({"cursor": cursor} if cursor else {})})).structured_content
            listed += [a["agent_id"] for a in page["agents"]]
            if not (cursor := page["next_cursor"]):
                break
        refused = await client.call_tool("agent_spawn", {"type": "coder"})
        await app.swarm.persist.commit()
        stored = 0
        after = None
        while rows := await app.store.agents.list(limit=1000, after=after):
            stored += len(rows)
            after = rows[-1].id
    assert len(ids) == len(set(ids)) == total
    assert sorted(listed) == sorted(ids) and stored == total
    assert refused.is_error and "maxAgents" in refused.content[0].text
