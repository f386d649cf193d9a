"""MCP tools: thin typed adapters over the daemon's subsystems, one module per area."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import benchmark, features, memory, neural, swarm, tasks
from ._registry import ToolContext as ToolContext
from ._registry import ToolRegistry as ToolRegistry

if TYPE_CHECKING:
    from ..app import App

__all__ = ("ToolContext", "ToolRegistry", "build_registry")


def build_registry(app: App) -> ToolRegistry:
    """Every tool the daemon serves, bound to `app`."""
    registry = ToolRegistry(app)
    features.register(registry)
    memory.register(registry)
    neural.register(registry)
    swarm.register(registry)
    tasks.register(registry)
    benchmark.register(registry)
    return registry
