"""Benchmark the memory store against baselines measured in the same run.

    .venv/bin/python bench/memory.py [--entries 100000] [--repeat 1]

Prints a table and writes bench/results/memory.json. Each figure has a baseline doing the same
logical work with no store in between (a dict loop, raw sqlite3), or the same store with one
thing switched off, so the ratio means something on a noisy machine.

What it measures (N = --entries, default 100,000):
  keys    namespace "bench", keys "item:0" .. "item:N-1" (new: never stored before)
  values  {"text": 10 words from a 5,000-word vocabulary, "n": i}: about 80 bytes of JSON;
          no tags, metadata, agent_id or TTL
  put     one task awaiting `put` in a loop, nothing else running. "flusher at defaults" is
          StoreConfig's defaults, as the daemon runs: flush_interval 0.05 s, flush_max_dirty
          1,000, hot_max_entries 100,000; the flusher flushes and then indexes the FTS backlog
          in 1,000-row transactions while the puts run. "held back" sets flush_interval 3,600 s
          and flush_max_dirty > N, so nothing is written during the loop: the put path alone.
  flush   `flush()` of N dirty entries (or of 1,000 at a time): the durable commit (entries,
          tombstones, the rowids of changed entries in fts_backlog). Not FTS tokenizing.
  index   `index_backlog()`: the FTS step the flush no longer does (one transaction for all,
          or 1,000-row transactions as the background flusher runs it).
  search  `search(word, namespace="bench")` top 10 over N entries, 300 random words; idle, and
          while the flusher writes the access times of N entries just read (the case that
          used to queue a search behind a write).
  stdio   1,000 `memory_usage` store+retrieve pairs (2,000 sequential tool calls) through a real
          `swarm-mcp serve` subprocess with the lean client `swarm_mcp.client`, default log level;
          baseline: 2,000 `ping`s over the same pipe (the protocol's round-trip floor).
CPU figures are the event-loop thread's (time.thread_time); SQLite runs on worker threads.
The process imports what `swarm-mcp serve` imports and then runs with the collector settings the
daemon uses (`swarm_mcp.heap.settle`: startup objects frozen, gen-0 threshold 10,000); the row
"default GC" repeats the held-back new-key puts first with CPython's defaults, as the baseline.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import swarm_mcp.daemon  # noqa: E402,F401  (the daemon's heap: the SDK, pydantic, the tools)
import swarm_mcp.transports.stdio  # noqa: E402,F401
from swarm_mcp import heap  # noqa: E402
from swarm_mcp.client import LineClient  # noqa: E402
from swarm_mcp.memory import StoreConfig, open_store  # noqa: E402
from swarm_mcp.memory._schema import MIGRATIONS, _split  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"
VOCAB = [f"w{i}" for i in range(5_000)]
COLUMNS = "namespace, key, value, tags, metadata, agent_id, version, created, updated, accessed, access_count, expires_at, size"


def make_values(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"text": " ".join(rng.choices(VOCAB, k=10)), "n": i} for i in range(n)]


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def pct(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1e3


def held_back(path: Path, n: int) -> StoreConfig:
    return StoreConfig(path=path, flush_interval=3600, flush_max_dirty=10 * n)


# ---- baselines: the same work without the store ---------------------------------------------

def baseline_dict_put(keys: list[tuple[str, str]], values: list[Any]) -> float:
    d: dict[tuple[str, str], Any] = {}
    t = time.perf_counter()
    for k, v in zip(keys, values, strict=True):
        d[k] = v
    return rate(len(keys), time.perf_counter() - t)


def baseline_dict_get(keys: list[tuple[str, str]]) -> float:
    d = dict.fromkeys(keys, 1)
    t = time.perf_counter()
    for k in keys:
        d.get(k)
    return rate(len(keys), time.perf_counter() - t)


def baseline_sqlite(path: Path, rows: list[tuple[Any, ...]], lookups: list[tuple[str, str]]) -> dict[str, float]:
    """Raw sqlite3 on an idle thread: executemany of the same rows into a table shaped like
    `entries` (v1 schema, same unique index, no FTS) in one transaction; point reads; and
    executemany into a standalone FTS5 table of the text already extracted in Python."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(_split(MIGRATIONS[0][2])[0])  # CREATE TABLE entries (...) as schema v1 has it
    t = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(f"INSERT INTO entries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    plain = rate(len(rows), time.perf_counter() - t)
    t = time.perf_counter()
    for k in lookups:
        con.execute(f"SELECT {COLUMNS} FROM entries WHERE namespace = ? AND key = ?", k).fetchone()
    point = rate(len(lookups), time.perf_counter() - t)
    con.execute("CREATE VIRTUAL TABLE f USING fts5 (key, body, tokenize = 'unicode61 remove_diacritics 2')")
    t = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO f (rowid, key, body) VALUES (?, ?, ?)",
                    ((i, r[1], orjson.loads(r[2])["text"]) for i, r in enumerate(rows, 1)))
    con.execute("COMMIT")
    fts = rate(len(rows), time.perf_counter() - t)
    con.close()
    return {"entries_insert_rows_s": plain, "fts5_insert_rows_s": fts, "point_reads_s": point}


