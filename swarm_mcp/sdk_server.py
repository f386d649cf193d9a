"""The same tools on the MCP SDK's low-level `Server`: for Streamable HTTP and in-process clients.

Imported only when HTTP is served (or by tests): the SDK takes ~0.7 s to import. Results are
shaped exactly as the line engine shapes them (`resultType`, cache hints on 2026-era results),
and the SDK's OpenTelemetry middleware is removed: no exporter is configured, and it costs about
a fifth of each call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext

from .protocol import MODERN_VERSIONS, CallInfo, ProgressFn
from .tools import ToolRegistry

if TYPE_CHECKING:
    from .app import App

__all__ = ("build_sdk_server",)


def _progress_of(ctx: ServerRequestContext[Any]) -> ProgressFn:
    """Progress through the SDK session, which knows whether the client asked for it (a token on
    JSON-RPC, a callback on the in-process dispatcher) and does nothing when it did not."""

    async def progress(value: float, total: float | None = None, message: str | None = None) -> None:
        await ctx.session.report_progress(value, total, message)

    return progress


def build_sdk_server(app: App, registry: ToolRegistry, *, transport: str = "http") -> Server[App]:
    """A low-level SDK `Server` serving `registry`; its per-connection lifespan yields the one `app`."""

    @asynccontextmanager
    async def lifespan(_: Server[App]) -> AsyncIterator[App]:
        yield app  # daemon state lives outside the per-connection lifespan

    async def list_tools(ctx: ServerRequestContext[App], params: types.PaginatedRequestParams | None) -> Any:
        result: dict[str, Any] = {"tools": registry.list_tools()}
        if ctx.protocol_version in MODERN_VERSIONS:
            result.update(ttlMs=0, cacheScope="private", resultType="complete")
        return result

    async def call_tool(ctx: ServerRequestContext[App], params: types.CallToolRequestParams) -> Any:
        call = CallInfo(transport, ctx.request_id, _progress_of(ctx))
        result = await registry.call_tool(params.name, params.arguments, call)
        if ctx.protocol_version in MODERN_VERSIONS:
            result["resultType"] = "complete"
        return result

    server: Server[App] = Server(
        app.identity.name,
        version=app.identity.version,
        instructions=app.identity.instructions,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    server.middleware = []
    return server
