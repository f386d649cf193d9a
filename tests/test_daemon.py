"""Process-level stop handling that does not depend on timing."""

from __future__ import annotations

import subprocess
import sys

from support import REPO_ROOT

PROGRAM = """
import os, signal
from swarm_mcp.daemon import StopSignals
signals = StopSignals()
signals.install()
os.kill(os.getpid(), signal.SIGINT)   # as if the daemon had already stopped and the loop was gone
os.kill(os.getpid(), signal.SIGTERM)
print(",".join(signals.received))
"""


def test_signals_after_the_event_loop_has_gone_do_not_kill_the_process() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, cwd=str(REPO_ROOT))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SIGINT,SIGTERM"
