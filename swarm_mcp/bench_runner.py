"""`swarm-mcp bench`: run the benchmark scripts that ship in the source checkout's `bench/`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ("BENCH_DIR", "run_bench")

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
SUITES = {
    "transports": ("transports.py",),
    "memory": ("memory.py",),
    "neural": ("neural.py",),
    "cascade": ("cascade.py",),
    "swarm": ("swarm.py",),
    "dashboard": ("dashboard.py",),
}


def run_bench(suite: str, args: Sequence[str]) -> int:
    """Run one suite (or all) with `args`; returns the first non-zero exit code, else 0."""
    if not BENCH_DIR.is_dir():
        sys.stderr.write(
            f"swarm-mcp: error: no benchmarks at {BENCH_DIR}; they ship with the source checkout "
            "(git clone, then `python3 scripts/dev.py bench`)\n"
        )
        return 2
    scripts = [s for name in (SUITES if suite == "all" else (suite,)) for s in SUITES[name]]
    for script in scripts:
        path = BENCH_DIR / script
        if not path.exists():
            sys.stderr.write(f"swarm-mcp: error: {path} is missing from this checkout\n")
            return 2
        code = subprocess.call([sys.executable, str(path), *args])
        if code:
            return code
    return 0
