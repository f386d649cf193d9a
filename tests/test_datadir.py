"""The data dir: created private, owned by one process, never inside the package."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import swarm_mcp
from swarm_mcp.datadir import DataDirBusy, DataDirLock, ensure_data_dir
from swarm_mcp.errors import Unavailable


def test_a_new_data_dir_is_created_with_mode_0700(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert ensure_data_dir(target) == []
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_an_existing_world_readable_data_dir_gets_a_warning(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    assert "accessible to other users" in ensure_data_dir(tmp_path)[0]


def test_a_data_dir_inside_the_package_is_refused() -> None:
    with pytest.raises(Unavailable, match="inside the swarm_mcp package"):
        ensure_data_dir(Path(swarm_mcp.__file__).parent / "data")


def test_a_second_lock_on_the_same_dir_names_the_owner_pid_and_url(tmp_path: Path) -> None:
    owner = DataDirLock(tmp_path / "swarm-mcp.lock")
    owner.acquire(tcp_url=None)
    owner.set_tcp_url("http://127.0.0.1:8765/mcp")
    try:
        with pytest.raises(DataDirBusy) as caught:
            DataDirLock(tmp_path / "swarm-mcp.lock").acquire()
        message = str(caught.value)
        import os

        assert f"pid {os.getpid()}" in message and "http://127.0.0.1:8765/mcp" in message and "--data-dir" in message
    finally:
        owner.release()
    DataDirLock(tmp_path / "swarm-mcp.lock").acquire()  # free again once released
