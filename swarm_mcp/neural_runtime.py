"""The daemon's one JAX runtime: loaded lazily, computing in a bounded pool of worker threads.

Standalone networks (`NeuralService`) and agent brains (`swarm_mcp.swarm`) share it, so the
`neural_workers` limit bounds all neural compute together and JAX is imported once, the first
time either needs it, in a worker thread (the event loop keeps answering meanwhile). Before
the import it points JAX's persistent compilation cache at `<data_dir>/jax-cache`, so a restart
does not recompile, and asks for one CPU device per usable core so populations shard over them.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import anyio
import structlog

__all__ = ("NeuralRuntime",)

log = structlog.get_logger("swarm_mcp.neural")

T = TypeVar("T")
_BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"  # jax._src.dispatch.BACKEND_COMPILE_EVENT
_CACHE_HIT = "/jax/compilation_cache/cache_hits"


class _Compiles:
    """Every XLA compile in this process, by jitted function, from JAX's own monitoring events:
    what the neural tools compile (the driver's forward, test and train functions, cascade's)
    as well as population kernels. Registered once per process, when JAX is first loaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_function: dict[str, list[float]] = {}  # name -> [compiles, seconds]
        self.cache_hits = 0
        self.registered = False

    def register(self) -> None:
        import jax

        with self._lock:
            if not self.registered:
                jax.monitoring.register_event_duration_secs_listener(self._on_duration)
                jax.monitoring.register_event_listener(self._on_event)
                self.registered = True

    def _on_duration(self, event: str, duration: float, **details: Any) -> None:
        if event == _BACKEND_COMPILE:
            with self._lock:
                entry = self.by_function.setdefault(str(details.get("fun_name", "?")), [0, 0.0])
                entry[0] += 1
                entry[1] += duration

    def _on_event(self, event: str, **details: Any) -> None:
        if event == _CACHE_HIT:
            with self._lock:
                self.cache_hits += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            functions = [{"function": name, "compiles": int(n), "seconds": round(s, 3)}
                         for name, (n, s) in sorted(self.by_function.items())]
            hits = self.cache_hits
        return {
            "compiles": sum(f["compiles"] for f in functions),
            # a function compiled again: for another input shape or another network layout
            "recompiles": sum(f["compiles"] - 1 for f in functions),
            "compile_seconds": round(sum(n[1] for n in self.by_function.values()), 3),
            "persistent_cache_hits": hits,
            "functions": functions,
        }


_COMPILES = _Compiles()


class NeuralRuntime:
    """Lazy `swarm_mcp.neural` (and so JAX) plus the worker threads every neural computation uses."""

    def __init__(self, cache_dir: Path, *, workers: int = 2, host_devices: int = 0,
                 after_jax_import: Callable[[], None] | None = None) -> None:
        self.cache_dir = cache_dir
        self._limiter = anyio.CapacityLimiter(workers)
        self._host_devices = host_devices
        self._after_jax_import = after_jax_import
        self._lock = threading.Lock()
        self._loaded = False
        self.compute_s = 0.0

    @property
    def loaded(self) -> bool:
        """Whether JAX has been imported by this runtime (asking never imports it)."""
        return self._loaded

    def load(self) -> ModuleType:
        """`swarm_mcp.neural`, importing JAX on the first call (blocking: call it from a worker
        thread, or use `ensure`). Thread-safe; later calls return at once."""
        with self._lock:
            if not self._loaded:
                started = time.perf_counter()
                import jax

                devices = self._host_devices or len(os.sched_getaffinity(0))
                if devices > 1 and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
                    try:  # one CPU device per core, so populations shard over every core (before the backend starts)
                        jax.config.update("jax_num_cpu_devices", devices)
                    except RuntimeError:
                        log.warning("jax_cpu_devices_fixed", detail="JAX was already initialised; keeping its devices")
                _COMPILES.register()  # before anything compiles
                import swarm_mcp.neural as neural

                self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                neural.configure_compilation_cache(self.cache_dir)
                self._loaded = True
                if self._after_jax_import is not None:
                    self._after_jax_import()
                log.info("jax_loaded", seconds=round(time.perf_counter() - started, 3), backend=jax.default_backend(),
                         compilation_cache=str(self.cache_dir))
        return sys.modules["swarm_mcp.neural"]

    async def ensure(self) -> ModuleType:
        """`swarm_mcp.neural`, loaded in a worker thread if it is not yet."""
        if self._loaded:
            return sys.modules["swarm_mcp.neural"]
        return await self.run(self.load)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker thread, at most `workers` at once across the daemon."""
        started = time.perf_counter()
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=self._limiter)
        finally:
            self.compute_s += time.perf_counter() - started

    async def run_stoppable(self, job: Callable[[], None], stop: threading.Event) -> None:
        """Run `job` in a worker; if this call is cancelled meanwhile, set `stop` (the job checks it
        at its report points) and still wait for the worker, so its result can be kept."""
        failure: Exception | None = None
        async with anyio.create_task_group() as watch:

            async def set_stop_when_cancelled() -> None:
                try:
                    await anyio.sleep_forever()
                finally:
                    stop.set()

            watch.start_soon(set_stop_when_cancelled)
            try:
                await self.run(job)
            except Exception as exc:  # re-raised bare below, not wrapped in the task group's group
                failure = exc
            watch.cancel_scope.cancel()
        if failure is not None:
            raise failure

    def status(self) -> dict[str, Any]:
        """Worker and compute figures, and JAX's backend, devices and what was compiled (every XLA
        compile in the process, by function; population kernels in detail) once loaded."""
        out: dict[str, Any] = {
            "jax_loaded": self._loaded,
            "compute_seconds": round(self.compute_s, 3),
            "workers": self._limiter.total_tokens,
            "workers_busy": self._limiter.borrowed_tokens,
            "compilation_cache_dir": str(self.cache_dir),
            "compilation_cache_files": _count_files(self.cache_dir),
        }
        if self._loaded:
            out.update(_jax_status(self.load()))
        return out


def _count_files(folder: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(folder))
    except OSError:
        return 0


def _jax_status(neural: Any) -> dict[str, Any]:
    import jax

    devices = []
    for device in jax.devices():
        stats = device.memory_stats() or {}
        devices.append({"id": device.id, "platform": device.platform, "kind": getattr(device, "device_kind", ""),
                        **{k: v for k, v in stats.items() if k in ("bytes_in_use", "peak_bytes_in_use", "bytes_limit")}})
    return {
        "backend": jax.default_backend(),
        "jax_version": jax.__version__,
        "devices": devices,
        "live_arrays": len(jax.live_arrays()),
        "compiled": {**_COMPILES.snapshot(), "populations": _populations(neural.compile_stats())},
    }


def _populations(stats: Any) -> dict[str, Any]:
    """The population kernels compiled so far (also counted, by function, in `compiled`)."""
    return {
        "compiles": stats.compiles,
        "recompiles": stats.recompiles,
        "traces": stats.traces,
        "persistent_cache_hits": stats.persistent_cache_hits,
        "compile_seconds": round(stats.compile_seconds, 3),
        "functions": [
            {"kind": f.kind, "layers": list(f.layout.sizes), "algorithm": f.algorithm, "capacity": f.capacity,
             "devices": f.devices, "compile_seconds": round(f.compile_seconds, 3), "from_disk": f.from_disk}
            for f in stats.functions
        ],
    }
