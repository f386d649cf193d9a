"""The same tools and surface on the MCP SDK's low-level `Server`: for Streamable HTTP and in-process clients.

Imported only when HTTP is served (or by tests): the SDK takes ~0.7 s to import. Results are
shaped exactly as the line engine shapes them (`resultType`, cache hints on 2026-era results),
the resources, prompts, completions and notifications come from the same `Surface`, and the SDK's
OpenTelemetry middleware is removed: no exporter is configured, and it costs about a fifth of
each call.

Handshake-era sessions get a notification channel (log messages, resource updates, list
changes), run in a task group the server's lifespan owns and sent on the session's standalone
stream (on HTTP, the GET stream a client opens); the SDK's `Connection` holds it in its `state`
and closes it from its `exit_stack`. In the 2026-07-28 era, `subscriptions/listen` and a request's
`_meta` log level send on that request's own stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.shared.exceptions import MCPError

from .protocol import LOG_LEVEL_KEY, MODERN_VERSIONS, CallInfo, ProgressFn, ResourceNotFound, RpcError, SessionChannel
from .tools import ToolRegistry

if TYPE_CHECKING:
    from mcp.server.connection import Connection

    from .app import App

__all__ = ("build_sdk_server",)

_CHANNEL = "swarm_mcp.channel"
_CACHE_HINTS = {"ttlMs": 0, "cacheScope": "private"}


@dataclass
class ServerState:
    """The lifespan's value: the daemon's one `App`, and the task group that runs session channels."""

    app: App
    channels: anyio.abc.TaskGroup


def _progress_of(ctx: ServerRequestContext[Any]) -> ProgressFn:
    """Progress through the SDK session, which knows whether the client asked for it (a token on
    JSON-RPC, a callback on the in-process dispatcher) and does nothing when it did not."""

    async def progress(value: float, total: float | None = None, message: str | None = None) -> None:
        await ctx.session.report_progress(value, total, message)

    return progress


def _connection_of(ctx: ServerRequestContext[Any]) -> Connection:
    # The SDK keeps per-connection `state` and an `exit_stack` on its `Connection` for handlers
    # to use, but the low-level handler context does not expose it yet (its TODO L54); the
    # session it hands us holds it. Pinned SDK (mcp==2.3.0); tests/surface/test_notices.py fails
    # loudly if this ever stops being the connection.
    return ctx.session._connection  # noqa: SLF001


def _modern(ctx: ServerRequestContext[Any]) -> bool:
    return ctx.protocol_version in MODERN_VERSIONS


def _request_notify(ctx: ServerRequestContext[Any]) -> Any:
    """Send a notification on this request's own stream (2026-era listen streams and log messages)."""

    async def notify(method: str, params: Mapping[str, Any]) -> None:
        typed = types.server_notification_adapter.validate_python({"method": method, "params": dict(params)})
        await ctx.session.send_notification(typed, related_request_id=ctx.request_id)

    return notify


