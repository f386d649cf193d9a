"""A thin tool registry over typed async functions, served by both protocol engines.

A tool is an async function: its name is the tool name, its docstring the description (written
for the model), its type hints the input schema (pydantic validates the arguments), and its
return type (a `TypedDict`) the output schema. A parameter typed `ToolContext` receives the call
context instead of an argument. Arguments are camelCase on the wire (`network_id` is `networkId`),
and the Python snake_case name is accepted as an alias, so both spellings work everywhere.

Every outcome becomes a `CallToolResult`: success carries `structuredContent` and the same JSON as
text; a `SwarmError` or invalid arguments become `isError: true` with a message that says what was
wrong and what to do next; an unknown tool names the closest tools; an unexpected exception
becomes a short message with an error id whose traceback goes to the log, never to the client.
Each call writes one log line: tool, duration, outcome.
"""

from __future__ import annotations

import difflib
import inspect
import secrets
import time
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import typing_extensions
import orjson
import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo

from ..errors import SwarmError
from ..protocol import CallInfo, ProgressFn

if TYPE_CHECKING:
    from ..app import App

__all__ = ("ToolContext", "ToolRegistry", "ToolSpec", "wire_name")

log = structlog.get_logger("swarm_mcp.tools")

ToolFn = Callable[..., Awaitable[Mapping[str, Any]]]


