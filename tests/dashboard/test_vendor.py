"""The vendored chart library is the npm release its README names, byte for byte, with its licence."""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files


def test_every_vendored_file_is_listed_with_its_hash_and_matches_it() -> None:
    vendor = files("swarm_mcp.dashboard") / "static" / "vendor"
    listed = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", (vendor / "README.md").read_text(), re.M))
    present = {item.name for item in vendor.iterdir() if item.name != "README.md"}
    assert set(listed) == present and "uPlot.LICENSE" in present
    for name, digest in listed.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (vendor / "uPlot.LICENSE").read_text()
