"""The public surface of swarm_mcp.neural and its house rules (imports, no import-time work)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from swarm_mcp import neural

PACKAGE = Path(neural.__file__).parent


def test_public_module_lists_its_surface_in_a_tuple() -> None:
    assert isinstance(neural.__all__, tuple)
    assert len(set(neural.__all__)) == len(neural.__all__)
    for name in neural.__all__:
        assert hasattr(neural, name), name


def test_importing_touches_no_device_and_no_other_swarm_module() -> None:
    code = (
        "import sys, swarm_mcp.neural\n"
        "from jax._src import xla_bridge\n"
        "mods = sorted(m for m in sys.modules if m.startswith('swarm_mcp') and not m.startswith('swarm_mcp.neural'))\n"
        "print(xla_bridge.backends_are_initialized(), mods)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent.parent
    ).stdout.strip()
    assert out == "False ['swarm_mcp', 'swarm_mcp.errors']"


def test_sources_never_print_or_enable_x64() -> None:
    for source in PACKAGE.glob("*.py"):
        text = source.read_text()
        assert "print(" not in text, source.name
        assert "jax_enable_x64" not in text, source.name
        if source.name != "_compile.py":
            assert "jax.config.update" not in text, source.name


def test_jax_config_changes_only_inside_configure_compilation_cache() -> None:
    """The daemon calls it explicitly; nothing configures JAX at import time."""
    tree = ast.parse((PACKAGE / "_compile.py").read_text())
    allowed = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "configure_compilation_cache")
    inside = {id(n) for n in ast.walk(allowed)}
    updates = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "jax.config.update"
    ]
    assert updates and all(id(n) in inside for n in updates)
