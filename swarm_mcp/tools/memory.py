"""`memory_usage`: the daemon's shared memory (store, retrieve, list, search, …) and its statistics."""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import gc
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from .. import heap, hostinfo
from ..errors import Conflict, InvalidArgument
from ..memory import Entry, VersionConflict
from ..paths import confine, ensure_private_dir
from ._registry import ToolContext, ToolRegistry, wire_name

__all__ = ("register",)

Action = Literal["store", "retrieve", "delete", "list", "search", "stats", "export", "import", "backup"]

# Which arguments each action reads (by their wire names); anything else given is a mistake we name.
_USES: dict[str, frozenset[str]] = {
    "store": frozenset({"key", "value", "namespace", "ttl", "tags", "metadata", "durable", "ifVersion", "agentId"}),
    "retrieve": frozenset({"key", "namespace"}),
    "delete": frozenset({"key", "namespace", "durable", "ifVersion"}),
    "list": frozenset({"namespace", "prefix", "limit", "cursor"}),
    "search": frozenset({"query", "namespace", "tags", "limit"}),
    "stats": frozenset({"detail"}),
    "export": frozenset({"path", "namespace"}),
    "import": frozenset({"path", "mode"}),
    "backup": frozenset({"path"}),
}


class MemoryUsage(TypedDict):
    action: str
    entry: NotRequired[dict[str, Any]]
    found: NotRequired[bool]
    deleted: NotRequired[bool]
    namespace: NotRequired[str]
    key: NotRequired[str]
    entries: NotRequired[list[dict[str, Any]]]
    next_cursor: NotRequired[str | None]
    hits: NotRequired[list[dict[str, Any]]]
    stats: NotRequired[dict[str, Any]]
    path: NotRequired[str]
    exported: NotRequired[int]
    report: NotRequired[dict[str, Any]]


def _entry(entry: Entry, now: float) -> dict[str, Any]:
    return entry.to_json(now)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]


@functools.cache
def _mallinfo2() -> Any:
    """glibc's mallinfo2 from the libc already loaded in this process (no library search: that ran
    `ldconfig -p` in a subprocess on every call), or None elsewhere."""
    libc = ctypes.CDLL(None)
    function = getattr(libc, "mallinfo2", None)
    if function is not None:
        function.restype = _MallInfo2
    return function


def _heap_bytes() -> dict[str, Any]:
    """The C heap as glibc reports it (mallinfo2, which walks every arena: `detailed` only) and
    the interpreter's allocated block count."""
    out: dict[str, Any] = {"python_allocated_blocks": sys.getallocatedblocks()}
    mallinfo2 = _mallinfo2()
    if mallinfo2 is not None:
        info = mallinfo2()
        out.update(malloc_in_use_bytes=info.uordblks + info.hblkhd, malloc_arena_bytes=info.arena + info.hblkhd)
    return out


def _collector() -> dict[str, Any]:
    """The cyclic garbage collector: objects frozen out of it (see `swarm_mcp.heap`), its
    thresholds, and collections run per generation."""
    return {
        "frozen_objects": heap.frozen_objects(),  # counting them walks ~100,000 objects: kept at freeze time
        "thresholds": list(gc.get_threshold()),
        "collections": [generation["collections"] for generation in gc.get_stats()],
    }


def _jax_memory() -> dict[str, Any] | None:
    if "jax" not in sys.modules:
        return None  # not loaded: asking would load it
    import jax

    devices = []
    for device in jax.devices():
        stats = device.memory_stats() or {}
        devices.append({"id": device.id, "platform": device.platform, **{k: v for k, v in stats.items() if "bytes" in k}})
    return {"devices": devices, "live_arrays": len(jax.live_arrays())}


def _check_arguments(action: str, provided: frozenset[str]) -> None:
    given = {wire_name(name) for name in provided} - {"action"}
    stray = sorted(given - _USES[action])
    if stray:
        users = {arg: sorted(a for a, uses in _USES.items() if arg in uses) for arg in stray}
        detail = "; ".join(f"{arg!r} is used by {', '.join(users[arg]) or 'no action'}" for arg in stray)
        raise InvalidArgument(
            f"memory_usage action {action!r} does not take {', '.join(repr(a) for a in stray)} ({detail}). "
            f"Arguments for {action!r}: {', '.join(sorted(_USES[action])) or 'none'}."
        )


def _require(value: Any, name: str, action: str, hint: str) -> Any:
    if value is None:
        raise InvalidArgument(f"memory_usage action {action!r} needs {name!r}: {hint}")
    return value


