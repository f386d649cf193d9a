"""Swarm benchmarks: orchestration latency by swarm size, spawn rate, idle-agent memory, claim
throughput, and routing that learns. Every figure is measured next to a baseline in the same run.

    python bench/swarm.py [--quick]          (also: swarm-mcp bench swarm)

A real `swarm-mcp serve --tcp` subprocess is driven over the newline JSON-RPC protocol with the
project's lean client (threads, one TCP connection each). Prints a table and writes
bench/results/swarm.json.

| measure | baseline (same run, same transport and concurrency) |
|---|---|
| task_orchestrate p50 at 1, 100, 1,000 agents (brains trained) | memory_usage retrieve p50 |
| agent_spawn, 10,000 with 64 in flight: rate, p99, all listed | memory_usage store, same concurrency |
| extra server RSS for 10,000 idle agents | the idle daemon's RSS |
| claim -> complete pairs/s, 8 clients | memory_usage store -> retrieve pairs/s, 8 clients |
| routing success per 50 tasks, neural | round-robin on the same hidden-skill workload |
| daa_meta_learning: target-domain MSE and accuracy, transfer | training from scratch on the same target data |
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from swarm_mcp.client import LineClient  # noqa: E402

PY = sys.executable
RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Server:
    """A `serve --tcp` subprocess on a temporary data dir."""

    def __init__(self, home: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {**os.environ, "SWARM_MCP_HOME": home, "PYTHONPATH": str(ROOT), "SWARM_MCP_LOG_LEVEL": "warning"}
        self.process = subprocess.Popen([PY, "-m", "swarm_mcp", "serve", "--tcp", f"127.0.0.1:{self.port}"], env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client().close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)

    def client(self) -> LineClient:
        client = LineClient.connect("127.0.0.1", self.port)
        return client

    def session(self) -> LineClient:
        client = self.client()
        client.initialize()
        return client

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def ok(result: dict[str, Any]) -> dict[str, Any]:
    if result.get("isError"):
        raise RuntimeError(result["content"][0]["text"])
    return result["structuredContent"]


def threads(count: int, work: Callable[[int], None]) -> float:
    """Run `work(i)` in `count` threads; wall seconds."""
    workers = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


# -- measurements ---------------------------------------------------------------------------


def orchestrate_latency(server: Server, sizes: list[int], calls: int) -> list[dict[str, Any]]:
    """p50 of task_orchestrate in swarms of each size, brains trained, against a retrieve's p50."""
    client = server.session()
    ok(client.call_tool("memory_usage", {"action": "store", "key": "probe", "value": 1}))
    rows = []
    for size in sizes:
        swarm = ok(client.call_tool("swarm_init", {"topology": "mesh", "maxAgents": size, "strategy": "adaptive"}))["swarm"]
        sid = swarm["swarm_id"]
        kinds = ["coder", "tester", "reviewer", "documenter", "architect", "researcher", "analyst", "optimizer"]
        for i in range(size):
            ok(client.call_tool("agent_spawn", {"type": kinds[i % len(kinds)], "swarmId": sid}))
        # Every agent learns from one finished subtask, so routing runs the brains' forward pass.
        plan = [{"id": f"w{i}", "description": f"Implement warm-up part {i}"} for i in range(size)]
        for start in range(0, size, 200):
            ok(client.call_tool("task_orchestrate", {"task": "warm-up", "swarmId": sid, "subtasks": plan[start:start + 200]}))
        while (claim := ok(client.call_tool("task_claim", {"swarmId": sid})))["claimed"]:
            ok(client.call_tool("task_complete", {"taskId": claim["subtask_id"], "result": "ok"}))
        trained = ok(client.call_tool("neural_train", {"agentId": "all", "iterations": 5}))["count"]
        for _ in range(20):  # warm the paths (and the forward kernel for this capacity)
            ok(client.call_tool("task_orchestrate", {"task": "Implement the cache and test it", "swarmId": sid}))
        latencies, baseline = [], []
        for i in range(calls):
            started = time.perf_counter()
            task = ok(client.call_tool("task_orchestrate", {"task": f"Implement feature {i} and write its tests",
                                                            "swarmId": sid}))["task"]
            latencies.append(time.perf_counter() - started)
            ok(client.call_tool("task_cancel", {"taskId": task["task_id"]}))
            started = time.perf_counter()
            ok(client.call_tool("memory_usage", {"action": "retrieve", "key": "probe"}))
            baseline.append(time.perf_counter() - started)
        scorer = task["subtasks"][0].get("decision", {}) if False else None
        detail = ok(client.call_tool("task_status", {"taskId": task["task_id"], "detailed": True}))["task"]
        scorers = {s["decision"]["scorer"] for s in detail["subtasks"] if s.get("decision")}
        rows.append({"agents": size, "brains_trained": trained, "scorer": sorted(scorers), "calls": calls,
                     "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
                     "baseline_p50_ms": percentile(baseline, 0.5) * 1000})
        ok(client.call_tool("swarm_destroy", {"swarmId": sid}))
        del scorer
    client.close()
    return rows


