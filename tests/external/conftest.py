"""Fixtures for the real external clients: the npm install (once per cache), the Inspector, a
sandboxed Claude Code per test, and the official conformance suite."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from external_clients import (
    ClaudeSandbox,
    Conformance,
    Inspector,
    InstallFailed,
    NpmClients,
    Tripwire,
    install_clients,
    install_conformance,
    npm_cache_root,
    running_tripwire,
)
from support import requirement_missing


@pytest.fixture(scope="session")
def npm_clients() -> NpmClients:
    """The pinned Inspector and Claude Code, installed into the npm cache folder on first use.

    Without node/npm/npx the tests skip, except under CI (env `CI` set), where they must run.
    """
    missing = [tool for tool in ("node", "npm", "npx") if shutil.which(tool) is None]
    if missing:
        requirement_missing(f"{', '.join(missing)} not on PATH: the external-client tests need Node.js and npm")
    root = npm_cache_root(os.environ)
    try:
        return install_clients(root)
    except InstallFailed as exc:
        pytest.fail(f"installing the external clients into {root} failed (set SWARM_MCP_NPM_CACHE to use "
                    f"another folder):\n{exc}", pytrace=False)


@pytest.fixture(scope="session")
def inspector(npm_clients: NpmClients) -> Inspector:
    return Inspector(npm_clients)


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    with running_tripwire() as wire:
        yield wire


@pytest.fixture
def claude_sandbox(npm_clients: NpmClients, tripwire: Tripwire, tmp_path: Path) -> ClaudeSandbox:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    return ClaudeSandbox(npm_clients, home=home, cwd=project, tripwire=tripwire)


@pytest.fixture(scope="session")
def conformance() -> Conformance:
    """The pinned conformance suite and its Node 22, installed under the npm cache folder on first use."""
    if shutil.which("npm") is None:
        requirement_missing("npm not on PATH: the conformance suite is installed from the npm registry")
    root = npm_cache_root(os.environ) / "conformance"
    try:
        return install_conformance(root)
    except InstallFailed as exc:
        pytest.fail(f"installing the conformance suite into {root} failed:\n{exc}", pytrace=False)
