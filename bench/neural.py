"""Benchmark swarm_mcp.neural against C FANN 2.2.0; every ratio against its baseline in the same run.

    .venv/bin/python bench/neural.py [--epochs 1000] [--agents 10000] [--repeat 7]

(or `swarm-mcp bench neural -- ...`). Prints a table and writes bench/results/neural.json.
The setup installs libfann-dev (and gcc, tcmalloc) with apt-get when they are missing, then
compiles bench/c/fann_bench.c, a small C driver over Debian's libfloatfann.

What it measures:
  single   one network per data set, FANN's benchmark layouts (tests/data/fann/README.md),
           SIGMOID hidden and output, RPROP with FANN's defaults, `--epochs` epochs on `.train`
           from the same initial `.net` file (written by us, loaded by C); ms per epoch and
           MSE on `.test`. JAX: `train_on_data` (window 128), timed after a first call compiled it.
  epoch    `--agents` networks 8-16-4 (SIGMOID_SYMMETRIC), each with its own 32 samples, one
           RPROP epoch each. C: a loop of `fann_train_epoch` over the networks. JAX: one
           `Population.train(1)` call (window 1) from the same weights and data; the first
           epoch's MSE of every agent is checked against C's. Capacity: reserved = exactly
           `--agents` slots; bucket = the power-of-two bucket (16,384 for 10,000).
  fused    the same with 8 epochs per call (window 8): time per epoch.
  forward  `--agents` networks 128-64-32-8 (SIGMOID_SYMMETRIC), one input each. C: a loop of
           `fann_run`. JAX: `Population.forward` with the inputs already on the devices. The
           bandwidth bound is the weight bytes (f32, biases included) divided by the copy
           bandwidth of a 512 MiB numpy copy measured in this run (bytes read + written).
  compile  seconds per compiled population kernel (lowering + XLA), and what growing a
           population inside its bucket compiles (nothing) and past it (a new bucket).
  species  three layouts trained by `PopulationGroup.train(1)` (one call per species) against
           one jit over the tuple of species.
  --only-single runs just `single` (C, and JAX on glibc with 1 device): with --seeds 15, the
           test-MSE comparison over 15 initial networks in docs/benchmarks.md.
JAX runs in worker processes, one per deployment configuration: 1 or 2 host devices
(XLA_FLAGS=--xla_force_host_platform_device_count) × glibc malloc or LD_PRELOADed tcmalloc.
Timings are medians over `--repeat` calls, with [min-max]; C runs before and after the workers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fann_setup import build_driver, ensure_packages, machine, run_driver, say  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "tests" / "data" / "fann"
# FANN's benchmark layouts: inputs/outputs from the data, hidden layers from benchmark.sh
SINGLE = {
    "building": (14, 16, 3),
    "mushroom": (125, 32, 2),
    "thyroid": (21, 16, 8, 3),
    "parity8": (8, 16, 1),
    "two-spiral": (2, 20, 10, 1),
    "census-house": (16, 16, 1),
}
SMALL = (8, 16, 4)
BIG = (128, 64, 32, 8)
SAMPLES = 32
SPECIES = ((8, 16, 4), (12, 24, 6), (16, 8, 2))
CONFIGS = (("glibc", 1), ("tcmalloc", 1), ("glibc", 2), ("tcmalloc", 2))


def stats(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1e3 for s in seconds]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "n": len(ms)}


def timed(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


# ------------------------------------------------------------------------------ JAX worker
def _acts(hidden: str, output: str) -> dict[str, str]:
    return {"activation_hidden": hidden, "activation_output": output}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    from swarm_mcp.neural import (
        Batch,
        Layer,
        Params,
        PopulationGroup,
        compile_stats,
        create_population,
        create_standard,
        evaluate_data,
        read_data,
        read_net,
        train_on_data,
    )
    from swarm_mcp.neural._population_kernels import train_kernel

    out: dict[str, Any] = {"devices": len(jax.devices()), "ld_preload": os.environ.get("LD_PRELOAD", "")}
    n, repeat = args.agents, args.repeat
    sym = _acts("SIGMOID_SYMMETRIC", "SIGMOID_SYMMETRIC")

    if args.single:
        single = {}
        for name in SINGLE:
            train, test = read_data(DATA / f"{name}.train"), read_data(DATA / f"{name}.test")
            runs = []
            for seed in range(args.seeds):
                net = read_net(RESULTS / f"{name}_init{seed}.net")
                start = time.perf_counter()
                train_on_data(net, train, max_epochs=1)
                first = time.perf_counter() - start
                start = time.perf_counter()
                result = train_on_data(net, train, max_epochs=args.epochs)
                jax.block_until_ready(result.network.params)
                seconds = time.perf_counter() - start
                c_curve = np.fromfile(RESULTS / f"{name}_curve_c{seed}.bin", np.float32)
                m = min(len(c_curve), len(result.mse))
                apart = np.abs(result.mse[:m] - c_curve[:m]) > 1e-3 * np.abs(c_curve[:m])
                runs.append({
                    "epochs": len(result.mse),
                    "seconds": seconds,
                    "first_call_s": first,
                    "train_mse": float(result.mse[-1]),
                    "test_mse": (tested := evaluate_data(result.network, test))[0],
                    "test_bit_fail": tested[1],
                    "curves_apart_from_epoch": int(np.argmax(apart)) + 1 if apart.any() else None,
                })
            single[name] = runs
            ms = sum(r["seconds"] for r in runs) / sum(r["epochs"] for r in runs) * 1e3
            say(f"  single {name}: {ms:.3f} ms/epoch")
        out["single"] = single
    if args.only_single:
        return out

    # ---- 10k x 8-16-4, one RPROP epoch per call, same weights and data as C
    small = create_standard(SMALL, key=jax.random.key(0), **sym).layout
    blob = np.fromfile(RESULTS / "pop_data.bin", np.float32)
    x = blob[: n * SAMPLES * 8].reshape(n, SAMPLES, 8)
    y = blob[n * SAMPLES * 8 :].reshape(n, SAMPLES, 4)
    flat = np.fromfile(RESULTS / "pop_weights.bin", np.float32).reshape(n, -1)
    hidden = flat[:, : 16 * 9].reshape(n, 16, 9)
    output = flat[:, 16 * 9 :].reshape(n, 4, 17)
    params = Params(
        (Layer(hidden[:, :, :8], hidden[:, :, 8]), Layer(output[:, :, :16], output[:, :, 16])),
        (np.full((n, 16), 0.5, np.float32), np.full((n, 4), 0.5, np.float32)),
        None,
        None,
    )
    c_mse = np.fromfile(RESULTS / "pop_mse_c.bin", np.float32)
    data = Batch(x, y, np.ones((n, SAMPLES), bool))
    epoch: dict[str, Any] = {}
    for variant, capacity, window in (("reserved", n, 1), ("bucket", None, 1), ("fused8", n, 8)):
        pop = create_population(small, n, key=jax.random.key(1), window=window, capacity=capacity)
        pop.set_params(pop.slots, params)
        pop.set_data(pop.slots, data)
        start = time.perf_counter()
        log = pop.train(window)
        first = time.perf_counter() - start
        row: dict[str, Any] = {"capacity": pop.capacity, "first_call_s": first}
        if variant == "reserved":
            mse = log.mse[:n, 0]
            row["max_rel_diff_vs_c"] = float(np.max(np.abs(mse - c_mse) / np.maximum(np.abs(c_mse), 1e-30)))
        row.update(stats([s / window for s in timed(lambda p=pop, w=window: p.train(w), repeat)]))
        epoch[variant] = row
        say(f"  epoch {variant}: {row['median_ms']:.1f} ms per epoch (capacity {pop.capacity})")
        del pop
    out["epoch"] = epoch

    # ---- 10k x 128-64-32-8 forward, one input each
    big = create_standard(BIG, key=jax.random.key(0), **sym).layout
    forward: dict[str, Any] = {}
    for variant, capacity in (("reserved", n), ("bucket", None)):
        pop = create_population(big, n, key=jax.random.key(2), capacity=capacity)
        inputs = np.random.default_rng(3).uniform(-1, 1, (pop.capacity, BIG[0])).astype(np.float32)
        on_device = jax.device_put(inputs, pop.agent_sharding)
        start = time.perf_counter()
        pop.forward(on_device).block_until_ready()
        first = time.perf_counter() - start
        row = {"capacity": pop.capacity, "first_call_s": first}
        row.update(stats(timed(lambda p=pop, i=on_device: p.forward(i).block_until_ready(), repeat)))
        host = timed(lambda p=pop, i=inputs: p.forward(i).block_until_ready(), repeat)
        row["host_inputs_median_ms"] = statistics.median(host) * 1e3
        forward[variant] = row
        say(f"  forward {variant}: {row['median_ms']:.1f} ms (capacity {pop.capacity})")
        del pop
    out["forward"] = forward

    # ---- growing inside the bucket compiles nothing; past it, one new bucket
    rng = np.random.default_rng(4)
    pop = create_population(small, n // 2, key=jax.random.key(5), window=1)
    cap = pop.capacity

    def cycle(slots: np.ndarray) -> None:
        xs = rng.uniform(-1, 1, (len(slots), SAMPLES, 8)).astype(np.float32)
        ys = rng.uniform(-0.9, 0.9, (len(slots), SAMPLES, 4)).astype(np.float32)
        pop.set_data(slots, Batch(xs, ys, np.ones((len(slots), SAMPLES), bool)))
        pop.set_hyper(slots, rprop_delta_max=25.0)
        pop.train(1)
        pop.forward(np.zeros((pop.capacity, 8), np.float32)).block_until_ready()
        pop.evaluate()

    cycle(pop.slots)
    before = compile_stats()
    pop.remove(pop.slots[:100])
    cycle(pop.add(cap - pop.size))
    inside = compile_stats()
    start = time.perf_counter()
    cycle(pop.add(1))
    grow_s = time.perf_counter() - start
    past = compile_stats()
    out["growth"] = {
        "bucket": cap,
        "agents_added_inside": cap - n // 2 + 100,
        "compiles_inside": inside.compiles - before.compiles,
        "recompiles_inside": inside.recompiles - before.recompiles,
        "traces_inside": inside.traces - before.traces,
        "new_capacity": pop.capacity,
        "compiles_past": past.compiles - inside.compiles,
        "recompiles_past": past.recompiles - inside.recompiles,
        "first_cycle_past_s": grow_s,
    }
    del pop

    # ---- species: one call per species against one jit over the tuple
    group = PopulationGroup(key=jax.random.key(6), window=1)
    per = n // len(SPECIES)
    layouts = [create_standard(s, key=jax.random.key(0), **sym).layout for s in SPECIES]
    for layout in layouts:
        group.add(layout, per)
        p = group.species[layout]
        p.set_data(p.slots, Batch(
            rng.uniform(-1, 1, (per, SAMPLES, layout.num_input)).astype(np.float32),
            rng.uniform(-0.9, 0.9, (per, SAMPLES, layout.num_output)).astype(np.float32),
            np.ones((per, SAMPLES), bool),
        ))
    group.train(1)
    separate = timed(lambda: group.train(1), repeat)
    pops = [group.species[layout] for layout in layouts]
    kernels = [train_kernel(p.layout, p.spec, 1, p._mesh, p._train_chunk()) for p in pops]

    def fused(trained: Any, fixed: Any) -> Any:
        return tuple(k(*t, *f) for k, t, f in zip(kernels, trained, fixed, strict=True))

    shard = pops[0].agent_sharding
    fixed = tuple(
        (p._hyper, p._data, jax.device_put(np.ones(p.capacity, np.int32), shard), jnp.bool_(True)) for p in pops
    )

    def trained() -> tuple[Any, ...]:
        return tuple((p._params, p._state) for p in pops)

    start = time.perf_counter()
    fused_exe = jax.jit(fused, donate_argnums=0).lower(trained(), fixed).compile()
    fused_compile = time.perf_counter() - start

    def run_fused() -> None:
        results = fused_exe(trained(), fixed)
        for p, (params_, state_, log_) in zip(pops, results, strict=True):
            p._params, p._state = params_, state_
            np.asarray(log_.mse), np.asarray(log_.epochs)

    run_fused()
    joint = timed(run_fused, repeat)
    out["species"] = {
        "layouts": [list(s) for s in SPECIES],
        "agents_each": per,
        "separate": stats(separate),
        "fused": stats(joint),
        "fused_compile_s": fused_compile,
    }
    del group, pops

    out["compile"] = [
        {**dataclasses.asdict(f), "layout": list(f.layout.sizes), "shapes": dict(f.shapes)}
        for f in compile_stats().functions
    ]
    return out


# -------------------------------------------------------------------------------- main
def copy_bandwidth(repeat: int) -> dict[str, float]:
    a = np.ones(2**27, np.float32)  # 512 MiB
    b = np.empty_like(a)
    np.copyto(b, a)

    def two_threads() -> None:
        h = len(a) // 2
        threads = [threading.Thread(target=np.copyto, args=(b[s], a[s])) for s in (slice(0, h), slice(h, None))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    one = min(timed(lambda: np.copyto(b, a), repeat))
    two = min(timed(two_threads, repeat))
    return {"bytes": a.nbytes, "gbs_1thread": 2 * a.nbytes / one / 1e9, "gbs_2threads": 2 * a.nbytes / two / 1e9}


def prepare(args: argparse.Namespace) -> None:
    """Initial networks for the single-net runs and the 10k population's weights and data, for C and JAX."""
    import jax

    from swarm_mcp.neural import create_standard, read_data, write_net

    for name, sizes in SINGLE.items():
        train = read_data(DATA / f"{name}.train")
        assert (train.num_input, train.num_output) == (sizes[0], sizes[-1]), name
        for seed in range(args.seeds):
            net = create_standard(sizes, key=jax.random.key(42 + seed), **_acts("SIGMOID", "SIGMOID"))
            write_net(net, RESULTS / f"{name}_init{seed}.net")
    rng = np.random.default_rng(7)
    n = args.agents
    x = rng.uniform(-1, 1, (n, SAMPLES, 8)).astype(np.float32)
    y = rng.uniform(-0.9, 0.9, (n, SAMPLES, 4)).astype(np.float32)
    np.concatenate([x.ravel(), y.ravel()]).tofile(RESULTS / "pop_data.bin")
    # FANN's connection order: per neuron its inputs, then the bias; 16 x 9 then 4 x 17 per net
    rng.uniform(-0.1, 0.1, (n, 16 * 9 + 4 * 17)).astype(np.float32).tofile(RESULTS / "pop_weights.bin")


