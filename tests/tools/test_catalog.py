"""The tools/list catalog: a start with a current one imports no tool module, lists exactly what
a fresh registry lists, and any changed source makes it stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from support import REPO_ROOT, server_env, spawn_stdio

from swarm_mcp.tools import AREAS
from swarm_mcp.tools._catalog import Catalog

PROGRAM = """
import sys, anyio, orjson
from pathlib import Path
from swarm_mcp.app import open_app
from swarm_mcp.config import load_config
from swarm_mcp.tools import AREAS, build_registry
from swarm_mcp.tools._catalog import Catalog
from swarm_mcp.protocol import CallInfo
from swarm_mcp.logs import configure_logging

configure_logging("warning")  # stderr: stdout carries the answer

async def main():
    async with open_app(load_config({"data_dir": sys.argv[1]}, {})) as app:
        registry = build_registry(app, catalog=Catalog(Path(sys.argv[2])))
        listing = registry.list_tools()
        before = sorted(m for m in AREAS if f"swarm_mcp.tools.{m}" in sys.modules)
        pydantic = "pydantic" in sys.modules
        result = await registry.call_tool("memory_usage", {"action": "stats"}, CallInfo("test"))
        after = sorted(m for m in AREAS if f"swarm_mcp.tools.{m}" in sys.modules)
        print(orjson.dumps({"listing": listing, "before": before, "pydantic": pydantic, "after": after,
                            "ok": not result["isError"]}).decode())

anyio.run(main)
"""


def _start(home: Path, catalog: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(home), str(catalog)], capture_output=True, timeout=120,
                          cwd=str(REPO_ROOT), env=server_env(home))
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return orjson.loads(done.stdout.splitlines()[-1])


def test_a_start_with_a_current_catalog_imports_no_tool_module_and_lists_the_same_tools(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    first = _start(tmp_path / "a", catalog)
    assert catalog.exists() and first["before"] == sorted(AREAS) and first["ok"]
    second = _start(tmp_path / "b", catalog)
    assert second["listing"] == first["listing"]
    assert second["before"] == [] and second["pydantic"] is False  # nothing imported to list the tools
    assert second["after"] == ["memory"] and second["ok"]  # the first call imports its own module only


def test_a_changed_source_or_another_tool_set_makes_the_catalog_stale(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    _start(tmp_path / "a", path)
    catalog = Catalog(path)
    assert catalog.load(list(AREAS)) is not None
    assert catalog.load([*AREAS, "extra"]) is None
    document = orjson.loads(path.read_bytes())
    document["sources"][0][1] += 1  # as if that file had been edited
    path.write_bytes(orjson.dumps(document))
    assert catalog.load(list(AREAS)) is None


def test_the_daemon_lists_its_tools_before_loading_pydantic(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path / "first") as client:  # makes sure this checkout's catalog is current
        client.initialize()
        expected = client.request("tools/list")["tools"]
    with spawn_stdio(tmp_path / "second") as client:
        client.initialize()
        assert client.request("tools/list")["tools"] == expected
        assert client.process is not None
        maps = Path(f"/proc/{client.process.pid}/maps")
        assert "pydantic_core" not in maps.read_text()
        assert not client.call_tool("memory_usage", {})["isError"]
        assert "pydantic_core" in maps.read_text()
