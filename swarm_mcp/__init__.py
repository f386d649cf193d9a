"""swarm-mcp: a swarm-coordination server for the Model Context Protocol."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ("__version__",)