def wire_name(name: str) -> str:
    """The camelCase name an argument has on the wire: `swarm_id` -> `swarmId`. Every tool
    accepts the Python (snake_case) name too, as an alias."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _has_alias(hint: Any) -> bool:
    return any(isinstance(meta, FieldInfo) and meta.alias for meta in getattr(hint, "__metadata__", ()))


class ToolContext:
    """What a tool receives besides its arguments: the daemon state and its request's channel."""

    __slots__ = ("app", "transport", "request_id", "provided", "_progress")

    def __init__(self, app: App, call: CallInfo, provided: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.transport = call.transport
        self.request_id = call.request_id
        self.provided = provided  # the arguments the caller actually sent (Python names), defaults excluded
        self._progress: ProgressFn | None = call.progress

    @property
    def wants_progress(self) -> bool:
        return self._progress is not None

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send `notifications/progress` if the client asked for progress; otherwise do nothing."""
        if self._progress is not None:
            await self._progress(progress, total, message)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    fn: ToolFn
    arguments: type[BaseModel]
    context_param: str | None
    wire: dict[str, Any]  # the tools/list entry


def _strip_titles(node: Any, *, naming: bool = False) -> Any:
    """Drop pydantic's auto-generated `title`s; `naming` marks a dict whose keys are property names."""
    if isinstance(node, dict):
        return {
            key: _strip_titles(value, naming=key in ("properties", "$defs", "patternProperties") and not naming)
            for key, value in node.items()
            if naming or not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node


def _omittable(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema without the `null` branch and `default: null` of optional arguments: to
    leave an argument unset a client omits it, so `null` only costs the model's context (about
    70 characters an argument). The validation model still accepts an explicit null."""
    definitions = schema.get("$defs")
    if isinstance(definitions, dict):
        schema = {**schema, "$defs": {name: _omittable(d) if isinstance(d, dict) else d for name, d in definitions.items()}}
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    compact = {}
    for name, prop in properties.items():
        branches = prop.get("anyOf")
        if "default" in prop and prop["default"] is None and isinstance(branches, list) and len(branches) == 2 \
                and {"type": "null"} in branches:
            kept = next(b for b in branches if b != {"type": "null"})
            prop = {k: v for k, v in prop.items() if k not in ("anyOf", "default")} | kept
        elif "default" in prop and prop["default"] is None:
            prop = {k: v for k, v in prop.items() if k != "default"}
        compact[name] = prop
    return {**schema, "properties": compact}


def _describe_validation(tool: str, exc: ValidationError, arguments: type[BaseModel]) -> str:
    problems = []
    wire_of = {name: f.alias for name, f in arguments.model_fields.items() if f.alias and f.alias != name}
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        if error["type"] == "extra_forbidden" and where in wire_of:
            problems.append(f"{where!r} and {wire_of[where]!r} are the same argument; give it once")
        elif error["type"] == "extra_forbidden":
            problems.append(f"unknown argument {where!r}")
        elif error["type"] == "missing":
            problems.append(f"missing required argument {where!r}")
        else:
            shown = repr(error.get("input"))
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            problems.append(f"{where}: {error['msg']} (got {shown})")
    valid = ", ".join(f.alias or name for name, f in arguments.model_fields.items()) or "none"
    return f"Invalid arguments for {tool}: {'; '.join(problems)}. Valid arguments: {valid}. Fix them and call {tool} again."


def _text_result(text: str, *, is_error: bool) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


class ToolRegistry:
    """The daemon's tools: `add` them at start, then `list_tools` / `call_tool` from any engine."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._tools: dict[str, ToolSpec] = {}
        self._listing: list[dict[str, Any]] | None = None

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def add(
        self,
        fn: ToolFn,
        *,
        title: str | None = None,
        read_only: bool = False,
        destructive: bool | None = None,
        idempotent: bool | None = None,
        open_world: bool = False,
    ) -> None:
        """Register `fn` as a tool named after it; its hints and docstring define the schema."""
        name = fn.__name__
        if name in self._tools:
            raise ValueError(f"tool {name!r} is already registered")
        hints = typing.get_type_hints(fn, include_extras=True)
        fields: dict[str, Any] = {}
        context_param = None
        for param in inspect.signature(fn).parameters.values():
            hint = hints.get(param.name, Any)
            if hint is ToolContext:
                context_param = param.name
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            alias = wire_name(param.name)
            if alias != param.name and not _has_alias(hint):
                default = Field(default, alias=alias)
            fields[param.name] = (hint, default)
        arguments = create_model(
            f"{name}_arguments", __config__=ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True),
            **fields,
        )
        wire: dict[str, Any] = {
            "name": name,
            "description": inspect.cleandoc(fn.__doc__ or "").strip(),
            "inputSchema": _omittable(_strip_titles(arguments.model_json_schema())),
        }
        if title:
            wire["title"] = title
        returns = hints.get("return")
        if returns is not None and typing_extensions.is_typeddict(returns):
            wire["outputSchema"] = _strip_titles(TypeAdapter(returns).json_schema())
        annotations: dict[str, Any] = {"readOnlyHint": read_only, "openWorldHint": open_world}
        if not read_only:
            if destructive is not None:
                annotations["destructiveHint"] = destructive
            if idempotent is not None:
                annotations["idempotentHint"] = idempotent
        wire["annotations"] = annotations
        self._tools[name] = ToolSpec(name, fn, arguments, context_param, wire)
        self._listing = None

    def list_tools(self) -> list[dict[str, Any]]:
        if self._listing is None:
            self._listing = [spec.wire for spec in self._tools.values()]
        return self._listing

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None, call: CallInfo) -> dict[str, Any]:
        """Run one tool call to a `CallToolResult` dict; never raises except for cancellation."""
        started = time.perf_counter()
        spec = self._tools.get(name)
        outcome = "ok"
        error_id = None
        try:
            if spec is None:
                outcome = "unknown_tool"
                return _text_result(self._unknown_tool_message(name), is_error=True)
            try:
                validated = spec.arguments.model_validate(arguments or {})
            except ValidationError as exc:
                outcome = "invalid_arguments"
                return _text_result(_describe_validation(name, exc, spec.arguments), is_error=True)
            kwargs = {field: getattr(validated, field) for field in spec.arguments.model_fields}
            if spec.context_param is not None:
                kwargs[spec.context_param] = ToolContext(self.app, call, frozenset(validated.model_fields_set))
            try:
                result = await spec.fn(**kwargs)
            except SwarmError as exc:
                outcome = "error"
                return _text_result(str(exc), is_error=True)
            except Exception:
                outcome = "internal_error"
                error_id = secrets.token_hex(4)
                log.exception("tool_crashed", tool=name, error_id=error_id)
                return _text_result(
                    f"Internal error in {name} (error id {error_id}). The server log has the details under that id; "
                    "the server is still running, and other tools are unaffected.",
                    is_error=True,
                )
            structured = dict(result)
            text = orjson.dumps(structured, option=orjson.OPT_SERIALIZE_NUMPY).decode()
            return {"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": False}
        except anyio.get_cancelled_exc_class():
            outcome = "cancelled"
            raise
        finally:
            ms = round((time.perf_counter() - started) * 1000, 3)
            log.info("tool_call", tool=name, ms=ms, outcome=outcome, transport=call.transport, error_id=error_id)

    def _unknown_tool_message(self, name: str) -> str:
        known = list(self._tools)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        close += [t for t in known if (name.lower() in t.lower() or t.lower() in name.lower()) and t not in close]
        hint = f" Closest tools: {', '.join(repr(t) for t in close[:3])}." if close else ""
        return f"Unknown tool {name!r}.{hint} Call tools/list to see all {len(known)} tools."
