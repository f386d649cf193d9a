"""`benchmark_run`: measure this daemon in process, now, on scratch state."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypedDict

from ..benchmarks import run_benchmarks
from ._registry import ToolContext, ToolRegistry

__all__ = ("register",)


class BenchmarkReport(TypedDict):
    type: str
    iterations: int
    suites: dict[str, Any]


async def benchmark_run(
    ctx: ToolContext,
    type: Annotated[Literal["all", "memory", "neural", "swarm", "agent", "task"], Field(description="Which suite.")] = "all",  # noqa: A002
    iterations: Annotated[int, Field(ge=1, le=1000, description="Operations timed per measurement.")] = 10,
) -> BenchmarkReport:
    """Time real operations in this daemon and report what was measured: counts, rates and p50/p95
    latency. memory: puts and gets (a private namespace, deleted after); neural: a 256-agent
    population's forward pass and training epoch; swarm: agent spawns; agent: spawn+stop;
    task: orchestrate, claim and complete. Swarm suites use a scratch engine and store."""
    suites = await run_benchmarks(ctx.app, type, iterations,
                                  ctx.report_progress if ctx.wants_progress else None)
    return {"type": type, "iterations": iterations, "suites": suites}


def register(registry: ToolRegistry) -> None:
    registry.add(benchmark_run, title="Run benchmarks", destructive=False, idempotent=False)
