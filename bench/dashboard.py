"""Dashboard benchmark: what one page costs the daemon, for swarms of 200 and 2,000 agents.

    python bench/dashboard.py [--agents 200,2000] [--repeat 50]   (also: swarm-mcp bench dashboard)

On a real daemon App in process (a temporary data dir, the default settings: agents have brains,
which round-robin routing does not consult, so JAX is not loaded), each swarm has its agents and a running 50-subtask task with some subtasks claimed. Measured, as the median
of `--repeat` runs: the page's first `snapshot`, one `update` (a swarm and its task changed: what
a page computes per coalesced burst of events, at most 4 times a second), and its bytes on the
wire. The baseline, in the same run: reading the MCP resource `swarm://swarms/<id>`, which is what
a client watching the swarm over MCP does after each `notifications/resources/updated`.

Prints a table and writes bench/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import orjson
import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from swarm_mcp.app import open_app  # noqa: E402
from swarm_mcp.config import load_config  # noqa: E402
from swarm_mcp.dashboard._state import Dirty, snapshot, update  # noqa: E402
from swarm_mcp.feed import FeedEvent  # noqa: E402
from swarm_mcp.surface._resources import read_resource  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard.json"


async def _median_ms(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        out = await fn()
        times.append((time.perf_counter() - started) * 1000)
        size = len(out if isinstance(out, bytes) else orjson.dumps(out))
    return statistics.median(times), size


async def bench(agents: int, repeat: int, home: Path) -> dict[str, Any]:
    config = load_config({"data_dir": str(home), "swarm_max_agents": max(agents, 100)}, {})
    async with open_app(config) as app:
        swarm, _ = await app.swarm.create_swarm(topology="hierarchical", max_agents=agents, strategy=None,
                                                name=f"bench-{agents}", routing="round_robin")
        for n in range(agents):
            await app.swarm.spawn(swarm.id, ("coder", "tester", "researcher", "reviewer")[n % 4])
        task = await app.swarm.board.orchestrate("a wide plan", swarm_id=swarm.id, subtasks=[
            {"id": f"s{n}", "description": f"step {n}", "type": "code"} for n in range(50)])
        for _ in range(10):
            await app.swarm.board.claim(swarm_id=swarm.id)
        dirty = Dirty()
        dirty.add([FeedEvent(1, time.time(), "subtask_claimed", swarm.id, None, f"{task.id}.s0", None)])

        async def one_update() -> Any:
            return update(app, dirty)

        async def resource() -> Any:
            return (await read_resource(app, f"swarm://swarms/{swarm.id}"))["contents"][0]["text"].encode()

        snap_ms, snap_bytes = await _median_ms(lambda: snapshot(app), repeat)
        update_ms, update_bytes = await _median_ms(one_update, repeat)
        base_ms, base_bytes = await _median_ms(resource, repeat)
    return {"agents": agents, "snapshot_ms": snap_ms, "snapshot_bytes": snap_bytes, "update_ms": update_ms,
            "update_bytes": update_bytes, "resource_read_ms": base_ms, "resource_bytes": base_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="200,2000", help="swarm sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    runs = []
    for agents in (int(a) for a in args.agents.split(",")):
        with tempfile.TemporaryDirectory(prefix="swarm-dash-bench-") as tmp:
            runs.append(anyio.run(bench, agents, args.repeat, Path(tmp)))
    print(f"dashboard, median of {args.repeat}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'agents':>7} {'snapshot ms':>12} {'KiB':>7} {'update ms':>10} {'KiB':>7} "
          f"{'resource read ms (baseline)':>28} {'KiB':>7} {'update/read':>12}")
    for r in runs:
        print(f"{r['agents']:>7} {r['snapshot_ms']:>12.2f} {r['snapshot_bytes'] / 1024:>7.1f} {r['update_ms']:>10.2f} "
              f"{r['update_bytes'] / 1024:>7.1f} {r['resource_read_ms']:>28.2f} {r['resource_bytes'] / 1024:>7.1f} "
              f"{r['update_ms'] / r['resource_read_ms']:>12.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"repeat": args.repeat, "python": platform.python_version(), "cpus": os.cpu_count(),
            "load": os.getloadavg(), "time": time.time()}
    RESULTS.write_bytes(orjson.dumps({"runs": runs, "meta": meta}, option=orjson.OPT_INDENT_2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
