"""The neural runtime inside a real daemon process (JAX is never imported by the test process here)."""

from __future__ import annotations

import os
from pathlib import Path

from support import spawn_stdio


def test_the_daemon_gives_jax_one_cpu_device_per_core_and_caches_compiles_in_the_data_dir(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        idle = client.call_tool("neural_status", {})["structuredContent"]["runtime"]
        client.call_tool("neural_create", {"layers": [2, 4, 1], "network_id": "n"})
        trained = client.call_tool("neural_train", {"network_id": "n", "inputs": [[0, 1]], "outputs": [[1]], "max_epochs": 10})
        busy = client.call_tool("neural_status", {})["structuredContent"]["runtime"]
    assert idle["jax_loaded"] is False and not trained["isError"]
    assert busy["jax_loaded"] is True
    assert len(busy["devices"]) == len(os.sched_getaffinity(0))
    assert busy["compilation_cache_dir"] == str(tmp_path / "jax-cache")
    assert busy["compilation_cache_files"] > 0 and any((tmp_path / "jax-cache").iterdir())
    assert busy["compiled"]["recompiles"] == 0


def test_the_daemon_freezes_its_startup_objects_and_then_jaxs_out_of_the_garbage_collector(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        started = client.call_tool("memory_usage", {"action": "stats"})["structuredContent"]["stats"]["process"]["gc"]
        client.call_tool("neural_create", {"layers": [2, 4, 1], "network_id": "n"})
        after_jax = client.call_tool("memory_usage", {"action": "stats"})["structuredContent"]["stats"]["process"]["gc"]
    assert started["thresholds"][0] == 10_000
    assert started["frozen_objects"] > 10_000  # the SDK, pydantic and the tools, imported at startup
    assert after_jax["frozen_objects"] > started["frozen_objects"] + 10_000  # JAX's modules
