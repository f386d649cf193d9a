"""MCP tools: thin typed adapters over the daemon's subsystems, one module per area.

Each module in `TOOL_MODULES` has `register(registry)`; add a new area there. The daemon imports
them lazily (see `ToolRegistry.add_modules` and `_catalog`): `tools/list` does not need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._catalog import Catalog, default_catalog
from ._registry import ToolContext as ToolContext
from ._registry import ToolRegistry as ToolRegistry

if TYPE_CHECKING:
    from ..app import App

__all__ = ("TOOL_MODULES", "ToolContext", "ToolRegistry", "build_registry")

TOOL_MODULES = ("features", "memory", "neural", "swarm", "tasks")


def build_registry(app: App, *, catalog: Catalog | None = None) -> ToolRegistry:
    """Every tool the daemon serves, bound to `app` (the listing cached in `catalog`, by default
    the one beside this package's bytecode)."""
    registry = ToolRegistry(app)
    registry.add_modules(TOOL_MODULES, package=__name__, catalog=catalog or default_catalog())
    return registry