def baseline_search(path: Path, queries: list[str]) -> list[float]:
    con = sqlite3.connect(path)
    times = []
    for q in queries:
        t = time.perf_counter()
        con.execute("SELECT rowid, bm25(f) AS s FROM f WHERE f MATCH ? ORDER BY s LIMIT 10", (q,)).fetchall()
        times.append(time.perf_counter() - t)
    con.close()
    return times


# ---- the store ------------------------------------------------------------------------------

async def put_loop(store: Any, keys: list[tuple[str, str]], values: list[Any]) -> tuple[float, float]:
    """(ops/s, event-loop CPU µs per put)."""
    put = store.put
    c = time.thread_time()
    t = time.perf_counter()
    for (ns, key), v in zip(keys, values, strict=True):
        await put(ns, key, v)
    wall = time.perf_counter() - t
    return rate(len(keys), wall), (time.thread_time() - c) / len(keys) * 1e6


async def bench(n: int, workdir: Path) -> dict[str, Any]:
    values = make_values(n)
    keys = [("bench", f"item:{i}") for i in range(n)]
    rng = random.Random(1)
    lookups = rng.sample(keys, min(n, 20_000))
    queries = rng.choices(VOCAB, k=300)
    out: dict[str, Any] = {}

    # 0. new-key puts, write-behind held back, with CPython's collector defaults; from then on
    #    the daemon's settings (`heap.settle`)
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    async with open_store(held_back(workdir / "default-gc.db", n)) as store:
        out["put_new_default_gc_ops_s"], out["put_new_default_gc_cpu_us"] = await put_loop(store, keys, values)
    heap.settle()

    # 1. puts of new keys with the flusher at its defaults; the same puts with write-behind
    #    held back (the put path alone); puts of hot keys.
    async with open_store(StoreConfig(path=workdir / "defaults.db")) as store:
        out["put_new_flusher_ops_s"], out["put_new_flusher_cpu_us"] = await put_loop(store, keys, values)
        out["put_new_flusher_flushes"] = store.flush_count
        # the first search after the burst commits and indexes whatever the flusher has not yet
        t = time.perf_counter()
        await store.search(queries[0], namespace="bench")
        out["search_after_burst_ms"] = (time.perf_counter() - t) * 1e3

        # 6. search while the background flusher writes the access times of N entries just read
        get = store.get
        for ns, key in keys:
            await get(ns, key)
        flushes = store.flush_count
        times = []
        for q in queries[:100]:
            t = time.perf_counter()
            await store.search(q, namespace="bench")
            times.append(time.perf_counter() - t)
        out["search_during_touch_flush_p50_ms"] = pct(times, 0.5)
        out["search_during_touch_flush_p99_ms"] = pct(times, 0.99)
        out["search_during_touch_flush_flushes"] = store.flush_count - flushes
    async with open_store(held_back(workdir / "put.db", n)) as store:
        out["put_new_held_ops_s"], out["put_new_held_cpu_us"] = await put_loop(store, keys, values)

        # 2. flush: the N new rows above in one transaction, then FTS indexing of them
        c, t = time.thread_time(), time.perf_counter()
        rows = await store.flush()
        out["flush_new_rows_s"] = rate(rows, time.perf_counter() - t)
        out["flush_new_cpu_us_per_row"] = (time.thread_time() - c) / rows * 1e6
        t = time.perf_counter()
        indexed = await store.index_backlog()
        out["index_new_rows_s"] = rate(indexed, time.perf_counter() - t)

        out["put_hot_ops_s"], out["put_hot_cpu_us"] = await put_loop(store, keys, values)
        await store.flush()
        await store.index_backlog()  # same values: the trigger sees no change, nothing to index

        # 3. updates (new text) in the flusher's default batch of 1,000: flush, then index
        new_values = make_values(n, seed=8)
        flush_s = index_s = 0.0
        for start in range(0, n, 1_000):
            for (ns, key), v in zip(keys[start:start + 1_000], new_values[start:start + 1_000], strict=True):
                await store.put(ns, key, v)
            t = time.perf_counter()
            await store.flush()
            flush_s += time.perf_counter() - t
            t = time.perf_counter()
            await store.index_backlog(limit=1_000)
            index_s += time.perf_counter() - t
        out["flush_update_1k_rows_s"] = rate(n, flush_s)
        out["index_update_1k_rows_s"] = rate(n, index_s)

        # 4. gets of hot keys
        get = store.get
        t = time.perf_counter()
        for ns, key in keys:
            await get(ns, key)
        out["get_hot_ops_s"] = rate(n, time.perf_counter() - t)
        await store.flush()  # write those access times now: the idle search below is idle

        # 5. search over N entries, idle
        times = []
        for q in queries:
            t = time.perf_counter()
            await store.search(q, namespace="bench")
            times.append(time.perf_counter() - t)
        out["search_p50_ms"], out["search_p99_ms"] = pct(times, 0.5), pct(times, 0.99)
        out["search_hits_sample"] = len(await store.search(queries[0], namespace="bench"))

        # durable put latency: each call waits for its own transaction
        lat = []
        for i in range(300):
            t = time.perf_counter()
            await store.put("bench", f"durable:{i}", {"i": i}, durable=True)
            lat.append(time.perf_counter() - t)
        out["durable_put_p50_ms"], out["durable_put_p99_ms"] = pct(lat, 0.5), pct(lat, 0.99)

    # 7. read-through: a cold hot tier, every get reads SQLite (on the read connection)
    async with open_store(StoreConfig(path=workdir / "put.db")) as store:
        get = store.get
        t = time.perf_counter()
        for ns, key in lookups:
            await get(ns, key)
        out["get_read_through_ops_s"] = rate(len(lookups), time.perf_counter() - t)

    # baselines
    now = time.time()
    raw_rows = [(ns, key, orjson.dumps(v).decode(), "[]", None, None, 1, now, now, now, 0, None, 100)
                for (ns, key), v in zip(keys, values, strict=True)]
    base = baseline_sqlite(workdir / "raw.db", raw_rows, lookups)
    base_search = baseline_search(workdir / "raw.db", queries)
    out["baseline"] = {
        "dict_put_ops_s": baseline_dict_put(keys, values),
        "dict_get_ops_s": baseline_dict_get(keys),
        "sqlite_executemany_entries_rows_s": base["entries_insert_rows_s"],
        "sqlite_executemany_fts5_rows_s": base["fts5_insert_rows_s"],
        "sqlite_point_reads_s": base["point_reads_s"],
        "sqlite_fts5_search_p50_ms": pct(base_search, 0.5),
        "sqlite_fts5_search_p99_ms": pct(base_search, 0.99),
    }
    return out


