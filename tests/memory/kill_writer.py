"""Used by test_kill.py: write durable and non-durable entries until SIGKILLed.

Prints one line per acknowledged write to stdout, flushed at once:
    "D <key>"   durable put returned (its transaction has committed)
    "N <key>"   default put returned (acknowledged from memory)
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import structlog

from swarm_mcp.memory import StoreConfig, open_store


async def main(path: Path) -> None:
    out = sys.stdout
    async with open_store(StoreConfig(path=path, flush_interval=0.05)) as store:
        out.write("READY\n")
        out.flush()
        i = 0
        while True:
            i += 1
            if i % 10 == 0:
                key = f"d{i}"
                await store.put("kill", key, {"i": i, "text": f"durable{i}"}, durable=True)
                out.write(f"D {key}\n")
            else:
                key = f"n{i}"
                await store.put("kill", key, {"i": i, "text": f"default{i}"})
                out.write(f"N {key}\n")
            out.flush()
            if i % 50 == 0:
                await anyio.sleep(0.001)  # give the background flusher its turn, like a real server


if __name__ == "__main__":
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))  # stdout is the ack channel
    anyio.run(main, Path(sys.argv[1]))
