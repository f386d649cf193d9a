"""Everything the daemon writes in its data dir is private to its user, whatever the umask it was started with."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from support import spawn_stdio


def test_every_file_and_folder_the_daemon_writes_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = os.umask(0o022)  # a typical login umask, inherited by the server
    try:
        with spawn_stdio(home, "--log-file", str(home / "logs" / "swarm.log")) as client:
            client.initialize()
            for name, arguments in (
                ("memory_usage", {"action": "store", "key": "k", "value": {"v": 1}, "durable": True}),
                ("memory_usage", {"action": "export", "path": "all.jsonl"}),
                ("memory_usage", {"action": "backup", "path": "backups/b.db"}),
                ("neural_create", {"layers": [2, 2, 1], "networkId": "n"}),
                ("neural_save", {"networkId": "n", "path": "n.net"}),
            ):
                result = client.call_tool(name, arguments)
                assert not result["isError"], result["content"][0]["text"]
            modes = {str(p.relative_to(home)): p.lstat().st_mode for p in home.rglob("*")}  # while it runs: -wal, -shm
    finally:
        os.umask(old)
    assert {"swarm.db", "swarm.db-wal", "swarm.db-shm", "swarm-mcp.lock", "exports/all.jsonl", "exports/backups/b.db",
            "networks/n.net", "logs/swarm.log", "jax-cache"} <= set(modes)
    public = [f"{name} {stat.filemode(mode)}" for name, mode in modes.items() if mode & 0o077 and name != "server.stderr"]
    assert not public, public
