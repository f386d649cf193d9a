"""What users see besides tools: resources, prompts, completions and log messages.

`Surface(app)` is what both protocol engines serve next to the tool registry (the line engine
through `swarm_mcp.protocol.Session`, Streamable HTTP through `swarm_mcp.sdk_server`), so both
answer alike. It is cheap to build: each part is imported on its first request.

    resources   swarm://swarms/{id}, swarm://tasks/{id}, swarm://agents/{id}, memory://{ns}[/{key}],
                neural://networks/{id}; paged listing, templates, subscriptions
    prompts     orchestrate(objective, topology?), work(swarmId?, capabilities?), review(taskId)
    completion  ids, namespaces, keys, topologies, capabilities
    logging     daemon events as notifications/message (`_notices`), per session or per request
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from ..protocol import Notify, SessionChannel
from ._notices import level_of as level_of
from ._notices import message_of as message_of

if TYPE_CHECKING:
    from ..app import App

__all__ = ("CAPABILITIES", "Surface", "level_of", "message_of")

CAPABILITIES: dict[str, Any] = {
    "resources": {"subscribe": True, "listChanged": True},
    "prompts": {"listChanged": False},
    "completions": {},
    "logging": {},
}


class Surface:
    """Resources, prompts, completions and notifications over one daemon `App` (a `SurfaceHost`)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def capabilities(self) -> dict[str, Any]:
        return {name: dict(value) for name, value in CAPABILITIES.items()}

    async def list_resources(self, cursor: str | None) -> dict[str, Any]:
        from ._resources import list_resources

        return await list_resources(self.app, cursor)

    async def list_resource_templates(self, cursor: str | None) -> dict[str, Any]:
        from ._resources import list_templates

        return await list_templates(cursor)

    async def read_resource(self, uri: str) -> dict[str, Any]:
        from ._resources import read_resource

        return await read_resource(self.app, uri)

    async def list_prompts(self, cursor: str | None) -> dict[str, Any]:
        from ._prompts import list_prompts
        from ._uris import decode_cursor

        decode_cursor(cursor, 1)
        return list_prompts()

    async def get_prompt(self, name: str, arguments: Mapping[str, str] | None) -> dict[str, Any]:
        from ._prompts import get_prompt

        return get_prompt(self.app, name, arguments)

    async def complete(self, ref: Mapping[str, Any], argument: Mapping[str, Any],
                       context: Mapping[str, Any] | None) -> dict[str, Any]:
        from ._completions import complete

        return await complete(self.app, ref, argument, context)

    def channel(self) -> SessionChannel:
        from ._notices import SessionChannel as Channel

        return Channel(self.app.feed)

    async def listen(self, request_id: str | int, notifications: Mapping[str, Any], notify: Notify) -> dict[str, Any]:
        from ._notices import listen

        return await listen(self.app.feed, request_id, notifications, notify, self.app.stopping)

    async def with_logs(self, level: str, work: Awaitable[dict[str, Any]], notify: Notify) -> dict[str, Any]:
        from ._notices import with_logs

        return await with_logs(self.app.feed, level, work, notify)
