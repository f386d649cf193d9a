"""The log: JSON lines, tracebacks without local variables, a private log file."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from support import REPO_ROOT, log_events

PROGRAM = """
import sys
from pathlib import Path
import structlog
from swarm_mcp.logs import configure_logging

configure_logging("info", Path(sys.argv[1]))

def handle(arguments):
    secret_value = arguments["value"]
    raise RuntimeError("boom")

try:
    handle({"value": "memory-value-that-must-stay-private"})
except RuntimeError:
    structlog.get_logger("t").exception("tool_crashed", tool="memory_usage")
"""


def test_an_error_log_carries_the_traceback_but_not_the_local_variables(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "swarm.log"
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(log_file)], capture_output=True, timeout=60, cwd=str(REPO_ROOT))
    assert done.returncode == 0, done.stderr
    text = log_file.read_bytes()
    (event,) = log_events(text)
    frames = event["exception"][0]["frames"]
    assert event["exception"][0]["exc_type"] == "RuntimeError" and frames[-1]["name"] == "handle"
    assert b"memory-value-that-must-stay-private" not in text
    assert all("locals" not in frame for frame in frames)
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