def spawn_rate(server: Server, total: int, in_flight: int) -> dict[str, Any]:
    """agent_spawn with `in_flight` concurrent connections; memory_usage store the same way."""
    setup = server.session()
    rss_before = server.rss_mb()
    sid = ok(setup.call_tool("swarm_init", {"topology": "mesh", "maxAgents": total}))["swarm"]["swarm_id"]
    clients = [server.session() for _ in range(in_flight)]
    latencies: list[float] = []
    ids: list[str] = []
    lock = threading.Lock()

    def spawner(k: int) -> None:
        mine, got = [], []
        for _ in range(k, total, in_flight):
            started = time.perf_counter()
            agent = ok(clients[k].call_tool("agent_spawn", {"type": "coder", "swarmId": sid}))["agent"]
            mine.append(time.perf_counter() - started)
            got.append(agent["agent_id"])
        with lock:
            latencies.extend(mine)
            ids.extend(got)

    elapsed = threads(in_flight, spawner)
    time.sleep(1.0)
    rss_after = server.rss_mb()
    listed, cursor = [], None
    while True:
        page = ok(setup.call_tool("agent_list", {"swarmId": sid, "limit": 1000, **({"cursor": cursor} if cursor else {})}))
        listed += [a["agent_id"] for a in page["agents"]]
        if not (cursor := page["next_cursor"]):
            break
    base_latencies: list[float] = []

    def storer(k: int) -> None:
        mine = []
        for i in range(k, total, in_flight):
            started = time.perf_counter()
            ok(clients[k].call_tool("memory_usage", {"action": "store", "namespace": "bench", "key": f"k{i}", "value": i}))
            mine.append(time.perf_counter() - started)
        with lock:
            base_latencies.extend(mine)

    base_elapsed = threads(in_flight, storer)
    ok(setup.call_tool("swarm_destroy", {"swarmId": sid}))
    for client in [*clients, setup]:
        client.close()
    return {
        "spawns": total, "in_flight": in_flight, "per_s": total / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
        "unique_ids": len(set(ids)), "listed": len(set(listed)),
        "baseline_store_per_s": total / base_elapsed, "baseline_p99_ms": percentile(base_latencies, 0.99) * 1000,
        "rss_before_mb": rss_before, "rss_after_mb": rss_after, "extra_rss_mb": rss_after - rss_before,
    }