async def memory_usage(
    ctx: ToolContext,
    action: Annotated[Action, Field(description="What to do; default stats.")] = "stats",
    key: Annotated[str | None, Field(description="Entry key, up to 512 characters (store, retrieve, delete).")] = None,
    value: Annotated[Any, Field(description="Any JSON value, up to 1 MiB serialized (store).")] = None,
    namespace: Annotated[
        str | None,
        Field(description="Namespace of [A-Za-z0-9_.:/-], up to 128 characters; default 'default'. "
              "For search and export, omit it to cover every namespace."),
    ] = None,
    ttl: Annotated[float | None, Field(gt=0, description="Seconds until the entry expires (store).")] = None,
    tags: Annotated[list[str] | None, Field(description="Tags to store, or to require in search results.")] = None,
    metadata: Annotated[dict[str, Any] | None, Field(description="JSON object stored with the entry (store).")] = None,
    durable: Annotated[
        bool, Field(description="Reply only after the write is committed to disk (store, delete).")
    ] = False,
    if_version: Annotated[
        int | None,
        Field(alias="ifVersion", ge=0, description="Compare-and-set: write only if the entry's version is this; "
              "0 means only if absent (store, delete)."),
    ] = None,
    agent_id: Annotated[
        str | None, Field(alias="agentId", description="Agent that owns the entry, for stats by agent (store).")
    ] = None,
    query: Annotated[str | None, Field(description="Words to search for; word* matches a prefix (search).")] = None,
    prefix: Annotated[str | None, Field(description="Only keys starting with this (list).")] = None,
    limit: Annotated[int | None, Field(ge=1, le=1000, description="Most results: list default 100, search default 10 (max 100).")] = None,
    cursor: Annotated[str | None, Field(description="next_cursor from the previous list call (a page also ends early once it holds a quarter of max_response_bytes).")] = None,
    path: Annotated[
        str | None, Field(description="File in the data dir's exports/ folder, relative to it (export, import, backup).")
    ] = None,
    detail: Annotated[
        Literal["summary", "detailed", "by-agent"], Field(description="How much stats to report (stats).")
    ] = "summary",
    mode: Annotated[
        Literal["merge", "replace"],
        Field(description="import: merge (newer version wins) or replace (the file's namespace, or everything)."),
    ] = "merge",
) -> MemoryUsage:
    """Read and write the daemon's shared memory, or report its statistics.

    Every client of this daemon sees the same memory, kept in RAM and written behind to SQLite.
    Actions: store (key, value; optional namespace, ttl, tags, metadata, agentId, ifVersion for
    compare-and-set, durable to wait for the disk), retrieve (key), delete (key), list (namespace,
    prefix, limit, cursor), search (full-text query over keys, values and tags; namespace, tags,
    limit), stats (detail: summary, detailed or by-agent; process memory included, malloc and JAX
    figures in detailed), export and import (a JSON Lines file in the data dir's exports/ folder;
    import mode merge or replace) and backup (a consistent copy of the database file, also in
    exports/). Entries carry a version that grows on every update.
    """
    store = ctx.app.store
    config = ctx.app.config
    _check_arguments(action, ctx.provided)
    ns = namespace if namespace is not None else "default"
    if action == "store":
        _require(key, "key", action, "the entry's name")
        if "value" not in ctx.provided:
            raise InvalidArgument("memory_usage action 'store' needs 'value': any JSON value (null counts, but must be given)")
        try:
            entry = await store.put(
                ns, key, value, tags=tags or (), metadata=metadata, ttl=ttl, if_version=if_version,
                durable=durable, agent_id=agent_id,
            )
        except VersionConflict as conflict:
            raise VersionConflictForTool(conflict) from conflict
        ctx.app.feed.publish("memory_written", {"namespace": ns, "key": key, "version": entry.version})
        return {"action": action, "entry": _entry(entry, entry.updated)}
    if action == "retrieve":
        _require(key, "key", action, "the entry's name")
        found = await store.get(ns, key)
        if found is None:
            return {"action": action, "found": False, "namespace": ns, "key": key}
        return {"action": action, "found": True, "entry": _entry(found, ctx.app.clock())}
    if action == "delete":
        _require(key, "key", action, "the entry's name")
        try:
            deleted = await store.delete(ns, key, if_version=if_version, durable=durable)
        except VersionConflict as conflict:
            raise VersionConflictForTool(conflict) from conflict
        if deleted:
            ctx.app.feed.publish("memory_deleted", {"namespace": ns, "key": key})
        return {"action": action, "deleted": deleted, "namespace": ns, "key": key}
    if action == "list":
        # A page holds at most a quarter of a response: each entry goes out twice (structured and as
        # text), and escaping can double the text form.
        page = await store.list(ns, prefix=prefix or "", limit=limit or 100, cursor=cursor, max_bytes=config.max_response_bytes // 4)
        now = ctx.app.clock()
        return {"action": action, "namespace": ns, "entries": [_entry(e, now) for e in page.entries], "next_cursor": page.next_cursor}
    if action == "search":
        _require(query, "query", action, "one or more words to look for")
        hits = await store.search(query, namespace=namespace, tags=tags or (), limit=limit or 10)
        now = ctx.app.clock()
        return {
            "action": action,
            "hits": [{**_entry(hit.entry, now), "score": hit.score, "snippet": hit.snippet} for hit in hits],
        }
    if action == "stats":
        stats = await store.stats(detail=detail)
        stats["process"] = {"rss_bytes": hostinfo.process_rss_bytes(), "gc": _collector()}
        if detail == "detailed":  # the figures that cost more than the rest of the call together
            stats["process"].update(_heap_bytes(), jax=_jax_memory())
        return {"action": action, "stats": stats}
    target = confine(
        _require(path, "path", action, "a file name inside the data dir's exports/ folder"), config.exports_dir,
        data_dir=config.data_dir, allowed=config.allow_external_paths,
    )
    if action == "export":
        ensure_private_dir(target.parent)
        count = await store.export(target, namespace=namespace)
        return {"action": action, "path": str(target), "exported": count}
    if action == "import":
        report = await store.import_(target, mode=mode)
        return {"action": action, "path": str(target), "report": _report(report)}
    ensure_private_dir(target.parent)
    backup = await store.backup(target)
    return {"action": action, "path": str(target), "report": _report(backup)}


def _report(report: Any) -> dict[str, Any]:
    return {name: str(value) if isinstance(value, Path) else value for name, value in dataclasses.asdict(report).items()}


class VersionConflictForTool(Conflict):
    """The store's compare-and-set conflict, phrased with the tool's argument name."""

    def __init__(self, conflict: VersionConflict) -> None:
        super().__init__(str(conflict).replace("if_version=", "ifVersion="))


def register(registry: ToolRegistry) -> None:
    registry.add(memory_usage, title="Shared memory", destructive=True, idempotent=False)
