"""MCP tools: thin typed adapters over the daemon's subsystems, one module per area.

Each area is a module here with `register(registry)`; add a new one to `AREAS`. The daemon
imports them lazily (see `ToolRegistry.add_modules` and `_catalog`): `tools/list` does not need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from ._catalog import Catalog, default_catalog
from ._registry import ToolContext as ToolContext
from ._registry import ToolRegistry as ToolRegistry

if TYPE_CHECKING:
    from ..app import App

__all__ = ("AREAS", "ToolContext", "ToolRegistry", "build_registry")

# Tool areas (modules of this package), in the order tools/list shows them; `serve --tools` picks some of them.
AREAS = ("features", "memory", "neural", "swarm", "tasks", "daa", "benchmark")


def build_registry(app: App, areas: str | None = None, *, catalog: Catalog | None = None) -> ToolRegistry:
    """The tools the daemon serves, bound to `app`: every area, or those named in `areas`
    (comma-separated, e.g. "memory,swarm,tasks"; the config setting `tools`). The listing is
    cached in `catalog` (by default beside this package's bytecode, one file per set of areas).

    Raises:
        InvalidArgument: an unknown area.
    """
    chosen = list(AREAS) if not areas else [a.strip() for a in areas.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in AREAS]
    if unknown or not chosen:
        raise InvalidArgument(f"unknown tool area(s) {unknown or areas!r}; choose from {', '.join(AREAS)}")
    modules = [area for area in AREAS if area in chosen]
    registry = ToolRegistry(app)
    registry.add_modules(modules, package=__name__, catalog=catalog or default_catalog(modules))
    return registry
