"""What JAX offers on this host, asked without loading it into the daemon: one probe per daemon.

While the daemon has not imported JAX, `features_detect` and `neural_status` learn its version,
backend and devices from a Python subprocess that imports it (a second or two, and a few hundred
MB). The probe runs once: callers that ask meanwhile wait for that one run, and its result is
kept (the installed JAX cannot change under a running daemon). It runs in its own supervised
task (`run`), so a probe still running when the daemon stops is killed, never left behind.
Once the daemon has loaded JAX itself, the answer comes from the daemon, without a subprocess.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from typing import Any

import anyio
import orjson
import structlog

__all__ = ("JaxProbe",)

log = structlog.get_logger("swarm_mcp.jax_probe")

_PROBE = """
import json, jax
devices = jax.devices()
print(json.dumps({"jax_version": jax.__version__, "backend": jax.default_backend(),
  "devices": [{"id": d.id, "platform": d.platform, "kind": getattr(d, "device_kind", "")} for d in devices]}))
"""


class JaxProbe:
    """The daemon's one JAX probe: `info()` asks, `run()` (a supervised child) does the work."""

    def __init__(self, *, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.runs = 0  # subprocesses started, for stats and tests
        self._wanted = anyio.Event()
        self._done = anyio.Event()
        self._result: dict[str, Any] | None = None

    async def info(self) -> dict[str, Any]:
        """JAX availability, backend and devices: from the daemon if it has loaded JAX, else from
        the probe's single run (started by the first caller; the others wait for it)."""
        installed = importlib.util.find_spec("jax") is not None
        loaded = "jax" in sys.modules
        base: dict[str, Any] = {"jax_installed": installed, "jax_loaded_in_daemon": loaded}
        if not installed:
            return {**base, "available": False, "reason": "jax is not installed; install swarm-mcp with its dependencies"}
        if loaded:
            started = time.perf_counter()
            found = _describe_loaded_jax()
            return {**base, **found, "available": True, "probed_in": "daemon", "device_count": len(found["devices"]),
                    "probe_ms": round((time.perf_counter() - started) * 1000, 1)}
        if self._result is None:
            self._wanted.set()
            with anyio.fail_after(self.timeout + 10):
                await self._done.wait()
        assert self._result is not None
        return {**base, **self._result}

    async def run(self) -> None:
        """Wait until someone asks, probe once, keep the result; then idle until cancelled (a
        probe in progress is killed then)."""
        if self._result is None:
            await self._wanted.wait()
            try:
                self._result = await self._probe()
            except (OSError, ValueError, IndexError) as exc:  # could not start it, or it printed nonsense
                self._result = {"available": False, "reason": f"the JAX probe failed: {exc}"}
            self._done.set()
        await anyio.sleep_forever()

    async def _probe(self) -> dict[str, Any]:
        started = time.perf_counter()
        env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "")}
        self.runs += 1
        process = await anyio.open_process([sys.executable, "-c", _PROBE], env=env, stdin=None)
        try:
            out = err = b""
            with anyio.move_on_after(self.timeout) as waiting:
                async with anyio.create_task_group() as tg:

                    async def read_err() -> None:
                        nonlocal err
                        assert process.stderr is not None
                        async for chunk in process.stderr:
                            err = (err + chunk)[-4096:]

                    tg.start_soon(read_err)
                    assert process.stdout is not None
                    async for chunk in process.stdout:
                        out += chunk
                await process.wait()
            if waiting.cancelled_caught:
                return {"available": False, "reason": f"probing JAX took over {self.timeout:g} s"}
        finally:
            if process.returncode is None:
                process.kill()
                with anyio.CancelScope(shield=True):
                    await process.wait()
            await process.aclose()
        log.info("jax_probed", seconds=round(time.perf_counter() - started, 3), exit_code=process.returncode)
        if process.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            return {"available": False, "reason": f"importing jax failed: {tail[0]}"}
        found = orjson.loads(out.strip().splitlines()[-1])
        return {**found, "available": True, "probed_in": "subprocess", "device_count": len(found["devices"]),
                "probe_ms": round((time.perf_counter() - started) * 1000, 1)}


def _describe_loaded_jax() -> dict[str, Any]:
    import jax

    devices = jax.devices()
    return {
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [{"id": d.id, "platform": d.platform, "kind": getattr(d, "device_kind", "")} for d in devices],
    }
