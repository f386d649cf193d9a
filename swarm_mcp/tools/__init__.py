"""MCP tools: thin typed adapters over the daemon's subsystems, one module per area."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import benchmark, daa, features, memory, neural, swarm, tasks
from ..errors import InvalidArgument
from ._registry import ToolContext as ToolContext
from ._registry import ToolRegistry as ToolRegistry

if TYPE_CHECKING:
    from ..app import App

__all__ = ("AREAS", "ToolContext", "ToolRegistry", "build_registry")

# Tool areas, in the order tools/list shows them; `serve --tools` picks some of them.
AREAS = {
    "features": features.register,
    "memory": memory.register,
    "neural": neural.register,
    "swarm": swarm.register,
    "tasks": tasks.register,
    "daa": daa.register,
    "benchmark": benchmark.register,
}


def build_registry(app: App, areas: str | None = None) -> ToolRegistry:
    """The tools the daemon serves, bound to `app`: every area, or those named in `areas`
    (comma-separated, e.g. "memory,swarm,tasks"; the config setting `tools`).

    Raises:
        InvalidArgument: an unknown area.
    """
    chosen = list(AREAS) if not areas else [a.strip() for a in areas.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in AREAS]
    if unknown or not chosen:
        raise InvalidArgument(f"unknown tool area(s) {unknown or areas!r}; choose from {', '.join(AREAS)}")
    registry = ToolRegistry(app)
    for area in AREAS:
        if area in chosen:
            AREAS[area](registry)
    return registry