def build_sdk_server(app: App, registry: ToolRegistry, *, transport: str = "http") -> Server[ServerState]:
    """A low-level SDK `Server` serving `registry` and `app.surface`; its lifespan yields the one `app`
    (and the task group its sessions' notification channels run in)."""
    surface = app.surface

    @asynccontextmanager
    async def lifespan(_: Server[ServerState]) -> AsyncIterator[ServerState]:
        async with anyio.create_task_group() as tg:  # daemon state lives outside the per-connection lifespan
            yield ServerState(app, tg)
            tg.cancel_scope.cancel()

    def channel_of(ctx: ServerRequestContext[ServerState]) -> SessionChannel | None:
        """The handshake-era session's channel, started on its first request."""
        if _modern(ctx):
            return None
        connection = _connection_of(ctx)
        channel: SessionChannel | None = connection.state.get(_CHANNEL)
        if channel is None:
            channel = connection.state[_CHANNEL] = surface.channel()
            connection.exit_stack.callback(channel.close)
            ctx.lifespan_context.channels.start_soon(channel.run, connection.notify)
        return channel

    async def answer(ctx: ServerRequestContext[ServerState], work: Awaitable[dict[str, Any]], *,
                     cacheable: bool = False) -> dict[str, Any]:
        """Run one request the way the line engine does: errors as JSON-RPC errors, 2026-era results
        with their cache hints, and log messages while it runs when its `_meta` asks for them."""
        channel_of(ctx)
        if _modern(ctx):
            level = ((ctx.params or {}).get("_meta") or {}).get(LOG_LEVEL_KEY)
            if level is not None:
                work = surface.with_logs(level, work, _request_notify(ctx))
        try:
            result = await work
        except ResourceNotFound as missing:
            error = missing.for_era(_modern(ctx)).to_wire()
            raise MCPError(code=error["code"], message=error["message"], data=error.get("data")) from None
        except RpcError as refused:
            error = refused.to_wire()
            raise MCPError(code=error["code"], message=error["message"], data=error.get("data")) from None
        if _modern(ctx):
            result = {**result, **(_CACHE_HINTS if cacheable else {}), "resultType": "complete"}
        return result

    async def list_tools(ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams | None) -> Any:
        channel_of(ctx)
        result: dict[str, Any] = {"tools": registry.list_tools()}
        if _modern(ctx):
            result.update(ttlMs=0, cacheScope="private", resultType="complete")
        return result

    async def call_tool(ctx: ServerRequestContext[ServerState], params: types.CallToolRequestParams) -> Any:
        call = CallInfo(transport, ctx.request_id, _progress_of(ctx))
        return await answer(ctx, registry.call_tool(params.name, params.arguments, call))

    async def list_resources(ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams) -> Any:
        return await answer(ctx, surface.list_resources(params.cursor), cacheable=True)

    async def list_templates(ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams) -> Any:
        return await answer(ctx, surface.list_resource_templates(params.cursor), cacheable=True)

    async def read_resource(ctx: ServerRequestContext[ServerState], params: types.ReadResourceRequestParams) -> Any:
        return await answer(ctx, surface.read_resource(params.uri), cacheable=True)

    async def list_prompts(ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams) -> Any:
        return await answer(ctx, surface.list_prompts(params.cursor), cacheable=True)

    async def get_prompt(ctx: ServerRequestContext[ServerState], params: types.GetPromptRequestParams) -> Any:
        return await answer(ctx, surface.get_prompt(params.name, params.arguments))

    async def complete(ctx: ServerRequestContext[ServerState], params: types.CompleteRequestParams) -> Any:
        wire = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        return await answer(ctx, surface.complete(wire["ref"], wire["argument"], wire.get("context")))

    async def subscribe(ctx: ServerRequestContext[ServerState], params: types.SubscribeRequestParams) -> Any:
        return await answer(ctx, _now(lambda channel: channel.subscribe(params.uri), channel_of(ctx)))

    async def unsubscribe(ctx: ServerRequestContext[ServerState], params: types.UnsubscribeRequestParams) -> Any:
        return await answer(ctx, _now(lambda channel: channel.unsubscribe(params.uri), channel_of(ctx)))

    async def set_level(ctx: ServerRequestContext[ServerState], params: types.SetLevelRequestParams) -> Any:
        return await answer(ctx, _now(lambda channel: channel.set_level(params.level), channel_of(ctx)))

    async def listen(ctx: ServerRequestContext[ServerState], params: types.SubscriptionsListenRequestParams) -> Any:
        assert ctx.request_id is not None
        wanted = params.notifications.model_dump(by_alias=True, mode="json", exclude_none=True)
        return await answer(ctx, surface.listen(ctx.request_id, wanted, _request_notify(ctx)))

    server: Server[ServerState] = _Server(
        app.identity.name,
        version=app.identity.version,
        instructions=app.identity.instructions,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_subscriptions_listen=listen,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
    )
    # Registered directly: the constructor's `on_set_logging_level` warns that logging is deprecated
    # at 2026-07-28, where it is served per request instead (and `logging/setLevel` is not routed).
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    server.middleware = []
    return server


async def _now(change: Any, channel: SessionChannel | None) -> dict[str, Any]:
    if channel is not None:
        change(channel)
    return {}


class _Server(Server[ServerState]):
    """The SDK's `Server`, announcing `resources.listChanged` in the handshake era as the line engine does."""

    def create_initialization_options(self, notification_options: NotificationOptions | None = None,
                                      experimental_capabilities: dict[str, dict[str, Any]] | None = None,
                                      extensions: dict[str, dict[str, Any]] | None = None) -> Any:
        return super().create_initialization_options(
            notification_options or NotificationOptions(resources_changed=True), experimental_capabilities, extensions)
