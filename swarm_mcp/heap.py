"""The garbage collector, set for a long-running daemon.

CPython's cyclic collector walks every tracked object of the generations it collects. After
startup the daemon holds about 90,000 such objects from its imports (the MCP SDK, pydantic,
structlog, ...), and about 84,000 more once JAX loads, all living as long as the process: every
full collection walked them again (about 40 ms on this project's 2-core machine, a pause that
every call in flight waits out). `gc.freeze()` moves the objects alive at that moment to the
permanent generation, which collections skip. With the default gen-0 threshold of 700
allocations, a burst of writes to the memory store (one tracked record per new key) also ran a
young collection every ~150 puts. Measured with `bench/memory.py` (the "default GC" rows):
together the two settings take new-key puts from ~150k/s to ~200k/s.

Only the daemon calls `settle`: a library user keeps their own collector settings.
"""

from __future__ import annotations

import gc

__all__ = ("GEN0_THRESHOLD", "frozen_objects", "settle")

GEN0_THRESHOLD = 10_000
_frozen = 0  # gc.get_freeze_count() walks the whole permanent generation (ms): remembered instead


def settle() -> None:
    """Freeze the objects alive now (imports, long-lived state) out of future collections, and
    collect the youngest generation every `GEN0_THRESHOLD` allocations instead of 700. Call it
    once the long-lived part of the heap is built (after startup, after a large import); calling
    it again freezes what has been added since."""
    global _frozen
    gc.freeze()
    _frozen = gc.get_freeze_count()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GEN0_THRESHOLD), gen1, gen2)


def frozen_objects() -> int:
    """Objects in the permanent generation, as of the last `settle` (0 before any; only
    `gc.freeze` adds to it, and nothing else here calls that)."""
    return _frozen
