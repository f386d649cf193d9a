"""ruv-swarm, the MCP server swarm-mcp is measured against, installed pinned from npm into a cache.

    root = install_ruv_swarm()                  # ~/.cache/swarm-mcp/ruv-swarm, once
    argv = ruv_swarm_argv(root)                 # node .../ruv-swarm-secure.js mcp start

The install is kept outside the clone, next to the npm clients the tests install
(`$SWARM_MCP_NPM_CACHE/../ruv-swarm`, else `~/.cache/swarm-mcp/ruv-swarm`), under a file lock,
and trusted only when a marker written after a complete install names the pinned version.
ruv-swarm keeps its SQLite database inside its own package folder (`data/ruv-swarm.db`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

__all__ = ("RUV_SWARM_VERSION", "RuvSwarmUnavailable", "install_ruv_swarm", "ruv_swarm_argv")

RUV_SWARM_VERSION = "1.0.20"
_MARKER = ".swarm-mcp-ruv-swarm.json"


class RuvSwarmUnavailable(RuntimeError):
    """node/npm are missing or the install failed; the message says which and what npm said."""


def cache_root() -> Path:
    if os.environ.get("SWARM_MCP_NPM_CACHE"):
        return Path(os.environ["SWARM_MCP_NPM_CACHE"]).expanduser().parent / "ruv-swarm"
    base = Path(os.environ["XDG_CACHE_HOME"]) if os.environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "swarm-mcp" / "ruv-swarm"


def _installed(root: Path) -> bool:
    try:
        marker = json.loads((root / _MARKER).read_text())
        manifest = json.loads((root / "node_modules" / "ruv-swarm" / "package.json").read_text())
    except (OSError, ValueError):
        return False
    return marker == {"ruv-swarm": RUV_SWARM_VERSION} and manifest.get("version") == RUV_SWARM_VERSION


def install_ruv_swarm(root: Path | None = None, *, timeout: float = 900) -> Path:
    """The install folder holding ruv-swarm@RUV_SWARM_VERSION, installing it first if needed.

    Raises:
        RuvSwarmUnavailable: node or npm is missing, or npm failed.
    """
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        raise RuvSwarmUnavailable(f"{', '.join(missing)} not on PATH; the ruv-swarm comparison needs Node.js and npm")
    root = root or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(root):
            (root / _MARKER).unlink(missing_ok=True)
            (root / "package.json").write_text(json.dumps(
                {"name": "swarm-mcp-bench-ruv-swarm", "private": True, "dependencies": {"ruv-swarm": RUV_SWARM_VERSION}}
            ))
            argv = ["npm", "install", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=warn"]
            try:
                done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise RuvSwarmUnavailable(f"`{' '.join(argv)}` in {root} ran over {timeout} s") from None
            if done.returncode != 0 or not (root / "node_modules" / "ruv-swarm").is_dir():
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
                raise RuvSwarmUnavailable(f"`{' '.join(argv)}` in {root} failed ({done.returncode}):\n{tail}")
            (root / _MARKER).write_text(json.dumps({"ruv-swarm": RUV_SWARM_VERSION}))
    return root


def ruv_swarm_argv(root: Path) -> list[str]:
    """ruv-swarm's stdio MCP server, as `claude mcp add ruv-swarm npx ruv-swarm mcp start` runs it."""
    node = shutil.which("node") or "node"
    return [node, str(root / "node_modules" / "ruv-swarm" / "bin" / "ruv-swarm-secure.js"), "mcp", "start"]
