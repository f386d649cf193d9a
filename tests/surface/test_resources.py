"""Resources through the MCP SDK's own client, in both protocol eras, on a real daemon App:
listing with cursors, templates, reading each kind, the spec's not-found errors, size bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError
from support import running_app
from surface_support import a_swarm_at_work, body, client_of

from swarm_mcp.surface._resources import PAGE


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_every_swarm_task_agent_and_namespace_is_listed_once_across_pages(tmp_path: Path, mode: str) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm_id, agents, task_id = await a_swarm_at_work(app)
        big, _ = await app.swarm.create_swarm(topology="star", max_agents=300, strategy=None)
        for _ in range(2 * PAGE):
            agents.append((await app.swarm.spawn(big.id, "analyst")).id)
        await app.store.put("notes/2026", "plan", {"step": 1})
        async with client_of(app, registry, mode) as client:
            uris: list[str] = []
            cursor, pages = None, 0
            while True:
                page = await client.list_resources(cursor=cursor) if cursor else await client.list_resources()
                assert len(page.resources) <= PAGE
                uris += [r.uri for r in page.resources]
                pages += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
    assert pages == 3 and len(uris) == len(set(uris))
    assert set(uris) == {f"swarm://swarms/{swarm_id}", f"swarm://swarms/{big.id}", f"swarm://tasks/{task_id}",
                         *(f"swarm://agents/{a}" for a in agents), "memory://notes%2F2026"}


async def test_a_cursor_this_server_did_not_write_is_an_invalid_params_error(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry), client_of(app, registry) as client:
        with pytest.raises(MCPError) as refused:
            await client.list_resources(cursor="bogus")
    assert refused.value.error.code == -32602 and "nextCursor" in refused.value.error.message


async def test_the_templates_name_every_kind_of_resource(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry), client_of(app, registry) as client:
        templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == [
        "swarm://swarms/{swarmId}", "swarm://tasks/{taskId}", "swarm://agents/{agentId}", "memory://{namespace}",
        "memory://{namespace}/{key}", "neural://networks/{networkId}"]
    assert all(t.description for t in templates)


async def test_a_swarm_reads_as_its_graph_agents_queue_tasks_and_routing_success(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm_id, agents, task_id = await a_swarm_at_work(app)
        async with client_of(app, registry) as client:
            swarm = body(await client.read_resource(f"swarm://swarms/{swarm_id}"))
    assert swarm["name"] == "builders" and swarm["topology"] == "ring"
    assert swarm["graph"]["edges"] == [["queen", agents[0]], [agents[0], agents[1]], [agents[1], agents[2]],
                                       [agents[2], agents[0]]]
    assert [a["agent_id"] for a in swarm["agent_list"]] == agents
    assert swarm["queue"]["assigned_total"] == 1 and swarm["queue"]["pending_total"] == 0
    assert swarm["learning"] == {"routing": "round_robin", "window": 20, "success_by_window": [1.0], "attempts_counted": 1,
                                 "success_rate": 1.0}
    assert swarm["task_list"][0]["task_id"] == task_id and swarm["task_list"][0]["uri"] == f"swarm://tasks/{task_id}"


async def test_a_task_reads_as_its_plan_with_each_subtasks_state_and_result(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        _, _, task_id = await a_swarm_at_work(app)
        async with client_of(app, registry) as client:
            read = await client.read_resource(f"swarm://tasks/{task_id}")
    task = body(read)
    assert read.contents[0].mime_type == "application/json"
    assert task["state"] == "running" and task["finished"] is False
    build, test = task["subtasks"]
    assert build["state"] == "completed" and build["result"] == {"files": ["importer.py"]} and build["quality"] == 0.9
    assert test["depends_on"] == [build["subtask_id"]] and test["state"] == "assigned" and test["result"] is None
    assert task["analysis"]["plan_shape"]


async def test_an_agent_reads_as_its_spec_metrics_and_recent_experiences(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        _, agents, task_id = await a_swarm_at_work(app)
        async with client_of(app, registry) as client:
            coder = body(await client.read_resource(f"swarm://agents/{agents[0]}"))
    assert coder["spec"]["name"] == "coder-0" and "code" in coder["spec"]["all_capabilities"]
    assert coder["tasks"]["done"] == 1 and coder["learning"] == {"enabled": False, "prediction_accuracy": None,
                                                                  "predictions_judged": 0}
    [experience] = coder["recent_experiences"]
    assert experience["outcome"] == "completed" and experience["subtask_id"] == f"{task_id}.build"
    assert experience["type"] == "code" and experience["quality"] == 0.9


async def test_memory_reads_as_an_entry_or_a_namespaces_keys_with_namespaces_that_hold_slashes(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        await app.store.put("notes/2026", "a/b c", {"text": "hello"}, tags=["x"])
        await app.store.put("notes/2026", "z", 1)
        async with client_of(app, registry) as client:
            listing = body(await client.read_resource("memory://notes%2F2026"))
            entry = body(await client.read_resource(listing["keys"][0]["uri"]))
            typed = body(await client.read_resource("memory://notes%2F2026/a/b c"))
    assert [k["key"] for k in listing["keys"]] == ["a/b c", "z"] and listing["truncated"] is False
    assert listing["keys"][0]["uri"] == "memory://notes%2F2026/a%2Fb%20c"
    assert entry["value"] == {"text": "hello"} and entry["tags"] == ["x"] and entry["version"] == 1
    assert typed == entry | {"accessed": typed["accessed"], "access_count": typed["access_count"]}


@pytest.mark.parametrize(("mode", "code"), [("legacy", -32002), ("auto", -32602)])
async def test_a_missing_resource_gets_the_not_found_error_of_its_protocol_era_with_the_uri(
    tmp_path: Path, mode: str, code: int
) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry), client_of(app, registry, mode) as client:
        errors = []
        for uri in ("swarm://tasks/task-gone", "memory://default/absent", "neural://networks/net-x", "test://static-text",
                    "memory://bad namespace!/k"):
            with pytest.raises(MCPError) as missing:
                await client.read_resource(uri)
            errors.append(missing.value.error)
    assert all(e.code == code and e.data == {"uri": uri} for e, uri in zip(errors, (
        "swarm://tasks/task-gone", "memory://default/absent", "neural://networks/net-x", "test://static-text",
        "memory://bad namespace!/k"), strict=True))
    assert "task_status" in errors[0].message and "memory://default lists its keys" in errors[1].message
    assert "neural_list" in errors[2].message and "templates" in errors[3].message


async def test_a_resource_larger_than_max_response_bytes_is_refused_with_what_to_use_instead(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False, max_response_bytes=4096) as (app, registry):
        await app.store.put("default", "big", "x" * 5000)
        async with client_of(app, registry) as client:
            with pytest.raises(MCPError) as refused:
                await client.read_resource("memory://default/big")
    assert refused.value.error.code == -32600 and "max_response_bytes" in refused.value.error.message
    assert refused.value.error.data["limit"] == 4096


async def test_a_network_reads_as_fann_net_text_and_as_json(tmp_path: Path) -> None:
    from swarm_mcp.neural import create_standard  # noqa: F401 - the network is built through the service

    async with running_app(tmp_path) as (app, registry):
        async with client_of(app, registry) as client:
            created = await client.call_tool("neural_create", {"layers": [2, 3, 1], "networkId": "xor"})
            assert not created.is_error, created.content
            listed = [r.uri for r in (await client.list_resources()).resources]
            read = await client.read_resource("neural://networks/xor")
    net, as_json = read.contents
    assert "neural://networks/xor" in listed
    assert net.mime_type == "text/plain" and net.text.startswith("FANN_FLO_2.1\n") and "layer_sizes=3 4 2 " in net.text
    assert as_json.mime_type == "application/json" and json.loads(as_json.text)["layout"]["sizes"] == [2, 3, 1]
