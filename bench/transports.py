"""Transport benchmarks: cold start, tool-call latency and throughput per transport, idle RSS,
an attached session's cold start and the relay's added latency, and swarm-mcp side by side with
ruv-swarm.

    python bench/transports.py [--calls N] [--quick] [--no-ruv-swarm]   (also: swarm-mcp bench transports)

Prints a table and writes bench/results/transports.json. Every figure is measured in this run
next to its baseline: the interpreter's own start for cold start, the MCP SDK's MCPServer on
its own stdio transport for tool calls (the same cheap read-only tool shape), and ruv-swarm
(pinned, installed from npm into ~/.cache/swarm-mcp/ruv-swarm) for the calls users make first:
cold start to exit (spawn, `initialize`, `tools/list`, EOF, exit) and the default `memory_usage`
stats call. Runs alternate between the two servers, so ratios hold on a noisy machine even when
absolute times do not.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
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
sys.path.insert(0, str(ROOT / "bench"))

from _ruv_swarm import RUV_SWARM_VERSION, RuvSwarmUnavailable, install_ruv_swarm, ruv_swarm_argv  # noqa: E402

from swarm_mcp.client import HttpClient, LineClient  # noqa: E402

PY = sys.executable
TOOL, ARGS = "features_detect", {"category": "transports"}
RESULTS = ROOT / "bench" / "results"


def server_env(home: str) -> dict[str, str]:
    # The default log level (info): the one log line per tool call is part of what is measured.
    return {**os.environ, "SWARM_MCP_HOME": home, "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- measurements ---------------------------------------------------------------------------


def first_tools_list(argv: list[str], home: str) -> tuple[LineClient, float]:
    """Spawn a stdio session on data dir `home`: the client, and seconds to its first tools/list result."""
    started = time.perf_counter()
    client = LineClient.spawn(argv, env=server_env(home), stderr=subprocess.DEVNULL)
    client.initialize()
    client.request("tools/list")
    return client, time.perf_counter() - started


def cold_start(argv: list[str], runs: int) -> list[float]:
    """Seconds from spawn to the first tools/list result over stdio."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            client, seconds = first_tools_list(argv, home)
            times.append(seconds)
            client.close()
    return times


def attached_cold_start(argv: list[str], runs: int) -> dict[str, float]:
    """Seconds from spawn to the first tools/list result of a session that attaches to a running
    owner (the data dir's first session, kept open), next to a first session's own cold start
    measured the same way in the same run (alternating)."""
    attached, first = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            owner, seconds = first_tools_list(argv, home)
            first.append(seconds)
            session, seconds = first_tools_list(argv, home)
            attached.append(seconds)
            session.close()
            owner.close()
    return {"attached_median": statistics.median(attached), "first_session_median": statistics.median(first),
            "runs": runs}


