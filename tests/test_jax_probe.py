"""The JAX probe: one subprocess however many ask at once, its answer kept, and killed on stop."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from support import spawn_stdio


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def test_many_calls_that_need_the_jax_probe_share_one_subprocess_and_a_stop_kills_it(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        assert client.process is not None
        pid = client.process.pid
        for i in range(40):
            name, arguments = ("features_detect", {"category": "neural"}) if i % 2 else ("neural_status", {})
            client.send({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
        seen: set[int] = set()
        most = 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            now = _children(pid)
            seen |= now
            most = max(most, len(now))
            time.sleep(0.01)
        assert 1 <= most <= 1 and len(seen) == 1, f"probe processes: {seen}"
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)  # the probe is still importing JAX
        assert client.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 1.5
    (probe,) = seen
    assert not Path(f"/proc/{probe}").exists() or "Z" in Path(f"/proc/{probe}/stat").read_text().split()[2]


def test_the_probe_answer_is_kept_and_every_caller_gets_it(tmp_path: Path) -> None:
    with spawn_stdio(tmp_path) as client:
        client.initialize()
        for i in range(6):
            client.send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                         "params": {"name": "features_detect", "arguments": {"category": "neural"}}})
        replies = [client.receive() for _ in range(6)]
        reports = [r["result"]["structuredContent"]["neural"] for r in replies]
        later = client.call_tool("neural_status", {})["structuredContent"]["host"]
    assert all(r == reports[0] for r in reports) and reports[0]["available"] is True
    assert reports[0]["probed_in"] == "subprocess" and later["probe_ms"] == reports[0]["probe_ms"]
