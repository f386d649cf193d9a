"""Tool schemas written from type hints are exactly what pydantic would write, for every tool."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field
from support import running_app
from typing_extensions import NotRequired, TypedDict

from swarm_mcp.tools import ToolContext, ToolRegistry, _schema


def _canonical(schema: Any) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


async def test_every_daemon_tool_schema_equals_pydantics_and_needs_no_pydantic_model(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, registry):
        names = [t["name"] for t in registry.list_tools()]
        assert len(names) >= 10
        for name in names:
            spec = registry.spec(name)
            assert spec is not None
            fast = spec.wire
            assert spec._arguments is None, f"{name}: listing built a pydantic model"  # noqa: SLF001
            assert _canonical(fast) == _canonical(spec.pydantic_wire()), name
            params = spec._inspect()  # noqa: SLF001
            _schema.input_schema(params)  # no fallback: rendered without pydantic (extend _schema.py if this fails)
            if "outputSchema" in fast:
                _schema.output_schema(spec._returns)  # noqa: SLF001


class Step(BaseModel):
    """A nested model."""

    model_config = ConfigDict(extra="forbid")
    step_id: Annotated[str, Field(alias="stepId", description="Id.")]
    after: list[str] | None = None


class Leaf(TypedDict):
    """A leaf."""

    n: int


class Out(TypedDict):
    """Everything at once."""

    a: dict[str, Any]
    b: NotRequired[list[Leaf]]
    c: str | None
    d: Literal["x"]
    e: tuple[float, ...]
    f: dict[str, list[int]]


async def every_construct(
    ctx: ToolContext,
    text: Annotated[str, Field(min_length=1, max_length=9, pattern="^a", description="Text.")],
    choice: Annotated[Literal["a", "b"], Field(description="One of two.")] = "a",
    only: Literal[3] = 3,
    flag: bool = False,
    ratio: Annotated[float, Field(gt=0, le=1)] = 0.5,
    count: Annotated[int | None, Field(ge=1, lt=100, multiple_of=2, description="Even.")] = None,
    pair: Annotated[list[float], Field(min_length=2, max_length=2)] = [0.0, 1.0],  # noqa: B006
    table: dict[str, float] | None = None,
    bounded: Annotated[dict[str, list[str]] | None, Field(max_length=3)] = None,
    anything: Any = None,
    rows: list[list[float]] | None = None,
    steps: Annotated[list[Step] | None, Field(max_length=5)] = None,
    tags: tuple[str, ...] = (),
    explicit: Annotated[int | None, Field(alias="explicitName", ge=0)] = None,
    either: int | str = 0,
) -> Out:
    """Use every construct the schema writer knows."""
    return {"a": {}, "c": None, "d": "x", "e": (), "f": {}}


async def test_the_writer_matches_pydantic_for_every_construct_it_supports(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _):
        registry = ToolRegistry(app)
        registry.add(every_construct, title="All", read_only=True)
        spec = registry.spec("every_construct")
        assert spec is not None
        assert _canonical(spec.wire) == _canonical(spec.pydantic_wire())
        assert spec.wire["inputSchema"]["properties"]["explicitName"] == {"minimum": 0, "type": "integer"}  # null branch omitted


@pytest.mark.parametrize("hint", [tuple[int, int], dict[int, str], Literal["a", 1], set[int]])
def test_a_type_the_writer_does_not_know_is_unsupported_rather_than_guessed(hint: Any) -> None:
    with pytest.raises(_schema.Unsupported):
        _schema.input_schema({"x": (hint, None, "x")})
