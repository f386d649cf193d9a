"""What this host and process actually are, read from the OS every time it is asked.

Each function returns plain JSON-ready dicts. Nothing is hard-coded: CPU facts come from
`/proc/cpuinfo`, memory from `/proc/meminfo` and `/proc/self/status`, package versions from the
installed distributions, SQLite features from a probe. JAX facts come from `swarm_mcp.jax_probe`.
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any


__all__ = ("cpu_info", "memory_info", "process_rss_bytes", "runtime_info", "storage_info")

PACKAGES = ("swarm-mcp", "mcp", "anyio", "orjson", "aiosqlite", "structlog", "pydantic", "uvicorn", "jax", "jaxlib", "numpy")
_SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@functools.cache
def _package_versions() -> dict[str, str | None]:
    """Installed versions, read once: they describe the code this process loaded, which cannot
    change while it runs (each lookup scans site-packages, ~0.4 ms)."""
    import importlib.metadata  # ~10 ms to import: only when asked

    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def runtime_info(started_at: float) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "os": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "pid": os.getpid(),
        "uptime_s": round(time.time() - started_at, 3),
        "packages": dict(_package_versions()),
    }


def cpu_info() -> dict[str, Any]:
    text = _read("/proc/cpuinfo") or ""
    model = None
    flags: set[str] = set()
    cores: set[tuple[str, str]] = set()
    physical_id = core_id = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and model is None:
            model = value
        elif key == "flags" and not flags:
            flags = set(value.split())
        elif key == "physical id":
            physical_id = value
        elif key == "core id":
            core_id = value
            cores.add((physical_id, core_id))
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "model": model or platform.processor() or None,
        "architecture": platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": len(cores) or None,
        "usable_cores": usable,
        "simd": {flag: flag in flags for flag in _SIMD_FLAGS},
        "avx512": sorted(f for f in flags if f.startswith("avx512")),
        "amx": sorted(f for f in flags if f.startswith("amx")),
    }


def _meminfo_bytes(text: str, key: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            parts = line.split()
            return int(parts[1]) * 1024 if len(parts) >= 2 and parts[1].isdigit() else None
    return None


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_statm_fd: int | None = None


def process_rss_bytes() -> int | None:
    """This process's resident set now, from /proc/self/statm (kept open and re-read: a stats
    call asks every time, and opening /proc/self/status cost more than the rest of that call)."""
    global _statm_fd
    try:
        if _statm_fd is None:
            _statm_fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        fields = os.pread(_statm_fd, 256, 0).split()
        return int(fields[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def memory_info() -> dict[str, Any]:
    meminfo = _read("/proc/meminfo") or ""
    status = _read("/proc/self/status") or ""
    limit_text = (_read("/sys/fs/cgroup/memory.max") or "").strip()
    return {
        "total_bytes": _meminfo_bytes(meminfo, "MemTotal"),
        "available_bytes": _meminfo_bytes(meminfo, "MemAvailable"),
        "cgroup_limit_bytes": int(limit_text) if limit_text.isdigit() else None,
        "process_rss_bytes": _meminfo_bytes(status, "VmRSS"),
        "process_peak_rss_bytes": _meminfo_bytes(status, "VmHWM"),
    }


def _sqlite_supports(statement: str) -> bool:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(statement)
        return True
    except sqlite3.Error:
        return False
    finally:
        connection.close()


def storage_info(data_dir: Path) -> dict[str, Any]:
    usage = shutil.disk_usage(data_dir) if data_dir.exists() else None
    db = data_dir / "swarm.db"
    return {
        "sqlite_version": sqlite3.sqlite_version,
        "fts5": _sqlite_supports("CREATE VIRTUAL TABLE probe USING fts5(body)"),
        "json1": _sqlite_supports("SELECT json('{}')"),
        "data_dir": str(data_dir),
        "data_dir_writable": os.access(data_dir, os.W_OK),
        "disk_free_bytes": usage.free if usage else None,
        "disk_total_bytes": usage.total if usage else None,
        "db_bytes": db.stat().st_size if db.exists() else None,
    }
