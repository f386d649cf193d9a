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

Registering is cheap and scales with the number of tools: `add` only records the function. The
`tools/list` entry is written from the type hints on first listing (`_schema`, no pydantic model),
and the pydantic model that validates arguments is built on the tool's first call. With
`add_modules`, a start whose `_catalog` is current imports no tool module (nor pydantic) at all:
the listing comes from the catalog, and a module is imported when one of its tools is first called.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import secrets
import time
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import orjson
import structlog

from ..errors import SwarmError
from ..protocol import CallInfo, ProgressFn
from ._catalog import Catalog

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

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
    from pydantic.fields import FieldInfo

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


class ToolSpec:
    """One registered tool. Its wire entry and its validation model are built when first needed."""

    __slots__ = ("name", "fn", "options", "_parameters", "_context_param", "_returns", "_arguments", "_wire", "_fields",
                 "invalid")

    def __init__(self, fn: ToolFn, options: dict[str, Any]) -> None:
        self.name = fn.__name__
        self.fn = fn
        self.options = options
        self._parameters: dict[str, tuple[Any, Any, str]] | None = None
        self._context_param: str | None = None
        self._returns: Any = None
        self._arguments: type[BaseModel] | None = None
        self._wire: dict[str, Any] | None = None
        self._fields: tuple[str, ...] = ()
        self.invalid: type[ValidationError] = Exception  # type: ignore[assignment] # set with the model

    def _inspect(self) -> dict[str, tuple[Any, Any, str]]:
        """(hint, default, wire alias) per argument, from the signature and resolved type hints."""
        if self._parameters is None:
            hints = typing.get_type_hints(self.fn, include_extras=True)
            parameters: dict[str, tuple[Any, Any, str]] = {}
            for param in inspect.signature(self.fn).parameters.values():
                hint = hints.get(param.name, Any)
                if hint is ToolContext:
                    self._context_param = param.name
                    continue
                parameters[param.name] = (hint, param.default, wire_name(param.name))
            self._returns = hints.get("return")
            self._parameters = parameters
        return self._parameters

    @property
    def context_param(self) -> str | None:
        self._inspect()
        return self._context_param

    @property
    def arguments(self) -> type[BaseModel]:
        """The pydantic model that validates this tool's arguments (built on first use)."""
        if self._arguments is None:
            from pydantic import ConfigDict, Field, ValidationError, create_model

            self.invalid = ValidationError
            fields: dict[str, Any] = {}
            for name, (hint, default, alias) in self._inspect().items():
                default = ... if default is inspect.Parameter.empty else default
                if alias != name and not _has_alias(hint):
                    default = Field(default, alias=alias)
                fields[name] = (hint, default)
            self._fields = tuple(fields)
            self._arguments = create_model(
                f"{self.name}_arguments",
                __config__=ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True),
                **fields,
            )
        return self._arguments

    @property
    def wire(self) -> dict[str, Any]:
        """The `tools/list` entry (built on first use)."""
        if self._wire is None:
            self._wire = self._build_wire(fast=True)
        return self._wire

    def _build_wire(self, *, fast: bool) -> dict[str, Any]:
        """The entry, its schemas from `_schema` (`fast`, falling back to pydantic for a type it
        does not render) or from pydantic itself."""
        import typing_extensions
        from pydantic import TypeAdapter

        from . import _schema

        parameters = self._inspect()
        wire: dict[str, Any] = {"name": self.name, "description": inspect.cleandoc(self.fn.__doc__ or "").strip()}
        try:
            if not fast:
                raise _schema.Unsupported("pydantic asked")
            wire["inputSchema"] = _schema.omittable(_schema.input_schema(parameters))
        except _schema.Unsupported:
            wire["inputSchema"] = _schema.omittable(_schema.strip_titles(self.arguments.model_json_schema()))
        options = self.options
        if options["title"]:
            wire["title"] = options["title"]
        returns = self._returns
        if returns is not None and typing_extensions.is_typeddict(returns):
            try:
                if not fast:
                    raise _schema.Unsupported("pydantic asked")
                wire["outputSchema"] = _schema.output_schema(returns)
            except _schema.Unsupported:
                wire["outputSchema"] = _schema.strip_titles(TypeAdapter(returns).json_schema())
        annotations: dict[str, Any] = {"readOnlyHint": options["read_only"], "openWorldHint": options["open_world"]}
        if not options["read_only"]:
            if options["destructive"] is not None:
                annotations["destructiveHint"] = options["destructive"]
            if options["idempotent"] is not None:
                annotations["idempotentHint"] = options["idempotent"]
        wire["annotations"] = annotations
        return wire

    def pydantic_wire(self) -> dict[str, Any]:
        """The entry as pydantic writes it: what the fast path must equal (the tests compare)."""
        return self._build_wire(fast=False)

    def kwargs(self, validated: BaseModel) -> dict[str, Any]:
        """The validated arguments by Python name (read from the model's own dict: fast)."""
        values = validated.__dict__
        return {name: values[name] for name in self._fields}


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
    """The daemon's tools: `add` them (or `add_modules`) at start, then `list_tools` / `call_tool`
    from any engine."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._tools: dict[str, ToolSpec] = {}
        self._listing: list[dict[str, Any]] | None = None
        self._package = ""
        self._pending: dict[str, str] = {}  # tool -> module, from the catalog: not imported yet
        self._cached_wire: dict[str, dict[str, Any]] = {}
        self._loading: dict[str, anyio.Event] = {}
        self._registering: str | None = None
        self._modules: dict[str, list[str]] = {}

    @property
    def names(self) -> list[str]:
        return [*self._tools, *(name for name in self._pending if name not in self._tools)]

    def add_modules(self, modules: Sequence[str], *, package: str, catalog: Catalog | None = None) -> None:
        """Register the tools of each module (`package.module.register(registry)`), or, when
        `catalog` is current, only note which module serves which tool: each is then imported
        when one of its tools is first called. A fresh catalog is written otherwise."""
        self._package = package
        cached = catalog.load(modules) if catalog is not None else None
        if cached is not None:
            self._listing = cached.listing
            self._cached_wire = {entry["name"]: entry for entry in cached.listing}
            self._pending = {tool: module for module, tools in cached.modules.items() for tool in tools}
            return
        for module in modules:
            self._register_module(module)
        if catalog is not None:
            catalog.save(self.list_tools(), self._modules)

    def _register_module(self, module: str) -> None:
        imported = importlib.import_module(f"{self._package}.{module}")
        self._registering = module
        try:
            imported.register(self)
        finally:
            self._registering = None

    async def _load_pending(self, name: str) -> None:
        """Import the module that serves `name` (once, off the event loop) and register its tools."""
        module = self._pending[name]
        while (event := self._loading.get(module)) is not None:
            await event.wait()
        if name not in self._pending:
            return
        event = self._loading[module] = anyio.Event()
        try:
            await anyio.to_thread.run_sync(importlib.import_module, f"{self._package}.{module}")
            self._register_module(module)
        finally:
            del self._loading[module]
            event.set()

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
        options = {"title": title, "read_only": read_only, "destructive": destructive, "idempotent": idempotent,
                   "open_world": open_world}
        spec = self._tools[name] = ToolSpec(fn, options)
        if self._registering is not None:
            self._modules.setdefault(self._registering, []).append(name)
        if self._pending.pop(name, None) is not None:
            spec._wire = self._cached_wire.pop(name)  # noqa: SLF001 - the catalog's entry, already listed
        else:
            self._listing = None

    def spec(self, name: str) -> ToolSpec | None:
        """The tool's spec, importing its module now if the catalog deferred it."""
        if name in self._pending:
            self._register_module(self._pending[name])
        return self._tools.get(name)

    def list_tools(self) -> list[dict[str, Any]]:
        if self._listing is None:
            self._listing = [spec.wire for spec in self._tools.values()]
            self._listing += [self._cached_wire[name] for name in self._pending if name not in self._tools]
        return self._listing

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None, call: CallInfo) -> dict[str, Any]:
        """Run one tool call to a `CallToolResult` dict; never raises except for cancellation."""
        started = time.perf_counter()
        outcome = "ok"
        error_id = None
        try:
            if name in self._pending:
                await self._load_pending(name)
            spec = self._tools.get(name)
            if spec is None:
                outcome = "unknown_tool"
                return _text_result(self._unknown_tool_message(name), is_error=True)
            model = spec.arguments
            try:
                validated = model.model_validate(arguments or {})
            except spec.invalid as exc:
                outcome = "invalid_arguments"
                return _text_result(_describe_validation(name, exc, model), is_error=True)
            kwargs = spec.kwargs(validated)
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
            limit = self.app.config.max_response_bytes
            if 2 * len(text) > limit:  # the result goes out twice: as structured content and as text
                outcome = "too_large"
                return _text_result(
                    f"The result of {name} would be about {2 * len(text):,} bytes (sent as structured content and as text), "
                    f"over the {limit:,}-byte limit of one response (setting max_response_bytes). Ask for less: page with "
                    "limit and cursor, send fewer rows, or pick a narrower category.",
                    is_error=True,
                )
            return {"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": False}
        except anyio.get_cancelled_exc_class():
            outcome = "cancelled"
            raise
        finally:
            ms = round((time.perf_counter() - started) * 1000, 3)
            log.info("tool_call", tool=name, ms=ms, outcome=outcome, transport=call.transport, error_id=error_id)

    def _unknown_tool_message(self, name: str) -> str:
        known = self.names
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        close += [t for t in known if (name.lower() in t.lower() or t.lower() in name.lower()) and t not in close]
        hint = f" Closest tools: {', '.join(repr(t) for t in close[:3])}." if close else ""
        return f"Unknown tool {name!r}.{hint} Call tools/list to see all {len(known)} tools."
