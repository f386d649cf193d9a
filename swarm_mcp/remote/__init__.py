"""`swarm-mcp worker`: Claude Code workers on another machine, claiming a daemon's subtasks over HTTP.

    swarm-mcp worker --attach http://HOST:8765/mcp --token-file TOKEN --concurrency 4

`run_worker` is the loop (claim, run Claude with `swarm_mcp.workers.ClaudeRunner`, heartbeat,
report); `DaemonClient` is its MCP session with the daemon; `worker_main` is the command. Kept
apart from `swarm_mcp.workers` so the daemon never imports the HTTP client.
"""

from __future__ import annotations

from ._client import DaemonClient as DaemonClient
from ._client import ToolError as ToolError
from ._client import Unauthorized as Unauthorized
from ._command import worker_main as worker_main
from ._loop import WorkerSettings as WorkerSettings
from ._loop import WorkerStop as WorkerStop
from ._loop import run_worker as run_worker

__all__ = ("DaemonClient", "ToolError", "Unauthorized", "WorkerSettings", "WorkerStop", "run_worker", "worker_main")
