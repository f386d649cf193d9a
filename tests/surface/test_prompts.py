"""Prompts and completions through the MCP SDK's client: the three prompts rendered from live
state, their argument errors, and completions of ids, namespaces, keys and words."""

from __future__ import annotations

from pathlib import Path

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError
from support import running_app
from surface_support import a_swarm_at_work, client_of

PROMPT = types.PromptReference
TEMPLATE = types.ResourceTemplateReference


async def test_the_three_prompts_are_listed_with_their_arguments(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry), client_of(app, registry) as client:
        prompts = (await client.list_prompts()).prompts
    assert [(p.name, [(a.name, a.required) for a in p.arguments or []]) for p in prompts] == [
        ("orchestrate", [("objective", True), ("topology", False)]),
        ("work", [("swarmId", False), ("capabilities", False)]),
        ("review", [("taskId", True)]),
    ]
    assert all(p.description and p.title for p in prompts)


async def test_orchestrate_asks_for_an_explicit_plan_for_task_orchestrate_and_names_the_swarms_there_are(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm_id, _, _ = await a_swarm_at_work(app)
        async with client_of(app, registry) as client:
            designed = await client.get_prompt("orchestrate", {"objective": "Port the CLI to Rust"})
            ringed = await client.get_prompt("orchestrate", {"objective": "Port the CLI to Rust", "topology": "ring"})
    [message] = designed.messages
    text = message.content.text
    assert message.role == "user" and "Port the CLI to Rust" in text
    assert "swarm_init with objective" in text and "task_orchestrate" in text and '"dependsOn"' in text
    assert f"{swarm_id} (builders): ring, 3 agents, round_robin routing" in text
    assert 'topology "ring"' in ringed.messages[0].content.text


async def test_work_is_the_claim_do_complete_loop_narrowed_to_a_swarm_and_capabilities(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm_id, _, _ = await a_swarm_at_work(app)
        async with client_of(app, registry) as client:
            text = (await client.get_prompt("work", {"swarmId": swarm_id, "capabilities": "code, testing"})).messages[0].content.text
            with pytest.raises(MCPError) as unknown:
                await client.get_prompt("work", {"swarmId": "swarm-nope"})
    assert f'"swarmId":"{swarm_id}"' in text and '"capabilities":["code","testing"]' in text
    assert "task_claim" in text and "task_complete" in text and "task_heartbeat" in text and "task_fail" in text
    assert unknown.value.error.code == -32602 and "swarm_status" in unknown.value.error.message


async def test_review_gathers_a_finished_tasks_results_and_refuses_one_still_running(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm_id, _, task_id = await a_swarm_at_work(app)
        async with client_of(app, registry) as client:
            with pytest.raises(MCPError) as running:
                await client.get_prompt("review", {"taskId": task_id})
            claim = await app.swarm.board.claim(swarm_id=swarm_id)
            assert claim is not None
            await app.swarm.board.complete(claim.subtask.id, "12 tests pass")
            review = (await client.get_prompt("review", {"taskId": task_id})).messages[0].content.text
    assert running.value.error.code == -32602 and "1/2 subtasks finished" in running.value.error.message
    assert f"Review task {task_id}, which has completed" in review
    assert '{"files":["importer.py"]}' in review and "12 tests pass" in review and "quality from 0 to 1" in review


async def test_prompt_argument_mistakes_are_invalid_params_errors_that_say_what_is_expected(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry), client_of(app, registry) as client:
        messages = []
        for name, arguments in (("orchestrate", {}), ("orchestrate", {"objective": "x", "topology": "blob"}),
                                ("review", {"taskId": "task-nope"}), ("nope", {}), ("work", {"swarm": "s"})):
            with pytest.raises(MCPError) as refused:
                await client.get_prompt(name, arguments)
            assert refused.value.error.code == -32602
            messages.append(refused.value.error.message)
    assert "needs argument 'objective'" in messages[0] and "mesh, hierarchical, ring, star" in messages[1]
    assert "each word fills one argument" in messages[1], "what Claude Code's slash commands do to a long objective"
    assert "No task with id 'task-nope'" in messages[2] and "orchestrate, work, review" in messages[3]
    assert "no argument 'swarm'" in messages[4]


async def test_completions_offer_ids_topologies_capabilities_namespaces_and_keys(tmp_path: Path) -> None:
    async with running_app(tmp_path, swarm_learning=False) as (app, registry):
        swarm_id, agents, task_id = await a_swarm_at_work(app)
        for n in range(150):
            await app.store.put("docs", f"page-{n:03}", n)
        await app.store.put("drafts", "x", 1)
        async with client_of(app, registry, "auto") as client:
            async def values(ref: types.PromptReference | types.ResourceTemplateReference, name: str, typed: str,
                             context: dict[str, str] | None = None) -> types.Completion:
                return (await client.complete(ref, {"name": name, "value": typed}, context)).completion

            topology = await values(PROMPT(type="ref/prompt", name="orchestrate"), "topology", "h")
            swarms = await values(PROMPT(type="ref/prompt", name="work"), "swarmId", "")
            words = await values(PROMPT(type="ref/prompt", name="work"), "capabilities", "code, te")
            tasks = await values(PROMPT(type="ref/prompt", name="review"), "taskId", "task-")
            agent = await values(TEMPLATE(type="ref/resource", uri="swarm://agents/{agentId}"), "agentId", agents[1][:8])
            namespaces = await values(TEMPLATE(type="ref/resource", uri="memory://{namespace}/{key}"), "namespace", "d")
            keys = await values(TEMPLATE(type="ref/resource", uri="memory://{namespace}/{key}"), "key", "page-1",
                                {"namespace": "docs"})
            many = await values(TEMPLATE(type="ref/resource", uri="memory://{namespace}/{key}"), "key", "",
                                {"namespace": "docs"})
            foreign = await values(PROMPT(type="ref/prompt", name="test_prompt_with_arguments"), "arg1", "par")
    assert topology.values == ["hierarchical"] and swarms.values == [swarm_id] and tasks.values == [task_id]
    assert words.values == ["code, testing"]
    assert set(agents) >= set(agent.values) and agents[1] in agent.values
    assert namespaces.values == ["docs", "drafts"]
    assert keys.values == [f"page-1{n:02}" for n in range(50)] and keys.has_more is False
    assert len(many.values) == 100 and many.has_more is True
    assert foreign.values == [] and foreign.total == 0