def run_c(binary: Path, args: argparse.Namespace, single: bool, population: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if single:
        out["single"] = {}
        for name in SINGLE:
            say(f"C FANN: {name}, {args.epochs} epochs x {args.seeds} initial nets")
            out["single"][name] = [
                run_driver(
                    binary, "train", RESULTS / f"{name}_init{seed}.net", DATA / f"{name}.train",
                    DATA / f"{name}.test", args.epochs, RESULTS / f"{name}_curve_c{seed}.bin",
                )
                for seed in range(args.seeds)
            ]
    if not population:
        return out
    say("C FANN: population epoch and forward loops")
    out["epoch"] = run_driver(
        binary, "pop_epoch", args.agents, SAMPLES, RESULTS / "pop_data.bin", RESULTS / "pop_weights.bin", args.repeat,
        RESULTS / "pop_mse_c.bin",
    )
    out["forward"] = run_driver(binary, "forward", args.agents, args.repeat, 1, len(BIG), *BIG)
    return out


def run_worker(
    args: argparse.Namespace, malloc: str, devices: int, tcmalloc: str | None, single: bool
) -> dict[str, Any]:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    env.pop("LD_PRELOAD", None)
    if malloc == "tcmalloc":
        env["LD_PRELOAD"] = tcmalloc or ""
    cmd = [sys.executable, __file__, "--worker", "--agents", str(args.agents), "--repeat", str(args.repeat),
           "--epochs", str(args.epochs), "--seeds", str(args.seeds)] + (["--single"] if single else []) + (
        ["--only-single"] if args.only_single else [])
    say(f"JAX worker: {malloc}, {devices} device(s)")
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {malloc}/{devices} failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(row: dict[str, Any]) -> str:
    return f"{row['median_ms']:.1f} [{row['min_ms']:.1f}-{row['max_ms']:.1f}]"


def report(results: dict[str, Any], args: argparse.Namespace) -> list[list[str]]:
    rows: list[list[str]] = []
    c, workers = results["c"], results["jax"]
    for key, w in workers.items():
        for name, runs in w.get("single", {}).items():
            c_runs = c["single"][name]
            j_ms = sum(r["seconds"] for r in runs) / sum(r["epochs"] for r in runs) * 1e3
            c_ms = sum(r["seconds"] for r in c_runs) / sum(r["epochs"] for r in c_runs) * 1e3
            j_test, c_test = [r["test_mse"] for r in runs], [r["test_mse"] for r in c_runs]
            j_mean, c_mean = statistics.mean(j_test), statistics.mean(c_test)
            mean_diff = j_mean / c_mean - 1
            median_diff = statistics.median(j_test) / statistics.median(c_test) - 1
            apart = [r["curves_apart_from_epoch"] for r in runs]
            parted = sorted(a for a in apart if a is not None)
            where = f"median epoch {statistics.median(parted):.0f}" if parted else "never"
            rows.append([f"RPROP {name} {'-'.join(map(str, SINGLE[name]))}, {key}", f"{j_ms:.3f} ms/epoch",
                         f"C {c_ms:.3f} ms/epoch", f"{j_ms / c_ms:.2f}x time", "<= 0.5x", ok(j_ms / c_ms <= 0.5)])
            rows.append([f"  test MSE {name}, mean of {len(runs)} nets", f"{j_mean:.4g}", f"C {c_mean:.4g}",
                         f"mean {mean_diff:+.1%}, median {median_diff:+.1%}; curves part in {len(parted)} of "
                         f"{len(apart)} ({where})", "<= 10%", ok(abs(mean_diff) <= 0.10)])
    if args.only_single:
        return rows
    c_epoch = c["epoch"]["seconds"] + results["c_after"]["epoch"]["seconds"]
    c_fwd = c["forward"]["seconds"] + results["c_after"]["forward"]["seconds"]
    c_epoch_ms, c_fwd_ms = statistics.median(c_epoch) * 1e3, statistics.median(c_fwd) * 1e3
    weight_bytes = args.agents * c["forward"]["weights_per_net"] * 4
    bound_ms = weight_bytes / (results["bandwidth"]["gbs_1thread"] * 1e9) * 1e3
    for key, w in workers.items():
        for variant in ("reserved", "bucket"):
            e = w["epoch"][variant]
            rows.append([f"{args.agents} x 8-16-4 one epoch, {variant} cap {e['capacity']}, {key}", fmt(e) + " ms",
                         f"C {c_epoch_ms:.1f} ms", f"{c_epoch_ms / e['median_ms']:.2f}x faster", ">= 5x",
                         ok(c_epoch_ms / e["median_ms"] >= 5)])
        e = w["epoch"]["fused8"]
        rows.append([f"  8 epochs per call, per epoch, {key}", fmt(e) + " ms", f"C {c_epoch_ms:.1f} ms",
                     f"{c_epoch_ms / e['median_ms']:.2f}x faster", "", ""])
    for key, w in workers.items():
        for variant in ("reserved", "bucket"):
            f = w["forward"][variant]
            rows.append([f"{args.agents} x 128-64-32-8 forward, {variant} cap {f['capacity']}, {key}", fmt(f) + " ms",
                         f"C {c_fwd_ms:.1f} ms", f"{c_fwd_ms / f['median_ms']:.2f}x faster", ">= 2.5x",
                         ok(c_fwd_ms / f["median_ms"] >= 2.5)])
        f = w["forward"]["reserved"]
        frac = bound_ms / f["median_ms"]
        rows.append([f"  bandwidth bound {bound_ms:.1f} ms ({weight_bytes / 1e6:.0f} MB), {key}",
                     f"{frac:.2f} of bound", "", f"{1 / frac:.2f}x the bound", "<= 1.25x", ok(1 / frac <= 1.25)])
    for key, w in workers.items():
        g = w["growth"]
        rows.append([f"grow {g['agents_added_inside']} agents inside bucket {g['bucket']}, {key}",
                     f"{g['compiles_inside']} compiles, {g['recompiles_inside']} recompiles", "", "", "0",
                     ok(g["compiles_inside"] == 0 and g["recompiles_inside"] == 0)])
        rows.append([f"  past it -> {g['new_capacity']}", f"{g['compiles_past']} compiles", "",
                     f"first cycle {g['first_cycle_past_s']:.1f} s", "", ""])
        s = w["species"]
        rows.append([f"3 species x {s['agents_each']}, one epoch, {key}", f"separate {fmt(s['separate'])} ms",
                     f"fused {fmt(s['fused'])} ms", f"{s['separate']['median_ms'] / s['fused']['median_ms']:.2f}x",
                     "", ""])
    return rows


def ok(flag: bool) -> str:
    return "met" if flag else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=3, help="initial networks per data set (single runs)")
    parser.add_argument("--skip-single", action="store_true", help="skip the single-network RPROP runs")
    parser.add_argument("--only-single", action="store_true",
                        help="only the single-network RPROP runs (C, and JAX on glibc with 1 device); with "
                             "--seeds 15 this is how the test-MSE comparison in docs/benchmarks.md was made")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    tcmalloc = ensure_packages()
    binary = build_driver(RESULTS)
    load_before = os.getloadavg()
    results: dict[str, Any] = {"machine": machine(), "args": vars(args), "tcmalloc": tcmalloc}
    say("copy bandwidth")
    results["bandwidth"] = copy_bandwidth(args.repeat)
    prepare(args)
    single = not args.skip_single
    population = not args.only_single
    results["c"] = run_c(binary, args, single, population)
    results["jax"] = {}
    for malloc, devices in CONFIGS if population else CONFIGS[:1]:
        if malloc == "tcmalloc" and not tcmalloc:
            continue
        results["jax"][f"{malloc}/{devices}dev"] = run_worker(args, malloc, devices, tcmalloc, single and devices == 1)
    if population:
        results["c_after"] = run_c(binary, args, False)
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    rows = report(results, args)
    results["table"] = rows
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "neural.json").write_text(json.dumps(results, indent=2))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n")
    bw = results["bandwidth"]
    sys.stdout.write(
        f"\ncopy bandwidth {bw['gbs_1thread']:.1f} GB/s (1 thread), {bw['gbs_2threads']:.1f} GB/s (2 threads); "
        f"load average before {load_before[0]:.2f}, after {results['load_average']['after'][0]:.2f}\n"
        f"wrote {RESULTS / 'neural.json'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
