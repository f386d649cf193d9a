"""Cascade2 against C FANN 2.2.0 over many seeds: how often each reaches the target, with how many neurons.

    python3 scripts/dev.py bench cascade [-- --seeds 100 --tasks parity8,building]

(or `.venv/bin/python bench/cascade.py ...`). Prints a table and writes
bench/results/cascade_<tasks>_<seeds>.json.
The setup installs libfann-dev and gcc with apt-get when they are missing, then compiles
bench/c/fann_cascade.c, a small C driver over Debian's libfloatfann.

Each task is a data set, an algorithm, an output activation, at most N neurons and a desired MSE
(FANN's defaults for everything else: 80 candidates, weight multiplier 0.4, TANH error function).
Every seed starts from a fresh `create_shortcut((n_in, n_out))` with weights U[-0.1, 0.1]:
  C     `srand(seed)` after the create, `fann_randomize_weights`, `fann_cascadetrain_on_data`, then
        `fann_test_data` on the training data; seeds 1..N (glibc's srand(0) is srand(1)).
  ours  `create_shortcut` and `cascade_train_on_data` with keys split from `jax.random.key(seed)`;
        its `mse` is `evaluate_data` of the returned network, and is checked to be exactly that,
        and `reached` to be exactly `mse <= desired`, in every run.
Reported per task: success rate by final MSE (with a 95% Wilson interval), the difference in
points, `reached` agreement, median and mean hidden neurons added, median final MSE, and the
median seconds of one run (each side times its own calls; C runs in a subprocess alongside ours,
one core each on a two-core machine, so expect noise).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fann_setup import build_driver, ensure_packages, machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "tests" / "data" / "fann"
DRIVER = ROOT / "bench" / "c" / "fann_cascade.c"


class Task(NamedTuple):
    data: str
    algorithm: str  # "quickprop" or "rprop"
    activation_output: int  # FANN id: 3 SIGMOID
    max_neurons: int
    desired_error: float

    @property
    def name(self) -> str:
        return f"{self.data} {self.algorithm}, <= {self.max_neurons} neurons, MSE <= {self.desired_error:g}"


# parity8: the task. building (regression, 3 outputs): a target C reaches in about 5 neurons
# with each algorithm (RPROP learns building faster, so its target is lower).
TASKS = {
    "parity8": (Task("parity8", "quickprop", 3, 6, 0.05), Task("parity8", "rprop", 3, 6, 0.05)),
    "building": (Task("building", "quickprop", 3, 8, 0.0095), Task("building", "rprop", 3, 8, 0.007)),
}


def say(message: str) -> None:
    sys.stderr.write(f"[bench/cascade] {message}\n")
    sys.stderr.flush()


def start_c(binary: Path, task: Task, seeds: int) -> subprocess.Popen[str]:
    cmd = [str(binary), str(DATA / f"{task.data}.train"), task.algorithm, str(task.activation_output),
           str(task.max_neurons), repr(task.desired_error), "1", str(seeds)]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def finish_c(process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"bench/c/fann_cascade failed ({process.returncode})")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def run_ours(task: Task, seeds: int) -> list[dict[str, Any]]:
    import jax

    from swarm_mcp.neural import Algorithm, cascade_train_on_data, create_shortcut, evaluate_data, read_data

    data = read_data(DATA / f"{task.data}.train")
    runs = []
    for seed in range(1, seeds + 1):
        net_key, cascade_key = jax.random.split(jax.random.key(seed))
        net = create_shortcut((data.num_input, data.num_output), key=net_key, activation_output=task.activation_output)
        net = net.replace(training=net.training.replace(algorithm=Algorithm[task.algorithm.upper()]))
        started = time.perf_counter()
        result = cascade_train_on_data(
            net, data, max_neurons=task.max_neurons, desired_error=task.desired_error, key=cascade_key
        )
        seconds = time.perf_counter() - started
        mse, bit_fail = evaluate_data(result.network, data)
        runs.append({
            "seed": seed, "mse": result.mse, "bit_fail": result.bit_fail, "neurons": result.neurons_added,
            "epochs": result.epochs, "reached": result.reached, "seconds": seconds,
            "agrees": result.reached == (mse <= task.desired_error)
            and (mse, bit_fail) == (result.mse, result.bit_fail),
        })  # fmt: skip
        if seed % 10 == 0:
            say(f"  ours {task.name}: {seed}/{seeds}")
    return runs


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial rate."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def summary(task: Task, runs: list[dict[str, Any]]) -> dict[str, Any]:
    hits = sum(r["mse"] <= task.desired_error for r in runs)
    low, high = wilson(hits, len(runs))
    neurons = [r["neurons"] for r in runs]
    return {
        "runs": len(runs),
        "reached_by_mse": hits,
        "rate": hits / len(runs),
        "rate_95": [low, high],
        "median_neurons": statistics.median(neurons),
        "mean_neurons": statistics.mean(neurons),
        "median_mse": statistics.median(r["mse"] for r in runs),
        "stuck_above_0.2": sum(r["mse"] > 0.2 for r in runs),
        "median_seconds": statistics.median(r["seconds"] for r in runs),
    }


def table(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = [["task", "C reached (95%)", "ours reached (95%)", "diff", "ours `reached` agrees",
             "median neurons C / ours", "mean neurons C / ours", "median s/run C / ours", "targets"]]  # fmt: skip
    for r in results:
        c, o = r["c"]["summary"], r["ours"]["summary"]
        diff = (o["rate"] - c["rate"]) * 100
        agree = sum(x["agrees"] for x in r["ours"]["runs"])
        met = abs(diff) <= 3 and agree == o["runs"] and o["median_neurons"] <= c["median_neurons"]
        rows.append([
            r["task"],
            f"{c['reached_by_mse']}/{c['runs']} {c['rate']:.1%} ({c['rate_95'][0]:.0%}-{c['rate_95'][1]:.0%})",
            f"{o['reached_by_mse']}/{o['runs']} {o['rate']:.1%} ({o['rate_95'][0]:.0%}-{o['rate_95'][1]:.0%})",
            f"{diff:+.1f} pts",
            f"{agree}/{o['runs']}",
            f"{c['median_neurons']:g} / {o['median_neurons']:g}",
            f"{c['mean_neurons']:.2f} / {o['mean_neurons']:.2f}",
            f"{c['median_seconds']:.2f} / {o['median_seconds']:.2f}",
            "met" if met else "MISSED",
        ])  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100, help="seeds per task, for C and for ours")
    parser.add_argument("--tasks", default="parity8,building", help=f"comma-separated, from {','.join(TASKS)}")
    parser.add_argument("--algorithms", default="quickprop,rprop")
    args = parser.parse_args()
    ensure_packages()
    binary = build_driver(RESULTS, DRIVER)
    wanted = [t for name in args.tasks.split(",") for t in TASKS[name] if t.algorithm in args.algorithms.split(",")]
    results: dict[str, Any] = {"machine": machine(), "args": vars(args), "load_before": os.getloadavg()}
    out = []
    for task in wanted:
        say(f"{task.name}: C and ours, {args.seeds} seeds each")
        process = start_c(binary, task, args.seeds)
        ours = run_ours(task, args.seeds)
        c_runs = finish_c(process)
        out.append({
            "task": task.name, "setup": task._asdict(),
            "c": {"summary": summary(task, c_runs), "runs": c_runs},
            "ours": {"summary": summary(task, ours), "runs": ours},
        })  # fmt: skip
    results["tasks"] = out
    results["load_after"] = os.getloadavg()
    rows = table(out)
    results["table"] = rows
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"cascade_{args.tasks.replace(',', '+')}_{args.seeds}.json"
    path.write_text(json.dumps(results, indent=2))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n")
    sys.stdout.write(
        "\ntargets: |diff| <= 3 points, `reached` agrees in every run, median neurons ours <= C's\n"
        f"load average before {results['load_before'][0]:.2f}, after {results['load_after'][0]:.2f}; "
        f"wrote {path}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