def relay_latency(argv: list[str], n: int, block: int = 200) -> dict[str, Any]:
    """p50 of sequential calls on one owner by three paths, in alternating blocks of `block` calls
    so all three see the same machine load: the owner's own stdio session (direct), a line client
    on its socket (direct), and an attached stdio session (through the relay)."""
    with tempfile.TemporaryDirectory() as home:
        owner = LineClient.spawn(argv, env=server_env(home), stderr=subprocess.DEVNULL)
        owner.initialize()
        paths = {"direct_stdio": owner,
                 "direct_socket": LineClient.connect_unix(str(Path(home) / "swarm-mcp.sock")),
                 "attached": LineClient.spawn(argv, env=server_env(home), stderr=subprocess.DEVNULL)}
        for name, client in paths.items():
            if name != "direct_stdio":
                client.initialize()
        latencies: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(max(1, n // block)):
            for name, client in paths.items():
                for _ in range(20):
                    client.call_tool(TOOL, ARGS)  # warm this path up again after the others ran
                for _ in range(block):
                    t = time.perf_counter()
                    client.call_tool(TOOL, ARGS)
                    latencies[name].append(time.perf_counter() - t)
        for client in reversed(paths.values()):
            client.close()
    p50 = {name: statistics.median(values) * 1e6 for name, values in latencies.items()}
    return {"p50_us": p50, "calls_per_path": len(latencies["attached"]),
            "added_us_vs_stdio": p50["attached"] - p50["direct_stdio"],
            "added_us_vs_socket": p50["attached"] - p50["direct_socket"]}


def interpreter_start(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([PY, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return times


def sequential(call: Callable[[], Any], n: int) -> dict[str, float]:
    for _ in range(min(200, n)):
        call()  # warm up
    latencies = []
    started = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    return {
        "calls_per_s": n / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def pipelined(client: LineClient, n: int, in_flight: int) -> float:
    """Calls/s with `in_flight` requests outstanding on one connection."""
    def send() -> None:
        client.send({"jsonrpc": "2.0", "id": client.next_id(), "method": "tools/call", "params": {"name": TOOL, "arguments": ARGS}})

    started = time.perf_counter()
    sent = received = 0
    while sent < in_flight:
        send()
        sent += 1
    while received < n:
        reply = client.receive()
        assert "result" in reply and not reply["result"]["isError"], reply
        received += 1
        if sent < n:
            send()
            sent += 1
    return n / (time.perf_counter() - started)


def line_figures(client: LineClient, n: int) -> dict[str, float]:
    client.initialize()
    figures = sequential(lambda: client.call_tool(TOOL, ARGS), n)
    figures["in_flight_8_calls_per_s"] = pipelined(client, n, 8)
    return figures


def http_figures(port: int, n: int) -> dict[str, float]:
    with HttpClient("127.0.0.1", port) as client:
        client.initialize()
        figures = sequential(lambda: client.call_tool(TOOL, ARGS), n)
    per_thread = max(n // 8, 50)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with HttpClient("127.0.0.1", port) as c:
                c.initialize()
                for _ in range(per_thread):
                    c.call_tool(TOOL, ARGS)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    figures["connections_8_calls_per_s"] = 8 * per_thread / (time.perf_counter() - started)
    return figures


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def jax_loaded(pid: int) -> bool:
    return "jaxlib" in Path(f"/proc/{pid}/maps").read_text()


# -- side by side with ruv-swarm ------------------------------------------------------------


class TolerantLineClient(LineClient):
    """ruv-swarm prints banners and logs on stdout between its JSON-RPC lines: skip (and count) them."""

    skipped = 0

    def receive(self) -> dict[str, Any]:
        while True:
            line = self.reader.readline()
            if not line:
                raise EOFError("the server closed the connection")
            if line.lstrip().startswith(b"{"):
                try:
                    return orjson.loads(line)
                except orjson.JSONDecodeError:
                    pass
            self.skipped += 1


def start_to_exit(argv: list[str], env_for: Callable[[str], dict[str, str]]) -> tuple[float, int]:
    """Seconds for spawn, initialize, tools/list, then EOF and the process's exit; stdout noise lines."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        client = TolerantLineClient.spawn(argv, env=env_for(home), stderr=err, cwd=home)
        client.initialize()
        client.request("tools/list")
        client.close()  # EOF on stdin; returns once the process has exited
        elapsed = time.perf_counter() - started
        assert client.process is not None
        if client.process.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{argv[:2]} exited {client.process.returncode} after EOF:\n{tail}")
        return elapsed, client.skipped


def forget_tool_catalog() -> None:
    """Remove the cached tools/list (as after an install or an edit): the next start writes it."""
    for path in (ROOT / "swarm_mcp" / "tools" / "__pycache__").glob("catalog.*.json"):
        path.unlink()


def versus_ruv_swarm(ruv: list[str], ours: list[str], runs: int, calls: int, rounds: int) -> dict[str, Any]:
    """Cold start to exit and the default `memory_usage` call, alternating between the servers.
    Our cold start is measured twice: as every start after the first (the tools/list catalog is
    current) and as a first start after an install or an edit (no catalog: every tool module is
    imported and the catalog written)."""
    env_ours = server_env
    env_ruv = lambda home: {**os.environ, "HOME": home}  # noqa: E731
    starts: dict[str, list[float]] = {"swarm_mcp": [], "swarm_mcp_without_catalog": [], "ruv_swarm": []}
    noise = 0
    for _ in range(runs):
        forget_tool_catalog()
        starts["swarm_mcp_without_catalog"].append(start_to_exit(ours, env_ours)[0])
        starts["swarm_mcp"].append(start_to_exit(ours, env_ours)[0])
        seconds, skipped = start_to_exit(ruv, env_ruv)
        starts["ruv_swarm"].append(seconds)
        noise = max(noise, skipped)
    rates: dict[str, list[float]] = {"swarm_mcp": [], "ruv_swarm": []}
    with tempfile.TemporaryDirectory() as ours_home, tempfile.TemporaryDirectory() as ruv_home:
        with TolerantLineClient.spawn(ours, env=env_ours(ours_home), stderr=subprocess.DEVNULL, cwd=ours_home) as mine, \
                TolerantLineClient.spawn(ruv, env=env_ruv(ruv_home), stderr=subprocess.DEVNULL, cwd=ruv_home) as theirs:
            for client in (mine, theirs):
                client.initialize()
                reply = client.call_tool("memory_usage", {})
                assert not reply.get("isError"), reply
            for _ in range(rounds):
                rates["swarm_mcp"].append(sequential(lambda: mine.call_tool("memory_usage", {}), calls)["calls_per_s"])
                rates["ruv_swarm"].append(sequential(lambda: theirs.call_tool("memory_usage", {}), calls)["calls_per_s"])
    start = {name: statistics.median(values) for name, values in starts.items()}
    rate = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "ruv_swarm_version": RUV_SWARM_VERSION,
        "cold_start_to_exit_s": {**start, "runs": runs, "ratio": start["swarm_mcp"] / start["ruv_swarm"],
                                 "ratio_without_catalog": start["swarm_mcp_without_catalog"] / start["ruv_swarm"]},
        "memory_usage_stats_calls_per_s": {**rate, "calls": calls, "rounds": rounds,
                                           "ratio": rate["swarm_mcp"] / rate["ruv_swarm"]},
        "ruv_swarm_non_json_stdout_lines": noise,
    }


# -- driver ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000, help="calls per throughput figure")
    parser.add_argument("--runs", type=int, default=10, help="cold starts to take the median of")
    parser.add_argument("--quick", action="store_true", help="fewer calls and runs (a smoke test)")
    parser.add_argument("--no-ruv-swarm", action="store_true", help="skip the side-by-side with ruv-swarm (needs node and npm)")
    parser.add_argument("--attach-only", action="store_true", help="only the attached session's figures (and print them)")
    args = parser.parse_args()
    n, runs = (300, 3) if args.quick else (args.calls, args.runs)
    ours = [PY, "-m", "swarm_mcp", "serve"]
    sdk = [PY, str(ROOT / "bench" / "_sdk_baseline_server.py")]
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
        "calls": n,
    }

    if args.attach_only:
        attach = {"cold_start_s": attached_cold_start(ours, max(runs, 10)), "relay": relay_latency(ours, n * 2)}
        print(orjson.dumps({**results, "attach": attach}, option=orjson.OPT_INDENT_2).decode())
        return
    if not args.no_ruv_swarm:
        try:
            ruv = ruv_swarm_argv(install_ruv_swarm())
        except RuvSwarmUnavailable as exc:
            sys.exit(f"bench: {exc}\n(run with --no-ruv-swarm to skip the comparison)")
        results["versus_ruv_swarm"] = versus_ruv_swarm(ruv, ours, runs, n, rounds=3)
    results["attach"] = {"cold_start_s": attached_cold_start(ours, max(runs, 10)), "relay": relay_latency(ours, n * 2)}
    results["cold_start_s"] = {
        "swarm_mcp_median": statistics.median(cold_start(ours, runs)),
        "sdk_mcpserver_median": statistics.median(cold_start(sdk, runs)),
        "python_c_pass_median": statistics.median(interpreter_start(runs)),
    }
    with tempfile.TemporaryDirectory() as home:
        client = LineClient.spawn(ours, env=server_env(home), stderr=subprocess.DEVNULL)
        client.initialize()
        client.request("tools/list")
        time.sleep(0.5)
        assert client.process is not None
        results["idle"] = {"rss_bytes": rss_bytes(client.process.pid), "jax_loaded": jax_loaded(client.process.pid)}
        client.close()
    with tempfile.TemporaryDirectory() as home:
        with LineClient.spawn(ours, env=server_env(home), stderr=subprocess.DEVNULL) as client:
            results["stdio"] = line_figures(client, n)
    with LineClient.spawn(sdk, env=server_env(""), stderr=subprocess.DEVNULL) as client:
        results["sdk_mcpserver_stdio"] = line_figures(client, n)
    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        server = subprocess.Popen(
            [*ours, "--tcp", f"127.0.0.1:{port}"], env=server_env(home), stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client = LineClient.connect("127.0.0.1", port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            with client:
                results["tcp_lines"] = line_figures(client, n)
            results["http"] = http_figures(port, max(n // 3, 300))
        finally:
            server.terminate()
            server.wait(timeout=10)

    stdio, base = results["stdio"], results["sdk_mcpserver_stdio"]
    results["ratios"] = {
        "stdio_vs_sdk_sequential": stdio["calls_per_s"] / base["calls_per_s"],
        "stdio_vs_sdk_in_flight_8": stdio["in_flight_8_calls_per_s"] / base["in_flight_8_calls_per_s"],
        "cold_start_vs_sdk": results["cold_start_s"]["swarm_mcp_median"] / results["cold_start_s"]["sdk_mcpserver_median"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transports.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print_table(results)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def print_table(r: dict[str, Any]) -> None:
    rows = [
        ("cold start, spawn -> tools/list (median)", f"{r['cold_start_s']['swarm_mcp_median']:.3f} s",
         f"SDK MCPServer {r['cold_start_s']['sdk_mcpserver_median']:.3f} s; python -c pass {r['cold_start_s']['python_c_pass_median']:.3f} s", "<= 0.6 s"),
        ("idle RSS (JAX loaded: %s)" % r["idle"]["jax_loaded"], f"{r['idle']['rss_bytes'] / 2**20:.1f} MB", "", "<= 90 MB"),
    ]
    for name, key in (("stdio", "stdio"), ("TCP lines", "tcp_lines")):
        f = r[key]
        rows.append((f"{name}: sequential", f"{f['calls_per_s']:,.0f} calls/s", f"p50 {f['p50_ms']:.3f} ms, p99 {f['p99_ms']:.3f} ms", ">= 4,000/s, p50 <= 0.25 ms"))
        rows.append((f"{name}: 8 in flight", f"{f['in_flight_8_calls_per_s']:,.0f} calls/s", "", ">= 6,000/s"))
    b = r["sdk_mcpserver_stdio"]
    rows.append(("baseline SDK MCPServer stdio: sequential", f"{b['calls_per_s']:,.0f} calls/s", f"p50 {b['p50_ms']:.3f} ms", f"ours x{r['ratios']['stdio_vs_sdk_sequential']:.2f}"))
    rows.append(("baseline SDK MCPServer stdio: 8 in flight", f"{b['in_flight_8_calls_per_s']:,.0f} calls/s", "", f"ours x{r['ratios']['stdio_vs_sdk_in_flight_8']:.2f}"))
    h = r["http"]
    rows.append(("HTTP: sequential", f"{h['calls_per_s']:,.0f} calls/s", f"p50 {h['p50_ms']:.3f} ms, p99 {h['p99_ms']:.3f} ms", ">= 500/s"))
    rows.append(("HTTP: 8 connections", f"{h['connections_8_calls_per_s']:,.0f} calls/s", "", ""))
    a = r["attach"]
    c, rl = a["cold_start_s"], a["relay"]
    rows.append(("attached session: spawn -> tools/list (median)", f"{c['attached_median']:.3f} s",
                 f"the data dir's first session {c['first_session_median']:.3f} s (same run)", "<= 0.15 s"))
    rows.append(("relay: added p50 per call", f"{rl['added_us_vs_stdio']:+.0f} us",
                 f"attached {rl['p50_us']['attached']:.0f} us, owner's stdio {rl['p50_us']['direct_stdio']:.0f} us, "
                 f"socket client {rl['p50_us']['direct_socket']:.0f} us ({rl['added_us_vs_socket']:+.0f} us)", "<= 50 us"))
    v = r.get("versus_ruv_swarm")
    if v is not None:
        c, m = v["cold_start_to_exit_s"], v["memory_usage_stats_calls_per_s"]
        rows.append(("cold start to exit (spawn, initialize, tools/list, EOF)", f"{c['swarm_mcp']:.3f} s",
                     f"ruv-swarm {v['ruv_swarm_version']} {c['ruv_swarm']:.3f} s: ours x{c['ratio']:.2f}", "<= 0.7x ruv-swarm"))
        rows.append(("  the same, first start (no tools/list catalog yet)", f"{c['swarm_mcp_without_catalog']:.3f} s",
                     f"ours x{c['ratio_without_catalog']:.2f}", ""))
        rows.append(("memory_usage (default stats), sequential", f"{m['swarm_mcp']:,.0f} calls/s",
                     f"ruv-swarm {m['ruv_swarm']:,.0f} calls/s: ours x{m['ratio']:.2f}", ">= 2x ruv-swarm"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("measure", "result", "detail / baseline", "target")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"\nwritten to {RESULTS / 'transports.json'}")


if __name__ == "__main__":
    main()
