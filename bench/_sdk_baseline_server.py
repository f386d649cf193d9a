"""Baseline for bench/transports.py: the SDK's own MCPServer on the SDK's stdio transport.

Serves one cheap read-only tool with the same shape of answer as our `features_detect`
(category "transports"), so the ratio compares transports and dispatch, not tool work.
"""

from __future__ import annotations

import logging
import sys

from mcp.server.mcpserver import MCPServer
from typing_extensions import TypedDict

logging.basicConfig(stream=sys.stderr, level=logging.WARNING)


class Report(TypedDict):
    category: str
    transports: dict[str, object]


server = MCPServer("sdk-baseline")


@server.tool()
async def features_detect(category: str = "transports") -> Report:
    """A cheap read-only tool."""
    return {"category": category, "transports": {"serving": {"stdio": {"endpoint": "stdin/stdout"}}}}


if __name__ == "__main__":
    server.run("stdio")