def claim_throughput(server: Server, subtasks: int, clients_n: int) -> dict[str, Any]:
    """claim -> complete pairs/s with `clients_n` clients; store -> retrieve pairs the same way."""
    setup = server.session()
    sid = ok(setup.call_tool("swarm_init", {"topology": "mesh", "maxAgents": 32, "strategy": "balanced"}))["swarm"]["swarm_id"]
    for _ in range(32):
        ok(setup.call_tool("agent_spawn", {"type": "coder", "swarmId": sid}))
    for start in range(0, subtasks, 200):
        plan = [{"id": f"s{i}", "description": f"Implement part {i}"} for i in range(start, min(subtasks, start + 200))]
        ok(setup.call_tool("task_orchestrate", {"task": "bench", "swarmId": sid, "subtasks": plan}))
    warmer = server.session()
    warm = min(400, subtasks // 4)  # the brains' kernels compile on the first experiences: not measured
    for _ in range(warm):
        claim = ok(warmer.call_tool("task_claim", {"swarmId": sid}))
        ok(warmer.call_tool("task_complete", {"taskId": claim["subtask_id"], "result": "ok"}))
    ok(warmer.call_tool("neural_train", {"agentId": "all", "iterations": 1}))  # brains trained: steady state
    warmer.close()
    time.sleep(2)
    # Client processes, not threads: one Python process with 8 clients is itself the bottleneck.
    elapsed, pairs = processes(clients_n, _claim_worker, server.port, sid)
    per_client = pairs // clients_n
    base_elapsed, base_pairs = processes(clients_n, _store_worker, server.port, per_client)
    status = ok(setup.call_tool("swarm_status", {"swarmId": sid}))["swarms"][0]
    setup.close()
    return {"clients": clients_n, "client_processes": True, "pairs": pairs, "pairs_per_s": pairs / elapsed,
            "baseline_pairs_per_s": base_pairs / base_elapsed,
            "completed_all_time": status["subtasks"]["completed_all_time"]}


def _claim_worker(k: int, port: int, sid: str) -> int:
    client = LineClient.connect("127.0.0.1", port)
    client.initialize()
    done = 0
    while True:
        claim = ok(client.call_tool("task_claim", {"swarmId": sid}))
        if not claim["claimed"]:
            return done
        ok(client.call_tool("task_complete", {"taskId": claim["subtask_id"], "result": "ok"}))
        done += 1


def _store_worker(k: int, port: int, count: int) -> int:
    client = LineClient.connect("127.0.0.1", port)
    client.initialize()
    for i in range(count):
        ok(client.call_tool("memory_usage", {"action": "store", "namespace": f"b{k}", "key": f"k{i}", "value": i}))
        ok(client.call_tool("memory_usage", {"action": "retrieve", "namespace": f"b{k}", "key": f"k{i}"}))
    return count


def processes(count: int, work: Callable[..., int], *args: Any) -> tuple[float, int]:
    """Run `work(i, *args)` in `count` forked processes released together; (wall seconds, sum of results)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    go = context.Event()
    results = context.Queue()

    def child(i: int) -> None:
        go.wait()
        results.put(work(i, *args))

    children = [context.Process(target=child, args=(i,)) for i in range(count)]
    for c in children:
        c.start()
    time.sleep(0.5)  # every child connected and waiting
    started = time.perf_counter()
    go.set()
    total = sum(results.get() for _ in children)
    elapsed = time.perf_counter() - started
    for c in children:
        c.join()
    return elapsed, total


def routing_curve(tasks: int) -> dict[str, Any]:
    """The hidden-skill workload in process: neural routing against round-robin."""
    from swarm_mcp.app import open_app
    from swarm_mcp.config import load_config
    from swarm_mcp.swarm._workload import WorkloadResult, run_skill_workload

    async def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as home:
            async with open_app(load_config({"data_dir": home}, {})) as app:
                baseline = await run_skill_workload(app.swarm, routing="round_robin", tasks=tasks, seed=3)
                neural = await run_skill_workload(app.swarm, routing="neural", tasks=tasks, seed=3)
        return {"tasks": tasks, "expected_round_robin": WorkloadResult.expected_round_robin(),
                "round_robin": {"rate": baseline.rate(), "last_200": baseline.rate(-200), "curve": baseline.curve()},
                "neural": {"rate": neural.rate(), "last_200": neural.rate(-200), "curve": neural.curve(),
                           "seconds": neural.seconds}}

    import logging

    logging.disable(logging.CRITICAL)
    from swarm_mcp.logs import configure_logging

    configure_logging("error", None)
    return asyncio.run(run())


def transfer_gain(seeds: int) -> dict[str, Any]:
    """The domain-transfer workload in process, once per seed: daa_meta_learning's cross-validated
    error on the target domain (testing) when starting from the source domain's (coding) weights,
    against training from scratch on the same target data, for each transfer mode."""
    from swarm_mcp.app import open_app
    from swarm_mcp.config import load_config
    from swarm_mcp.swarm import daa, transfer
    from swarm_mcp.swarm._workload import run_transfer_workload

    modes = ("direct", "gradual", "adaptive")

    async def run() -> dict[str, Any]:
        runs: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory() as home:
            async with open_app(load_config({"data_dir": home}, {})) as app:
                engine = app.swarm
                for seed in range(seeds):
                    swarm, _ = await daa.init(engine, enable_learning=True, enable_coordination=True,
                                              persistence_mode="memory", topology="mesh", swarm_id=None, max_agents=4)
                    agents = [f"transfer-{seed}-{i}" for i in range(4)]
                    for agent_id in agents:
                        await daa.create_agent(engine, agent_id=agent_id, capabilities=["code"], pattern="adaptive",
                                               learning_rate=None, memory=False, agent_type=None, swarm_id=swarm.id)
                    await run_transfer_workload(engine, swarm.id, agents, source_tasks=48, target_tasks=16, seed=seed)
                    runs.append({m: (await transfer.meta_learn(engine, "code", "testing", m, agents, None))["measured"]
                                 for m in modes})
                    await engine.destroy_swarm(swarm.id)

        def mean(mode: str, key: str) -> float:
            return sum(r[mode][key] for r in runs) / len(runs)

        return {"seeds": seeds, "agents": 4, "source_tasks": 48, "target_tasks": 16, "runs": runs,
                "modes": {m: {"mse_scratch": mean(m, "mse_scratch"), "mse_transfer": mean(m, "mse_transfer"),
                              "gain": mean(m, "gain"), "relative_gain": mean(m, "relative_gain"),
                              "accuracy_scratch": mean(m, "accuracy_scratch"),
                              "accuracy_transfer": mean(m, "accuracy_transfer"),
                              "positive": sum(r[m]["gain"] > 0 for r in runs)} for m in modes}}

    import logging

    logging.disable(logging.CRITICAL)
    from swarm_mcp.logs import configure_logging

    configure_logging("error", None)
    return asyncio.run(run())


def print_transfer(transfer: dict[str, Any]) -> None:
    for mode, m in transfer["modes"].items():
        print(f"{'meta-learning code -> testing, %s, MSE (%d seeds)' % (mode, transfer['seeds']):<58} "
              f"{m['mse_transfer']:>18.4f} {'scratch ' + format(m['mse_scratch'], '.4f'):>22}")
        print(f"{'  accuracy; seeds with a positive gain':<58} "
              f"{format(m['accuracy_transfer'], '.3f') + '; ' + str(m['positive']) + '/' + str(transfer['seeds']):>18} "
              f"{'scratch ' + format(m['accuracy_scratch'], '.3f'):>22}")


# -- report ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", choices=("claims",), help="run one measurement")
    parser.add_argument("--transfer-only", action="store_true", help="only the meta-learning transfer measurement")
    args = parser.parse_args()
    seeds = 10 if not args.quick else 3
    if args.only == "claims":
        with tempfile.TemporaryDirectory() as home:
            server = Server(home)
            try:
                print(claim_throughput(server, 4_000, 8))
            finally:
                server.close()
        return 0
    if args.transfer_only:
        transfer = transfer_gain(seeds)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "swarm-transfer.json").write_bytes(orjson.dumps(transfer, option=orjson.OPT_INDENT_2))
        print_transfer(transfer)
        return 0
    sizes = [1, 100, 1000] if not args.quick else [1, 50]
    spawns = 10_000 if not args.quick else 1_000
    subtasks = 4_000 if not args.quick else 400
    curve_tasks = 600 if not args.quick else 200
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}",
    }
    with tempfile.TemporaryDirectory() as home:
        server = Server(home)
        try:
            report["idle_rss_mb"] = server.rss_mb()
            report["orchestrate"] = orchestrate_latency(server, sizes, 200 if not args.quick else 40)
            report["spawn"] = spawn_rate(server, spawns, 64)
            report["claims"] = claim_throughput(server, subtasks, 8)
        finally:
            server.close()
    report["routing"] = routing_curve(curve_tasks)
    report["transfer"] = transfer_gain(seeds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "swarm.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"swarm benchmarks, {report['date']}, {report['machine']}")
    print(f"{'measure':<58} {'result':>18} {'baseline':>22}")
    for row in report["orchestrate"]:
        print(f"{'task_orchestrate p50, %d agents (%s)' % (row['agents'], '/'.join(row['scorer'])):<58} "
              f"{row['p50_ms']:>15.2f} ms {'retrieve ' + format(row['baseline_p50_ms'], '.2f') + ' ms':>22}")
    spawn = report["spawn"]
    print(f"{'agent_spawn, %d with %d in flight' % (spawn['spawns'], spawn['in_flight']):<58} "
          f"{spawn['per_s']:>13.0f} /s {'store ' + format(spawn['baseline_store_per_s'], '.0f') + ' /s':>22}")
    print(f"{'  p99; unique ids; listed':<58} {format(spawn['p99_ms'], '.1f') + ' ms; ' + str(spawn['unique_ids']) + '; ' + str(spawn['listed']):>18}")
    print(f"{'extra RSS for %d idle agents' % spawn['spawns']:<58} {spawn['extra_rss_mb']:>15.1f} MB "
          f"{'idle daemon ' + format(spawn['rss_before_mb'], '.1f') + ' MB':>22}")
    claims = report["claims"]
    print(f"{'claim -> complete pairs, %d clients' % claims['clients']:<58} {claims['pairs_per_s']:>13.0f} /s "
          f"{'store+retrieve ' + format(claims['baseline_pairs_per_s'], '.0f') + ' /s':>22}")
    routing = report["routing"]
    print(f"{'routing success, last 200 of %d tasks, neural' % routing['tasks']:<58} "
          f"{routing['neural']['last_200']:>18.3f} {'round-robin ' + format(routing['round_robin']['last_200'], '.3f'):>22}")
    print("  learning curve (success per 50 tasks):")
    for n, r in zip(routing["neural"]["curve"], routing["round_robin"]["curve"], strict=True):
        print(f"    {n['tasks']:>5} tasks: neural {n['success_rate']:.2f}   round-robin {r['success_rate']:.2f}")
    print_transfer(report["transfer"])
    print(f"results: {RESULTS / 'swarm.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
