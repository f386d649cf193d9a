"""Store health as events: a watcher that announces on the feed when the store stops (or resumes)
committing writes, is read-only, or nears its quota, so clients hear of it while it matters.

The store keeps these facts (`write_error`, `read_only_reason`, `used_bytes` against
`quota_bytes`); the watcher samples them once a second and publishes only changes.
"""

from __future__ import annotations

import anyio
from anyio.abc import TaskStatus

from .feed import EventFeed
from .memory import TieredStore

__all__ = ("QUOTA_WARN", "QUOTA_CLEAR", "watch_store")

QUOTA_WARN = 0.9  # warn when the store uses this share of memory_max_bytes...
QUOTA_CLEAR = 0.8  # ...and again only after it has fallen below this share


async def watch_store(store: TieredStore, feed: EventFeed, *, every: float = 1.0,
                      task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    """Publish `store_read_only`, `store_write_failed` / `store_write_recovered` and
    `store_quota_high` / `store_quota_ok` as the store's state changes; runs until cancelled."""
    task_status.started()
    if store.read_only_reason is not None:
        feed.publish("store_read_only", {"reason": store.read_only_reason})
    failing: str | None = None
    high = False
    while True:
        error = store.write_error
        if error is not None and failing is None:
            feed.publish("store_write_failed", {"error": error, "pending": store.pending_writes()})
        elif error is None and failing is not None:
            feed.publish("store_write_recovered", {"after_error": failing})
        failing = error
        quota = store.quota_bytes
        if quota:
            share = store.used_bytes / quota
            if not high and share >= QUOTA_WARN:
                high = True
                feed.publish("store_quota_high", {"used_bytes": store.used_bytes, "quota_bytes": quota,
                                                  "share": round(share, 3)})
            elif high and share < QUOTA_CLEAR:
                high = False
                feed.publish("store_quota_ok", {"used_bytes": store.used_bytes, "quota_bytes": quota,
                                                "share": round(share, 3)})
        await anyio.sleep(every)
