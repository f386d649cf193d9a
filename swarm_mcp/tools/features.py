"""`features_detect`: what this host, process and daemon can do, detected now."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from typing_extensions import NotRequired, TypedDict  # pydantic needs these on Python 3.11

from pydantic import Field

from .. import hostinfo
from ._registry import ToolContext, ToolRegistry

__all__ = ("register",)

Category = Literal["all", "runtime", "cpu", "memory", "neural", "storage", "transports", "swarm", "simd", "platform"]
_ALIASES = {"simd": "cpu", "platform": "runtime"}  # ruv-swarm's names for the same facts


class FeaturesReport(TypedDict):
    category: str
    runtime: NotRequired[dict[str, Any]]
    cpu: NotRequired[dict[str, Any]]
    memory: NotRequired[dict[str, Any]]
    neural: NotRequired[dict[str, Any]]
    storage: NotRequired[dict[str, Any]]
    transports: NotRequired[dict[str, Any]]
    swarm: NotRequired[dict[str, Any]]


async def features_detect(
    ctx: ToolContext,
    category: Annotated[
        Category,
        Field(description="Which facts to detect (simd: cpu; platform: runtime)."),
    ] = "all",
) -> FeaturesReport:
    """Detect what this swarm-mcp host offers, measured now (nothing is a stored label).

    runtime: Python, OS and package versions, pid, uptime. cpu: model, cores, SIMD flags
    (AVX2/AVX-512/AMX). memory: host total/available and this process's RSS. neural: whether
    JAX is installed, its backend and devices (probed in a subprocess when the daemon has not
    loaded JAX, which takes a second or two). storage: SQLite version, FTS5/JSON1 support, data
    dir and free disk. transports: the endpoints being served and their connection counts.
    swarm: the engine's swarms, agents, limits, executors available here, and learning.
    """
    app = ctx.app
    report: FeaturesReport = {"category": category}
    category = _ALIASES.get(category, category)  # type: ignore[assignment]
    wanted = {category} if category != "all" else {"runtime", "cpu", "memory", "neural", "storage", "transports", "swarm"}
    if "runtime" in wanted:
        report["runtime"] = hostinfo.runtime_info(app.started_at)
    if "cpu" in wanted:
        report["cpu"] = hostinfo.cpu_info()
    if "memory" in wanted:
        report["memory"] = hostinfo.memory_info()
    if "storage" in wanted:
        report["storage"] = hostinfo.storage_info(app.config.data_dir)
    if "transports" in wanted:
        report["transports"] = {
            "serving": app.transports.snapshot(),
            "max_line_bytes": app.config.max_line_bytes,
            "http_auth_required": app.config.token is not None or app.config.token_file is not None,
        }
    if "neural" in wanted:
        report["neural"] = await app.jax_probe.info()
    if "swarm" in wanted:
        report["swarm"] = _swarm_facts(app)
    return report


def _swarm_facts(app: Any) -> dict[str, Any]:
    from ..swarm import EXECUTORS, PATTERNS, SWARM_STRATEGIES, TOPOLOGIES

    engine = app.swarm
    executors = {}
    for name in EXECUTORS:
        if name == "client":
            executors[name] = {"available": True, "how": "MCP clients claim work with task_claim"}
            continue
        executor = engine.executors.get(name)
        reason = "not configured in this daemon" if executor is None else executor.unavailable()
        executors[name] = {"available": reason is None, **({"why_not": reason} if reason else {})}
    limits = engine.config
    return {
        "running": engine.running,
        "swarms": len(engine.swarms),
        "agents": sum(len(s.live_agents()) for s in engine.swarms.values()),
        "open_subtasks": engine.board.open,
        "topologies": list(TOPOLOGIES), "strategies": list(SWARM_STRATEGIES), "cognitive_patterns": list(PATTERNS),
        "executors": executors,
        "learning": {"enabled": engine.brains is not None,
                     **({"populations": len(engine.brains.status()["populations"])} if engine.brains else {})},
        "limits": {"max_swarms": limits.max_swarms, "max_agents_per_swarm": limits.max_agents,
                   "max_open_subtasks": limits.max_open_subtasks, "lease_seconds": limits.lease_seconds,
                   "restart_intensity": limits.restart_intensity, "restart_period_s": limits.restart_period},
    }


def register(registry: ToolRegistry) -> None:
    registry.add(features_detect, title="Detect host features", read_only=True)
