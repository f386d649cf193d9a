"""The daemon's memory: a tiered store with a dict in front and SQLite written behind.

    async with open_store(StoreConfig(path=data_dir / "swarm.db")) as store:
        await store.put("default", "greeting", {"text": "hello"}, tags=["demo"])
        entry = await store.get("default", "greeting")

Durability: `put`/`delete` are acknowledged from memory and committed by the background
flusher within `flush_interval` (plus one flush); `durable=True` returns only after the
transaction holding the write has committed. Closing the store commits everything.
"""

from __future__ import annotations

from ._errors import StoreCorrupt as StoreCorrupt, VersionConflict as VersionConflict
from ._journal import BrainRecord as BrainRecord, BrainTable as BrainTable, Journal as Journal, RecordBatch as RecordBatch
from ._records import (
    AgentRecord as AgentRecord,
    AgentTable as AgentTable,
    EventLog as EventLog,
    EventRecord as EventRecord,
    NetworkRecord as NetworkRecord,
    NetworkTable as NetworkTable,
    SwarmRecord as SwarmRecord,
    SwarmTable as SwarmTable,
    TaskRecord as TaskRecord,
    TaskTable as TaskTable,
)
from ._schema import SCHEMA_VERSION as SCHEMA_VERSION
from ._tiered import TieredStore as TieredStore, open_store as open_store
from ._transfer import EXPORT_FORMAT as EXPORT_FORMAT, EXPORT_VERSION as EXPORT_VERSION
from ._types import (
    BackupReport as BackupReport,
    Entry as Entry,
    ImportReport as ImportReport,
    Page as Page,
    SearchHit as SearchHit,
    StoreConfig as StoreConfig,
)

__all__ = (
    "AgentRecord",
    "AgentTable",
    "BackupReport",
    "BrainRecord",
    "BrainTable",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "Entry",
    "EventLog",
    "EventRecord",
    "ImportReport",
    "Journal",
    "NetworkRecord",
    "NetworkTable",
    "Page",
    "RecordBatch",
    "SCHEMA_VERSION",
    "SearchHit",
    "StoreConfig",
    "StoreCorrupt",
    "SwarmRecord",
    "SwarmTable",
    "TaskRecord",
    "TaskTable",
    "TieredStore",
    "VersionConflict",
    "open_store",
)