def stdio_pairs(workdir: Path, pairs: int = 1_000) -> dict[str, float]:
    """Seconds for `pairs` store+retrieve pairs over stdio, and for 2x`pairs` pings (the floor)."""
    env = {**os.environ, "SWARM_MCP_HOME": str(workdir / "stdio-home"), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with open(workdir / "stdio.stderr", "wb") as err, LineClient.spawn(
        [sys.executable, "-m", "swarm_mcp", "serve"], env=env, stderr=err
    ) as client:
        client.initialize()
        started = time.perf_counter()
        for _ in range(2 * pairs):
            client.request("ping")
        pings = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(pairs):
            stored = client.call_tool("memory_usage", {"action": "store", "key": f"pair:{i}", "value": {"i": i, "text": VOCAB[i]}})
            got = client.call_tool("memory_usage", {"action": "retrieve", "key": f"pair:{i}"})
            if stored["isError"] or got["structuredContent"]["entry"]["value"]["i"] != i:
                raise RuntimeError(f"pair {i} failed: {stored} {got}")
        return {"stdio_pairs_s": time.perf_counter() - started, "stdio_pings_s": pings}


ROWS = [
    # (label, key, unit, baseline key or a key of `out`, what the baseline is)
    ("put new keys, flusher at defaults", "put_new_flusher_ops_s", "ops/s", "put_new_held_ops_s", "same puts, write-behind held back"),
    ("  event-loop CPU per put", "put_new_flusher_cpu_us", "us", "put_new_held_cpu_us", "same, held back"),
    ("put new keys, write-behind held back", "put_new_held_ops_s", "ops/s", "b:dict_put_ops_s", "dict insert"),
    ("  the same, default GC", "put_new_default_gc_ops_s", "ops/s", "put_new_held_ops_s", "held back, daemon's GC"),
    ("put hot keys, held back", "put_hot_ops_s", "ops/s", "b:dict_put_ops_s", "dict insert"),
    ("get hot", "get_hot_ops_s", "ops/s", "b:dict_get_ops_s", "dict get"),
    ("get read-through", "get_read_through_ops_s", "ops/s", "b:sqlite_point_reads_s", "sqlite3 point read"),
    ("flush N new rows, one txn (no FTS)", "flush_new_rows_s", "rows/s", "b:sqlite_executemany_entries_rows_s", "sqlite3 executemany, same table, idle"),
    ("  event-loop CPU per flushed row", "flush_new_cpu_us_per_row", "us", None, ""),
    ("index FTS of N new rows, one txn", "index_new_rows_s", "rows/s", "b:sqlite_executemany_fts5_rows_s", "sqlite3 executemany into FTS5"),
    ("flush updates, 1k-row txns", "flush_update_1k_rows_s", "rows/s", "b:sqlite_executemany_entries_rows_s", "sqlite3 executemany, same table, idle"),
    ("index FTS of updates, 1k-row txns", "index_update_1k_rows_s", "rows/s", "b:sqlite_executemany_fts5_rows_s", "sqlite3 executemany into FTS5"),
    ("search p50, idle", "search_p50_ms", "ms", "b:sqlite_fts5_search_p50_ms", "raw FTS5 bm25 top-10"),
    ("search p99, idle", "search_p99_ms", "ms", "b:sqlite_fts5_search_p99_ms", "raw FTS5 bm25 top-10"),
    ("search p50, access times flushing", "search_during_touch_flush_p50_ms", "ms", "search_p50_ms", "search p50, idle"),
    ("search p99, access times flushing", "search_during_touch_flush_p99_ms", "ms", "search_p99_ms", "search p99, idle"),
    ("first search after the put burst", "search_after_burst_ms", "ms", None, "(flushes and indexes the rest)"),
    ("durable put p50", "durable_put_p50_ms", "ms", None, ""),
    ("durable put p99", "durable_put_p99_ms", "ms", None, ""),
    ("1,000 store+retrieve pairs over stdio", "stdio_pairs_s", "s", "stdio_pings_s", "2,000 pings, same pipe"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="run the whole benchmark this many times; print ranges")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="swarm-mem-bench-") as tmp:
            run = anyio.run(bench, args.entries, Path(tmp))
            run.update(stdio_pairs(Path(tmp)))
            runs.append(run)
    print(f"memory store, {args.entries} entries, {args.repeat} run(s), Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"{'measure':40} {'value (median; range)':>30} {'unit':6} {'baseline':>12}  ratio  baseline is")
    for label, key, unit, base_key, what in ROWS:
        vals = [r[key] for r in runs]
        bases = [] if base_key is None else [
            r["baseline"][base_key[2:]] if base_key.startswith("b:") else r[base_key] for r in runs
        ]
        med = statistics.median(vals)
        spread = f"{med:,.1f}" + (f" ({min(vals):,.1f}-{max(vals):,.1f})" if len(vals) > 1 else "")
        if bases:
            ratios = [v / b for v, b in zip(vals, bases, strict=True)]
            ratio = f"{statistics.median(ratios):5.2f}"
            base = f"{statistics.median(bases):12,.1f}"
        else:
            ratio, base = "    -", f"{'-':>12}"
        print(f"{label:40} {spread:>30} {unit:6} {base}  {ratio}  {what}")
    flushes = [r["put_new_flusher_flushes"] for r in runs]
    print(f"flushes committed during the put loop: {flushes}; during the searches: "
          f"{[r['search_during_touch_flush_flushes'] for r in runs]}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    meta = {"entries": args.entries, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(), "load": os.getloadavg(), "time": time.time()}
    RESULTS.write_bytes(orjson.dumps({"runs": runs, "meta": meta}, option=orjson.OPT_INDENT_2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
