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


def test_neural_status_counts_what_the_tools_compile_and_a_repeated_call_compiles_nothing(tmp_path: Path) -> None:
    def compiled(client) -> dict:  # noqa: ANN001
        return client.call_tool("neural_status", {})["structuredContent"]["runtime"]["compiled"]

    run = {"network_id": "n", "inputs": [[0, 1], [1, 0]]}
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        client.call_tool("neural_create", {"layers": [2, 4, 1], "network_id": "n"})
        assert not client.call_tool("neural_train", {**run, "outputs": [[1], [0]], "max_epochs": 10})["isError"]
        assert not client.call_tool("neural_run", run)["isError"]
        first = compiled(client)
        assert not client.call_tool("neural_run", run)["isError"]
        again = compiled(client)
        assert not client.call_tool("neural_run", {**run, "inputs": [[0, 1]] * 3})["isError"]  # another batch shape
        reshaped = compiled(client)
    names = {f["function"] for f in first["functions"]}
    assert any("train" in n for n in names) and any("forward" in n for n in names), names
    assert again["compiles"] == first["compiles"]  # the same call again: nothing compiled
    assert reshaped["compiles"] == first["compiles"] + 1 and reshaped["recompiles"] == first["recompiles"] + 1


def test_the_daemon_freezes_its_startup_objects_and_then_jaxs_out_of_the_garbage_collector(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        started = client.call_tool("memory_usage", {"action": "stats"})["structuredContent"]["stats"]["process"]["gc"]
        client.call_tool("neural_create", {"layers": [2, 4, 1], "network_id": "n"})
        after_jax = client.call_tool("memory_usage", {"action": "stats"})["structuredContent"]["stats"]["process"]["gc"]
    assert started["thresholds"][0] == 10_000
    assert started["frozen_objects"] > 10_000  # the SDK, pydantic and the tools, imported at startup
    assert after_jax["frozen_objects"] > started["frozen_objects"] + 10_000  # JAX's modules
