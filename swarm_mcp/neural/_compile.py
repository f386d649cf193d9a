"""Compiled functions for populations: compiled once per key, counted, and cached on disk.

Every population kernel is compiled ahead of time (`jit(...).lower(args).compile()`) the first
time its key is needed and kept in a process-wide registry. A key is (kind, layout, algorithm,
capacity, other shapes, devices): adding or removing agents within a capacity bucket reuses
the same executables, growing to the next bucket compiles new ones. `compile_stats()` reports
what was compiled, how long each compile took, how often a function was traced, and how many
compiles were *re*compiles (a function of the same kind, layout and algorithm compiled again
for other shapes). `configure_compilation_cache(path)` turns on JAX's persistent cache so a
restarted daemon loads executables from disk instead of compiling them again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import jax

from swarm_mcp.errors import InvalidArgument

from ._network import Layout
from ._settings import TrainSpec

__all__ = (
    "CompileStats",
    "CompiledFunction",
    "compile_stats",
    "compiled",
    "configure_compilation_cache",
    "note_trace",
)


@dataclass(frozen=True, slots=True)
class CompiledFunction:
    """One compiled population kernel."""

    kind: str  # "train", "forward", "evaluate", "spawn", "write", "extract", ...
    layout: Layout
    algorithm: str | None  # e.g. "RPROP" (with the variant when not FANN's), None if no training code
    capacity: int  # agent slots (the bucket)
    shapes: tuple[tuple[str, int], ...]  # the other shape parameters, e.g. (("samples", 32), ("window", 16))
    devices: int  # devices the agent axis is sharded over
    compile_seconds: float  # lowering + XLA compile (or loading it from the persistent cache)
    from_disk: bool  # the executable came from the persistent compilation cache


@dataclass(frozen=True, slots=True)
class CompileStats:
    """What the population kernels cost to compile, process-wide."""

    functions: tuple[CompiledFunction, ...]  # in compile order
    compiles: int  # executables built (len(functions))
    recompiles: int  # compiles of a (kind, layout, algorithm) already compiled for other shapes
    traces: int  # times a kernel's Python body was traced
    persistent_cache_hits: int  # executables loaded from the persistent cache
    compile_seconds: float  # total over `functions`
    cache_dir: str | None  # the persistent cache directory, if configured


_lock = threading.RLock()
_executables: dict[Hashable, Any] = {}
_functions: list[CompiledFunction] = []
_families: set[tuple[str, Layout, str | None]] = set()
_counts = {"traces": 0, "recompiles": 0, "disk_hits": 0}
_listening = False


def algorithm_name(spec: TrainSpec | None) -> str | None:
    if spec is None:
        return None
    name = spec.algorithm.name
    return name if spec.rprop_variant == "fann" or name != "RPROP" else f"{name}:{spec.rprop_variant}"


def note_trace() -> None:
    """Called from a kernel's Python body: counts traces (a compiled kernel is never re-traced)."""
    with _lock:
        _counts["traces"] += 1


def _on_event(event: str, **_: Any) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _counts["disk_hits"] += 1


def _listen() -> None:
    global _listening
    if not _listening:
        jax.monitoring.register_event_listener(_on_event)
        _listening = True


def compiled(
    kind: str,
    layout: Layout,
    spec: TrainSpec | None,
    capacity: int,
    shapes: Sequence[tuple[str, int]],
    devices: Sequence[jax.Device],
    build: Callable[[], Any],
    args: Sequence[Any],
) -> Any:
    """The executable for this key, compiled from `build()` (a `jax.jit` object) on first use.

    `args` are example arguments (real arrays with their shardings); lowering does not consume
    donated buffers. Thread-safe: concurrent callers of one key compile it once.
    """
    shapes = tuple(shapes)
    device_ids = tuple(d.id for d in devices)
    key = (kind, layout, spec, capacity, shapes, device_ids)
    with _lock:
        found = _executables.get(key)
        if found is not None:
            return found
        _listen()
        hits = _counts["disk_hits"]
        start = time.perf_counter()
        executable = build().lower(*args).compile()
        seconds = time.perf_counter() - start
        algorithm = algorithm_name(spec)
        family = (kind, layout, algorithm)
        if family in _families:
            _counts["recompiles"] += 1
        _families.add(family)
        from_disk = _counts["disk_hits"] > hits
        _functions.append(
            CompiledFunction(kind, layout, algorithm, capacity, shapes, len(device_ids), seconds, from_disk)
        )
        _executables[key] = executable
        return executable


def compile_stats() -> CompileStats:
    """A snapshot of the registry (see `CompileStats`)."""
    with _lock:
        functions = tuple(_functions)
        return CompileStats(
            functions=functions,
            compiles=len(functions),
            recompiles=_counts["recompiles"],
            traces=_counts["traces"],
            persistent_cache_hits=_counts["disk_hits"],
            compile_seconds=sum(f.compile_seconds for f in functions),
            cache_dir=jax.config.jax_compilation_cache_dir,
        )


def configure_compilation_cache(path: str | PathLike[str]) -> Path:
    """Keep compiled executables in `path` (created if missing), so a restart loads instead of compiling.

    Sets `jax_compilation_cache_dir`, caches every executable however fast it compiled
    (`jax_persistent_cache_min_compile_time_secs=0`, `..._min_entry_size_bytes=0`), and resets
    JAX's cache handle so the directory takes effect even after earlier compiles. Call it once at
    start-up, before building populations (the daemon uses `<data_dir>/jax-cache`). Executables
    are trusted code: the directory must not be writable by others.

    Raises:
        InvalidArgument: `path` exists and is not a directory.
    """
    from jax.experimental.compilation_cache import compilation_cache

    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise InvalidArgument(f"compilation cache path {str(directory)!r} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _lock:
        jax.config.update("jax_compilation_cache_dir", str(directory))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        compilation_cache.reset_cache()
        _listen()
    return directory
