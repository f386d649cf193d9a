"""Set up the C FANN baseline for bench/neural.py: packages, the driver binary, running it.

On a fresh Debian/Ubuntu machine, `ensure_packages()` installs what is missing with apt-get
(as root): libfann-dev (C FANN 2.2.0), gcc, and tcmalloc (optional: only the LD_PRELOAD rows
need it). `build_driver()` compiles a driver from bench/c/ into bench/results/ (git-ignored);
`machine()` describes the machine a result was measured on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ("BENCH_C", "build_driver", "ensure_packages", "find_tcmalloc", "machine", "run_driver")

BENCH_C = Path(__file__).resolve().parent / "c" / "fann_bench.c"
FANN_HEADER = Path("/usr/include/fann.h")
TCMALLOC_NAMES = ("libtcmalloc_minimal.so.4",)
TCMALLOC_PACKAGES = ("libtcmalloc-minimal4t64", "libtcmalloc-minimal4")


def find_tcmalloc() -> str | None:
    """The path of tcmalloc (minimal) if the dynamic loader knows it."""
    try:
        listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    except OSError:
        listing = ""
    for line in listing.splitlines():
        name, _, path = line.strip().partition(" => ")
        if name.split(" ")[0] in TCMALLOC_NAMES and Path(path).exists():
            return path
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"):
        for name in TCMALLOC_NAMES:
            if (Path(folder) / name).exists():
                return str(Path(folder) / name)
    return None


def _apt_install(packages: list[str]) -> None:
    say(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True, env=env)


def _known_package(candidates: tuple[str, ...]) -> str | None:
    for name in candidates:
        found = subprocess.run(["apt-cache", "show", name], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return name
    return None


def ensure_packages() -> str | None:
    """Install libfann-dev and gcc if missing (and tcmalloc, best effort); returns tcmalloc's path.

    Raises:
        SystemExit: something required is missing and we cannot install it (not root, no apt-get).
    """
    missing = []
    if not FANN_HEADER.exists():
        missing.append("libfann-dev")
    if shutil.which("gcc") is None:
        missing += ["gcc", "libc6-dev"]
    want_tcmalloc = find_tcmalloc() is None
    if not missing and not want_tcmalloc:
        return find_tcmalloc()
    can_install = shutil.which("apt-get") is not None and os.geteuid() == 0
    if missing and not can_install:
        raise SystemExit(
            f"bench/neural.py needs {', '.join(missing)} (C FANN baseline); install them, e.g. "
            f"`sudo apt-get install -y {' '.join(missing)}`, or run this benchmark as root on Debian/Ubuntu"
        )
    if can_install:
        if missing:
            _apt_install(missing)
        package = _known_package(TCMALLOC_PACKAGES) if want_tcmalloc else None
        if package is not None:
            try:
                _apt_install([package])
            except subprocess.CalledProcessError:
                say("tcmalloc could not be installed: the LD_PRELOAD rows are skipped")
    if not FANN_HEADER.exists():
        raise SystemExit(f"{FANN_HEADER} is still missing after installing libfann-dev")
    return find_tcmalloc()


def build_driver(results: Path, source: Path = BENCH_C) -> Path:
    """Compile a C FANN driver (bench/c/fann_bench.c unless `source` says another) against
    libfloatfann into `results`, named after its source (when the source changed)."""
    results.mkdir(parents=True, exist_ok=True)
    binary = results / source.stem
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        cmd = ["gcc", "-O2", "-o", str(binary), str(source), "-lfloatfann", "-lm"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"compiling the C FANN driver failed:\n{' '.join(cmd)}\n{done.stderr}")
    return binary


def run_driver(binary: Path, *args: object) -> dict[str, Any]:
    """Run the driver and return its JSON line."""
    done = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{binary.name} {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on: CPU model, cores, memory, Python, JAX, numpy, date."""
    import datetime
    import platform
    from importlib.metadata import version

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "jax": version("jax"),
        "numpy": version("numpy"),
        "date": datetime.date.today().isoformat(),
    }


def say(message: str) -> None:
    sys.stderr.write(f"[bench/neural] {message}\n")
    sys.stderr.flush()
