"""The tool registry: schemas from type hints, and errors the model can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field
from support import running_app
from typing_extensions import TypedDict

from swarm_mcp.errors import NotFound
from swarm_mcp.protocol import CallInfo
from swarm_mcp.tools import ToolContext, ToolRegistry


class Out(TypedDict):
    n: int


async def pick(
    ctx: ToolContext,
    color: Annotated[Literal["red", "blue"], Field(description="A color.")],
    size: Annotated[int, Field(ge=1, le=10, description="How big.")] = 3,
) -> Out:
    """Pick a color."""
    if color == "blue":
        raise NotFound("no blue today; call pick with color 'red'")
    return {"n": size}


async def crash() -> Out:
    """Always crashes."""
    raise RuntimeError("secret internal detail")


@pytest.fixture
async def registry(tmp_path: Path):
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        registry.add(pick, read_only=True)
        registry.add(crash)
        yield registry


async def test_the_input_schema_comes_from_type_hints_without_the_context_parameter(registry) -> None:
    tool = next(t for t in registry.list_tools() if t["name"] == "pick")
    schema = tool["inputSchema"]
    assert schema["properties"]["color"] == {"description": "A color.", "enum": ["red", "blue"], "type": "string"}
    assert schema["properties"]["size"]["maximum"] == 10 and schema["required"] == ["color"]
    assert "ctx" not in schema["properties"] and schema["additionalProperties"] is False
    assert tool["outputSchema"]["properties"] == {"n": {"type": "integer"}}
    assert tool["description"] == "Pick a color." and tool["annotations"]["readOnlyHint"] is True


async def test_invalid_arguments_name_each_problem_and_the_valid_arguments(registry) -> None:
    result = await registry.call_tool("pick", {"color": "green", "size": 99, "shade": 1}, CallInfo("test"))
    text = result["content"][0]["text"]
    assert result["isError"] is True
    assert "color: Input should be 'red' or 'blue' (got 'green')" in text
    assert "size: Input should be less than or equal to 10" in text
    assert "unknown argument 'shade'" in text and "Valid arguments: color, size" in text


async def test_a_missing_required_argument_is_named(registry) -> None:
    result = await registry.call_tool("pick", {}, CallInfo("test"))
    assert "missing required argument 'color'" in result["content"][0]["text"]


async def test_a_domain_error_reaches_the_model_verbatim(registry) -> None:
    result = await registry.call_tool("pick", {"color": "blue"}, CallInfo("test"))
    assert result == {"content": [{"type": "text", "text": "no blue today; call pick with color 'red'"}], "isError": True}


async def test_an_unknown_tool_names_the_closest_tools(registry) -> None:
    result = await registry.call_tool("pik", {}, CallInfo("test"))
    assert result["isError"] and "Closest tools: 'pick'" in result["content"][0]["text"]


async def test_an_internal_failure_returns_an_error_id_and_keeps_the_traceback_out_of_the_reply(registry, capsys) -> None:
    result = await registry.call_tool("crash", {}, CallInfo("test"))
    text = result["content"][0]["text"]
    assert result["isError"] and "error id" in text
    assert "secret internal detail" not in text and "Traceback" not in text
    error_id = text.split("error id ")[1].split(")")[0]
    logged = capsys.readouterr().out
    assert error_id in logged and "secret internal detail" in logged


async def test_a_success_carries_structured_content_and_the_same_json_as_text(registry) -> None:
    result = await registry.call_tool("pick", {"color": "red", "size": 4}, CallInfo("test"))
    assert result == {"content": [{"type": "text", "text": '{"n":4}'}], "structuredContent": {"n": 4}, "isError": False}


async def snake(ctx: ToolContext, swarm_id: str, max_agents: int = 1) -> Out:
    """Echo a count."""
    return {"n": max_agents}


async def test_arguments_are_camel_case_on_the_wire_and_accept_their_snake_case_alias(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        registry.add(snake)
        schema = registry.list_tools()[0]["inputSchema"]
        assert sorted(schema["properties"]) == ["maxAgents", "swarmId"] and schema["required"] == ["swarmId"]
        camel = await registry.call_tool("snake", {"swarmId": "s", "maxAgents": 4}, CallInfo("test"))
        snake_case = await registry.call_tool("snake", {"swarm_id": "s", "max_agents": 5}, CallInfo("test"))
        assert camel["structuredContent"] == {"n": 4} and snake_case["structuredContent"] == {"n": 5}
        both = await registry.call_tool("snake", {"swarmId": "s", "swarm_id": "t"}, CallInfo("test"))
        assert both["isError"] and "'swarm_id' and 'swarmId' are the same argument" in both["content"][0]["text"]


async def test_a_result_over_max_response_bytes_is_refused_with_how_to_ask_for_less(tmp_path: Path) -> None:
    async with running_app(tmp_path, max_response_bytes=1000) as (_, registry):
        result = await registry.call_tool("features_detect", {"category": "all"}, CallInfo("test"))
        small = await registry.call_tool("features_detect", {"category": "transports"}, CallInfo("test"))
    assert result["isError"] and "max_response_bytes" in result["content"][0]["text"]
    assert "page with limit and cursor" in result["content"][0]["text"]
    assert not small["isError"]


def test_the_whole_tool_list_stays_within_48000_characters_of_json() -> None:
    import orjson

    from swarm_mcp.tools import build_registry

    listing = build_registry(None).list_tools()  # type: ignore[arg-type]
    assert len(orjson.dumps(listing)) <= 48_000, "shorten descriptions: tools/list is the model's context"


def test_serve_tools_serves_only_the_named_areas_and_refuses_unknown_ones(tmp_path: Path) -> None:
    from support import spawn_stdio

    with spawn_stdio(tmp_path, "--tools", "memory,tasks") as client:
        client.initialize()
        names = {t["name"] for t in client.request("tools/list")["tools"]}
    assert "memory_usage" in names and "task_claim" in names
    assert not names & {"neural_create", "swarm_init", "features_detect"}
    import subprocess
    import sys

    from support import server_env

    refused = subprocess.run([sys.executable, "-m", "swarm_mcp", "serve", "--tools", "memory,wizardry"],
                             env=server_env(tmp_path / "other"), capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "wizardry" in refused.stderr and "benchmark" in refused.stderr
