"""Benchmark the memory store against baselines measured in the same run.

    /work/main/.venv/bin/python bench/memory.py [--entries 100000]

Prints a table and writes bench/results/memory.json. Each figure has a baseline doing the
same logical work with no store in between (a dict loop, raw sqlite3), so the ratio means
something on a noisy machine.
"""

from __future__ import annotations

import argparse
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

from swarm_mcp.memory import StoreConfig, open_store  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"
VOCAB = [f"w{i}" for i in range(5_000)]


def make_values(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"text": " ".join(rng.choices(VOCAB, k=10)), "n": i} for i in range(n)]


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


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
    """Raw sqlite3: executemany into a plain table (no FTS), point reads, and an FTS5 table."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, namespace TEXT, key TEXT, value TEXT, UNIQUE (namespace, key))")
    t = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO t (namespace, key, value) VALUES (?, ?, ?)", rows)
    con.execute("COMMIT")
    plain = rate(len(rows), time.perf_counter() - t)
    t = time.perf_counter()
    for k in lookups:
        con.execute("SELECT value FROM t WHERE namespace = ? AND key = ?", k).fetchone()
    point = rate(len(lookups), time.perf_counter() - t)
    con.execute("CREATE VIRTUAL TABLE f USING fts5 (key, body)")
    t = time.perf_counter()
    con.execute("BEGIN")
    con.executemany("INSERT INTO f (rowid, key, body) VALUES (?, ?, ?)",
                    ((i, r[1], orjson.loads(r[2])["text"]) for i, r in enumerate(rows, 1)))
    con.execute("COMMIT")
    fts = rate(len(rows), time.perf_counter() - t)
    con.close()
    return {"plain_insert_rows_s": plain, "fts_insert_rows_s": fts, "point_reads_s": point}


def baseline_search(path: Path, queries: list[str]) -> list[float]:
    con = sqlite3.connect(path)
    times = []
    for q in queries:
        t = time.perf_counter()
        con.execute("SELECT rowid, bm25(f) AS s FROM f WHERE f MATCH ? ORDER BY s LIMIT 10", (q,)).fetchall()
        times.append(time.perf_counter() - t)
    con.close()
    return times


def pct(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1e3


async def bench(n: int, workdir: Path) -> dict[str, Any]:
    values = make_values(n)
    keys = [("bench", f"item:{i}") for i in range(n)]
    rng = random.Random(1)
    lookups = rng.sample(keys, min(n, 20_000))
    queries = rng.choices(VOCAB, k=300)
    out: dict[str, Any] = {}

    # 1. puts: new keys, with the flusher running as in the daemon; then puts of hot keys
    #    with write-behind held back, which is the cost of the put path alone.
    db = workdir / "store.db"
    async with open_store(StoreConfig(path=db)) as store:
        put = store.put
        t = time.perf_counter()
        for (ns, key), v in zip(keys, values, strict=True):
            await put(ns, key, v)
        out["put_new_ops_s"] = rate(n, time.perf_counter() - t)
        await store.flush()
    async with open_store(StoreConfig(path=workdir / "put.db", flush_interval=3600, flush_max_dirty=10 * n)) as store:
        put = store.put
        for (ns, key), v in zip(keys, values, strict=True):
            await put(ns, key, v)
        t = time.perf_counter()
        for (ns, key), v in zip(keys, values, strict=True):
            await put(ns, key, v)
        out["put_hot_ops_s"] = rate(n, time.perf_counter() - t)

        # 2. flush: the dirty entries above in one transaction (FTS kept in step)
        t = time.perf_counter()
        rows = await store.flush()
        out["flush_one_batch_rows_s"] = rate(rows, time.perf_counter() - t)

        # flush in the default batch size (1,000 dirty entries), updates of existing rows
        total = 0.0
        for start in range(0, n, 1_000):
            for (ns, key), v in zip(keys[start:start + 1_000], values[start:start + 1_000], strict=True):
                await put(ns, key, v)
            t = time.perf_counter()
            await store.flush()
            total += time.perf_counter() - t
        out["flush_1k_batches_update_rows_s"] = rate(n, total)

        # 3. gets of hot keys
        get = store.get
        t = time.perf_counter()
        for ns, key in keys:
            await get(ns, key)
        out["get_hot_ops_s"] = rate(n, time.perf_counter() - t)

        # 4. search over n entries (everything flushed)
        times = []
        for q in queries:
            t = time.perf_counter()
            await store.search(q, namespace="bench")
            times.append(time.perf_counter() - t)
        out["search_p50_ms"], out["search_p99_ms"] = pct(times, 0.5), pct(times, 0.99)
        hits = await store.search(queries[0])
        out["search_hits_per_query_sample"] = len(hits)

        # durable put latency: each call waits for its own transaction
        lat = []
        for i in range(300):
            t = time.perf_counter()
            await put("bench", f"durable:{i}", {"i": i}, durable=True)
            lat.append(time.perf_counter() - t)
        out["durable_put_p50_ms"], out["durable_put_p99_ms"] = pct(lat, 0.5), pct(lat, 0.99)

    # 5. read-through: a cold hot tier, every get reads SQLite
    async with open_store(StoreConfig(path=workdir / "put.db")) as store:
        get = store.get
        t = time.perf_counter()
        for ns, key in lookups:
            await get(ns, key)
        out["get_read_through_ops_s"] = rate(len(lookups), time.perf_counter() - t)

    # baselines
    raw_rows = [(ns, key, orjson.dumps(v).decode()) for (ns, key), v in zip(keys, values, strict=True)]
    base = baseline_sqlite(workdir / "raw.db", raw_rows, lookups)
    base_search = baseline_search(workdir / "raw.db", queries)
    out["baseline"] = {
        "dict_put_ops_s": baseline_dict_put(keys, values),
        "dict_get_ops_s": baseline_dict_get(keys),
        "sqlite_executemany_plain_rows_s": base["plain_insert_rows_s"],
        "sqlite_executemany_fts5_rows_s": base["fts_insert_rows_s"],
        "sqlite_point_reads_s": base["point_reads_s"],
        "sqlite_fts5_search_p50_ms": pct(base_search, 0.5),
        "sqlite_fts5_search_p99_ms": pct(base_search, 0.99),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="swarm-mem-bench-") as tmp:
        out = anyio.run(bench, args.entries, Path(tmp))
    b = out["baseline"]
    rows = [
        ("put, new keys (flusher running)", out["put_new_ops_s"], "ops/s", b["dict_put_ops_s"], "dict insert"),
        ("put, hot keys (put path only)", out["put_hot_ops_s"], "ops/s", b["dict_put_ops_s"], "dict insert"),
        ("get, hot", out["get_hot_ops_s"], "ops/s", b["dict_get_ops_s"], "dict get"),
        ("get, read-through", out["get_read_through_ops_s"], "ops/s", b["sqlite_point_reads_s"], "sqlite3 point read"),
        ("flush, one batch of new rows", out["flush_one_batch_rows_s"], "rows/s",
         b["sqlite_executemany_plain_rows_s"], "sqlite3 executemany, no FTS"),
        ("flush, 1k-row batches of updates", out["flush_1k_batches_update_rows_s"], "rows/s",
         b["sqlite_executemany_fts5_rows_s"], "sqlite3 executemany into FTS5"),
        ("search p50", out["search_p50_ms"], "ms", b["sqlite_fts5_search_p50_ms"], "raw FTS5 bm25 top-10"),
        ("search p99", out["search_p99_ms"], "ms", b["sqlite_fts5_search_p99_ms"], "raw FTS5 bm25 top-10"),
        ("durable put p50", out["durable_put_p50_ms"], "ms", None, ""),
    ]
    print(f"memory store, {args.entries} entries, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    print(f"{'measure':36} {'value':>12} {'unit':6} {'baseline':>12}  ratio  baseline is")
    for name, value, unit, baseline, what in rows:
        ratio = f"{value / baseline:5.2f}" if baseline else "    -"
        base = f"{baseline:12,.1f}" if baseline else f"{'-':>12}"
        print(f"{name:36} {value:12,.1f} {unit:6} {base}  {ratio}  {what}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out["meta"] = {"entries": args.entries, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                   "cpus": os.cpu_count(), "time": time.time()}
    RESULTS.write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
