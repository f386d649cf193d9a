"""`features_detect` through MCP: every fact matches an independent reading of the same thing."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from support import mcp_client


async def detect(client: Any, category: str) -> dict[str, Any]:
    result = await client.call_tool("features_detect", {"category": category})
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def test_runtime_reports_this_interpreter_and_the_installed_sdk(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        runtime = (await detect(client, "runtime"))["runtime"]
    assert runtime["python"] == platform.python_version() and runtime["pid"] == os.getpid()
    assert runtime["packages"]["mcp"] == "2.3.0" and runtime["executable"] == sys.executable


async def test_cpu_matches_the_os_and_proc_cpuinfo(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        cpu = (await detect(client, "cpu"))["cpu"]
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    assert cpu["logical_cores"] == os.cpu_count()
    assert cpu["simd"]["avx2"] == ("avx2" in flags)
    assert cpu["avx512"] == sorted(f for f in flags if f.startswith("avx512"))
    assert cpu["amx"] == sorted(f for f in flags if f.startswith("amx"))


async def test_memory_reports_host_totals_and_this_process(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        memory = (await detect(client, "memory"))["memory"]
    total_kib = int(next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")).split()[1])
    assert memory["total_bytes"] == total_kib * 1024
    assert 0 < memory["process_rss_bytes"] <= memory["process_peak_rss_bytes"]


async def test_storage_reports_the_sqlite_build_and_the_data_dir(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        storage = (await detect(client, "storage"))["storage"]
    assert storage["sqlite_version"] == sqlite3.sqlite_version and storage["fts5"] is True
    assert storage["data_dir"] == str(tmp_path) and storage["data_dir_writable"] is True
    assert storage["db_bytes"] > 0 and (tmp_path / "swarm.db").exists()  # exact size races the checkpointer


async def test_transports_change_when_a_transport_starts_serving(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        before = (await detect(client, "transports"))["transports"]["serving"]
        app.transports.serving("tcp-lines", "tcp://127.0.0.1:1")
        app.transports.opened("tcp-lines")
        after = (await detect(client, "transports"))["transports"]["serving"]
    assert "tcp-lines" not in before
    assert after["tcp-lines"] == {"endpoint": "tcp://127.0.0.1:1", "open_connections": 1, "total_connections": 1}


async def test_neural_probes_jax_without_leaving_it_imported(tmp_path: Path) -> None:
    jax_was_loaded = "jax" in sys.modules
    async with mcp_client(tmp_path) as (client, _):
        neural = (await detect(client, "neural"))["neural"]
    assert neural["available"] is True and neural["jax_installed"] is True
    assert neural["device_count"] >= 1 and neural["devices"][0]["platform"] == "cpu"
    assert neural["probed_in"] == ("daemon" if jax_was_loaded else "subprocess")
    assert ("jax" in sys.modules) == jax_was_loaded


async def test_all_reports_every_category_and_uptime_moves(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        first = await detect(client, "all")
        second = await detect(client, "runtime")
    assert {"runtime", "cpu", "memory", "neural", "storage", "transports", "swarm"} <= set(first)
    assert second["runtime"]["uptime_s"] > first["runtime"]["uptime_s"]


async def test_an_unknown_category_lists_the_valid_ones(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        result = await client.call_tool("features_detect", {"category": "gpu"})
    assert result.is_error and "'all', 'runtime', 'cpu', 'memory', 'neural', 'storage', 'transports', 'swarm', 'simd' or 'platform'" in result.content[0].text


@pytest.mark.parametrize("category", ["runtime", "cpu", "memory", "storage", "transports", "swarm"])
async def test_structured_output_matches_the_advertised_output_schema(tmp_path: Path, category: str) -> None:
    import jsonschema

    async with mcp_client(tmp_path) as (client, _):
        tool = next(t for t in (await client.list_tools()).tools if t.name == "features_detect")
        report = await detect(client, category)
    jsonschema.validate(report, tool.output_schema)


async def test_the_swarm_category_counts_the_engines_real_swarms_and_agents(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        before = (await detect(client, "swarm"))["swarm"]
        await client.call_tool("swarm_init", {"topology": "mesh"})
        await client.call_tool("agent_spawn", {"type": "coder"})
        after = (await detect(client, "swarm"))["swarm"]
    assert (before["swarms"], before["agents"]) == (0, 0) and (after["swarms"], after["agents"]) == (1, 1)
    assert after["running"] and after["executors"]["client"]["available"] and "mesh" in after["topologies"]
