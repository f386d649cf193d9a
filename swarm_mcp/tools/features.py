"""`features_detect`: what this host, process and daemon can do, detected now."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from typing_extensions import NotRequired, TypedDict  # pydantic needs these on Python 3.11

from pydantic import Field

from .. import hostinfo
from ._registry import ToolContext, ToolRegistry

__all__ = ("register",)

Category = Literal["all", "runtime", "cpu", "memory", "neural", "storage", "transports"]


class FeaturesReport(TypedDict):
    category: str
    runtime: NotRequired[dict[str, Any]]
    cpu: NotRequired[dict[str, Any]]
    memory: NotRequired[dict[str, Any]]
    neural: NotRequired[dict[str, Any]]
    storage: NotRequired[dict[str, Any]]
    transports: NotRequired[dict[str, Any]]


async def features_detect(
    ctx: ToolContext,
    category: Annotated[
        Category,
        Field(description="Which facts to detect: all, runtime, cpu, memory, neural, storage or transports."),
    ] = "all",
) -> FeaturesReport:
    """Detect what this swarm-mcp host offers, measured now (nothing is a stored label).

    runtime: Python, OS and package versions, pid, uptime. cpu: model, cores, SIMD flags
    (AVX2/AVX-512/AMX). memory: host total/available and this process's RSS. neural: whether
    JAX is installed, its backend and devices (probed in a subprocess when the daemon has not
    loaded JAX, which takes a second or two). storage: SQLite version, FTS5/JSON1 support, data
    dir and free disk. transports: the endpoints being served and their connection counts.
    """
    app = ctx.app
    report: FeaturesReport = {"category": category}
    wanted = {category} if category != "all" else {"runtime", "cpu", "memory", "neural", "storage", "transports"}
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
    return report


def register(registry: ToolRegistry) -> None:
    registry.add(features_detect, title="Detect host features", read_only=True)
