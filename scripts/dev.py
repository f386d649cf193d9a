#!/usr/bin/env python3
"""Set up swarm-mcp in ./.venv and run it: the one entry point a fresh clone needs.

    python3 scripts/dev.py serve [SERVE ARGS...]   set up, then `swarm-mcp serve` (stdio by default)
    python3 scripts/dev.py test [PYTEST ARGS...]   set up, then run the whole test suite
    python3 scripts/dev.py bench [BENCH ARGS...]   set up, then `swarm-mcp bench`
    python3 scripts/dev.py setup                   only set up

Needs nothing but Python >= 3.11. The virtual environment is rebuilt only when pyproject.toml
changes (a hash stamp inside .venv records what was installed). Progress goes to stderr, so
`dev.py serve` keeps stdout clean for the MCP wire.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".swarm-mcp-installed"
MIN_PYTHON = (3, 11)


def say(message: str) -> None:
    sys.stderr.write(f"[dev] {message}\n")
    sys.stderr.flush()


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def wanted_stamp() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {sys.version_info[:2]}"


def setup() -> Path:
    """Create .venv and install the project with its test extras, unless already current."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"swarm-mcp needs Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}; this is {sys.version.split()[0]}")
    python = venv_python()
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted_stamp():
        return python
    if not python.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    say("installing swarm-mcp and its test dependencies (first run only)")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    # pip's own progress would land on stdout; send it to stderr.
    run = dict(stdout=sys.stderr, check=True)
    subprocess.run([*pip, "install", "--upgrade", "pip"], **run)  # type: ignore[call-overload]
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], **run)  # type: ignore[call-overload]
    STAMP.write_text(wanted_stamp())
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    python = setup()
    if command == "setup":
        say(f"ready: {python}")
        return 0
    if command == "serve":
        os.execv(python, [str(python), "-m", "swarm_mcp", "serve", *rest])
    if command == "bench":
        os.execv(python, [str(python), "-m", "swarm_mcp", "bench", *rest])
    if command == "test":
        os.chdir(ROOT)
        return subprocess.call([str(python), "-m", "pytest", *rest])
    say(f"unknown command {command!r}; use serve, test, bench or setup")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
