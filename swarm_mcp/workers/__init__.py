"""Claude Code workers: headless `claude -p` processes that do subtasks.

    executor = ClaudeExecutor.create(data_dir=..., environ=os.environ, workers=2, timeout=600, ...)
    engine = SwarmEngine(store, runtime, config, executors={"claude": executor})
    executor.endpoint.bind(app)                  # once the App exists; executor.endpoint.serve is a daemon child

`ClaudeExecutor` is the daemon's `claude` executor; `swarm_mcp.remote` is `swarm-mcp worker`, the
same worker on another machine, claiming subtasks from a daemon over authenticated HTTP. Both run
each subtask with `ClaudeRunner` (`build_prompt` in, `outcome_of` out).
"""

from __future__ import annotations

from ._endpoint import DaemonEndpoint as DaemonEndpoint
from ._executor import ClaudeExecutor as ClaudeExecutor
from ._launch import Endpoint as Endpoint
from ._launch import claude_argv as claude_argv
from ._launch import locate_claude as locate_claude
from ._launch import mcp_config_file as mcp_config_file
from ._prompt import build_prompt as build_prompt
from ._prompt import work_item_from_claim as work_item_from_claim
from ._result import RunOutput as RunOutput
from ._result import outcome_of as outcome_of
from ._runner import ClaudeRunner as ClaudeRunner

__all__ = (
    "ClaudeExecutor",
    "ClaudeRunner",
    "DaemonEndpoint",
    "Endpoint",
    "RunOutput",
    "build_prompt",
    "claude_argv",
    "locate_claude",
    "mcp_config_file",
    "outcome_of",
    "work_item_from_claim",
)
