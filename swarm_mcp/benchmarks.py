"""In-process measurements for `benchmark_run`: what this daemon does per second, measured now.

Each suite runs against scratch state, so a benchmark never touches the user's data: memory
writes go to a private namespace that is deleted afterwards, and the swarm suites run a scratch
engine on a scratch store in the data dir (removed afterwards). Every figure comes from timing
real calls; each suite reports the operations it timed, their rate and latency percentiles.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from .memory import StoreConfig, open_store
from .swarm import EngineConfig, SwarmEngine

if TYPE_CHECKING:
    from .app import App

__all__ = ("SUITES", "run_benchmarks")

SUITES = ("memory", "neural", "swarm", "agent", "task")


def _summary(name: str, seconds: list[float]) -> dict[str, Any]:
    ordered = sorted(seconds)
    total = sum(ordered)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 4)

    return {"operation": name, "count": len(ordered), "total_s": round(total, 6),
            "per_second": round(len(ordered) / total, 1) if total else None,
            "p50_ms": pct(0.5), "p95_ms": pct(0.95), "max_ms": round(ordered[-1] * 1000, 4)}


async def _timed(name: str, count: int, op: Callable[[int], Awaitable[Any]]) -> dict[str, Any]:
    seconds = []
    for i in range(count):
        started = time.perf_counter()
        await op(i)
        seconds.append(time.perf_counter() - started)
    return _summary(name, seconds)


async def _memory(app: App, iterations: int) -> dict[str, Any]:
    namespace = f"_benchmark:{secrets.token_hex(4)}"
    store = app.store
    value = {"text": "benchmark value", "n": list(range(16))}
    try:
        put = await _timed("memory put", iterations, lambda i: store.put(namespace, f"k{i}", value))
        get = await _timed("memory get (hot)", iterations, lambda i: store.get(namespace, f"k{i}"))
        durable = await _timed("memory put, durable", min(iterations, 200),
                               lambda i: store.put(namespace, f"d{i}", value, durable=True))
    finally:
        for i in range(iterations):
            await store.delete(namespace, f"k{i}")
        for i in range(min(iterations, 200)):
            await store.delete(namespace, f"d{i}")
    return {"results": [put, get, durable], "namespace_used": namespace, "cleaned_up": True}


async def _neural(app: App, iterations: int) -> dict[str, Any]:
    runtime = app.neural.runtime
    loaded_before = runtime.loaded
    started = time.perf_counter()
    neural = await runtime.ensure()
    load_s = time.perf_counter() - started

    def build() -> Any:
        import jax
        import numpy as np

        layout = neural.create_standard((8, 16, 4), key=jax.random.key(0), activation_hidden="SIGMOID_SYMMETRIC",
                                        activation_output="SIGMOID_SYMMETRIC").layout
        population = neural.create_population(layout, 256, key=jax.random.key(1), samples=32, window=1)
        rng = np.random.default_rng(0)
        data = neural.TrainData(rng.uniform(-1, 1, (32, 8)), rng.uniform(-0.9, 0.9, (32, 4)))
        population.set_data(population.slots, data)
        x = rng.uniform(-1, 1, (population.capacity, 8)).astype(np.float32)
        population.train(1)  # compile outside the timings
        np.asarray(population.forward(x))
        return population, x

    started = time.perf_counter()
    population, x = await runtime.run(build)
    setup_s = time.perf_counter() - started

    def forward(_: int) -> Any:
        import numpy as np

        return runtime.run(lambda: np.asarray(population.forward(x)))

    fwd = await _timed("forward, 256 agents × 8-16-4, one input each", iterations, forward)
    train = await _timed("one RPROP epoch, 256 agents × 32 samples", iterations, lambda _: runtime.run(population.train, 1))
    return {"results": [fwd, train], "jax_was_loaded": loaded_before, "jax_load_s": round(load_s, 3),
            "setup_and_compile_s": round(setup_s, 3)}


@asynccontextmanager
async def _scratch_engine(app: App) -> AsyncIterator[SwarmEngine]:
    """A swarm engine with learning off on its own store under the data dir, removed afterwards."""
    folder = app.config.data_dir / f"benchmark-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    try:
        async with open_store(StoreConfig(path=folder / "scratch.db")) as store:
            engine = SwarmEngine(store, app.neural.runtime, EngineConfig(learning=False, max_agents=100_000))
            async with anyio.create_task_group() as tg:
                await tg.start(engine.run)
                try:
                    yield engine
                finally:
                    tg.cancel_scope.cancel()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _swarm(app: App, iterations: int) -> dict[str, Any]:
    async with _scratch_engine(app) as engine:
        swarm, _ = await engine.create_swarm(topology="mesh", max_agents=iterations + 1, strategy="balanced")
        spawn = await _timed("agent_spawn (committed)", iterations, lambda _: engine.spawn(swarm.id, "coder"))
        status_started = time.perf_counter()
        live = len(swarm.live_agents())
        return {"results": [spawn], "agents_running": live,
                "count_s": round(time.perf_counter() - status_started, 6)}


async def _agent(app: App, iterations: int) -> dict[str, Any]:
    async with _scratch_engine(app) as engine:
        swarm, _ = await engine.create_swarm(topology="star", max_agents=8, strategy="balanced")

        async def cycle(_: int) -> None:
            agent = await engine.spawn(swarm.id, "tester")
            await engine.stop_agent(agent.id)

        return {"results": [await _timed("agent spawn + stop", iterations, cycle)]}


async def _task(app: App, iterations: int) -> dict[str, Any]:
    async with _scratch_engine(app) as engine:
        swarm, _ = await engine.create_swarm(topology="mesh", max_agents=8, strategy="balanced")
        for agent_type in ("coder", "tester", "reviewer", "documenter"):
            await engine.spawn(swarm.id, agent_type)
        board = engine.board
        orchestrate = await _timed("task_orchestrate (plan, route, commit)", iterations,
                                   lambda i: board.orchestrate(f"Implement feature {i} and write its tests", swarm_id=swarm.id))
        claims: list[float] = []
        completes: list[float] = []
        while True:
            started = time.perf_counter()
            claim = await board.claim(swarm_id=swarm.id)
            if claim is None:
                break
            claims.append(time.perf_counter() - started)
            started = time.perf_counter()
            await board.complete(claim.subtask.id, "done")
            completes.append(time.perf_counter() - started)
        finished = sum(t.state.value == "completed" for t in board.tasks.values())
        return {"results": [orchestrate, _summary("task_claim", claims), _summary("task_complete (committed)", completes)],
                "tasks_completed": finished}


_RUNNERS: dict[str, Callable[[App, int], Awaitable[dict[str, Any]]]] = {
    "memory": _memory, "neural": _neural, "swarm": _swarm, "agent": _agent, "task": _task,
}


async def run_benchmarks(app: App, suite: str, iterations: int,
                         progress: Callable[[float, float, str], Awaitable[None]] | None = None) -> dict[str, Any]:
    """Run one suite, or all of them, `iterations` operations each; the measured figures."""
    chosen = SUITES if suite == "all" else (suite,)
    out: dict[str, Any] = {}
    for n, name in enumerate(chosen):
        started = time.perf_counter()
        out[name] = await _RUNNERS[name](app, iterations)
        out[name]["wall_s"] = round(time.perf_counter() - started, 3)
        if progress is not None:
            await progress(n + 1, len(chosen), f"{name} done")
    return out
