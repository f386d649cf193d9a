"""Export, import and backup: blocking work done on a worker thread (export and backup with their
own connections; import on the writer's thread, in one transaction).

Export format (JSON Lines, UTF-8): the first line is a header
`{"format": "swarm-mcp-memory", "version": 1, "exported_at": …, "namespace": … | null}`,
then one entry per line with namespace, key, value, tags, metadata, agent_id, version,
created, updated, accessed, access_count and expires_at.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from swarm_mcp.errors import InvalidArgument, NotFound, SwarmError, Unavailable
from swarm_mcp.files import read_bounded, replace_privately

from . import _sql
from ._limits import check_key, check_metadata, check_namespace, check_tags, dump_json
from ._writer import transaction

EXPORT_FORMAT = "swarm-mcp-memory"
EXPORT_VERSION = 1
_FIELDS = ("namespace", "key", "value", "tags", "metadata", "agent_id", "version", "created", "updated",
           "accessed", "access_count", "expires_at")


def _read_connection(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, isolation_level=None)


def export_sync(db_path: Path, out: Path, *, namespace: str | None, now: float) -> int:
    """Write live entries (all, or one namespace) to `out` atomically, mode 0600; returns how many."""
    src = _read_connection(db_path)
    try:
        src.execute("BEGIN")  # one read snapshot for the whole file
        rows = src.execute(
            f"SELECT {_sql.COLUMNS} FROM entries WHERE (?1 IS NULL OR namespace = ?1) "
            "AND (expires_at IS NULL OR expires_at > ?2) ORDER BY namespace, key",
            (namespace, now),
        )
        count = 0
        with replace_privately(out) as (f, _):
            header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": now, "namespace": namespace}
            f.write(orjson.dumps(header) + b"\n")
            for r in rows:
                line = {
                    "namespace": r[0], "key": r[1], "value": orjson.Fragment(r[2]), "tags": orjson.Fragment(r[3]),
                    "metadata": None if r[4] is None else orjson.Fragment(r[4]), "agent_id": r[5], "version": r[6],
                    "created": r[7], "updated": r[8], "accessed": r[9], "access_count": r[10], "expires_at": r[11],
                }
                f.write(orjson.dumps(line) + b"\n")
                count += 1
    except Unavailable as exc:
        raise Unavailable(f"Could not write the export file {str(out)!r} ({exc}); choose a writable path") from exc
    finally:
        src.close()
    return count


@dataclass(slots=True)
class ParsedImport:
    namespace: str | None  # from the header: the export covered one namespace
    rows: list[tuple[Any, ...]]  # stage rows, in _sql.COLUMNS order
    expired: int


def _number(line: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    value = line.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"field {name!r} must be a number, not {value!r}")
    return value


def parse_import(path: Path, *, now: float, max_value_bytes: int, max_file_bytes: int) -> ParsedImport:
    """Read (at most `max_file_bytes`, no symlink) and validate a whole export file before anything is written."""
    try:
        data = read_bounded(path, limit=max_file_bytes, what="memory export file")
    except NotFound:
        raise InvalidArgument(f"no file at {path}; export one first (memory_usage action 'export')") from None
    lines = data.splitlines()
    try:
        header = orjson.loads(lines[0]) if lines else None
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise InvalidArgument(
            f"{str(path)!r} is not a swarm-mcp memory export (its first line must be a header with "
            f"format {EXPORT_FORMAT!r}); import only files written by export"
        )
    version = header.get("version")
    if not isinstance(version, int) or not 1 <= version <= EXPORT_VERSION:
        raise InvalidArgument(
            f"{str(path)!r} has export format version {version!r}; this swarm-mcp reads versions 1 to "
            f"{EXPORT_VERSION}. Upgrade swarm-mcp or export again with this version"
        )
    namespace = header.get("namespace")
    if namespace is not None:
        check_namespace(namespace)
    rows: list[tuple[Any, ...]] = []
    expired = 0
    for lineno, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        try:
            line = orjson.loads(raw)
            if not isinstance(line, dict):
                raise ValueError("not a JSON object")
            ns = check_namespace(line.get("namespace"))
            if namespace is not None and ns != namespace:
                raise ValueError(f"namespace {ns!r} differs from the header's {namespace!r}")
            key = check_key(line.get("key"))
            if "value" not in line:
                raise ValueError("field 'value' is missing")
            value = dump_json(line["value"], what="value", limit=max_value_bytes)
            tags = check_tags(line.get("tags") or ())
            metadata = check_metadata(line.get("metadata"), limit=max_value_bytes)
            agent_id = line.get("agent_id")
            if agent_id is not None and not isinstance(agent_id, str):
                raise ValueError("field 'agent_id' must be a string or null")
            entry_version = line.get("version")
            if isinstance(entry_version, bool) or not isinstance(entry_version, int) or entry_version < 1:
                raise ValueError(f"field 'version' must be an integer >= 1, not {entry_version!r}")
            created, updated = _number(line, "created"), _number(line, "updated")
            accessed = _number(line, "accessed", optional=True)
            count = line.get("access_count", 0)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"field 'access_count' must be an integer >= 0, not {count!r}")
            expires_at = _number(line, "expires_at", optional=True)
        except (SwarmError, ValueError, orjson.JSONDecodeError) as exc:
            raise InvalidArgument(
                f"{str(path)!r} line {lineno}: {exc}; fix that line or export again. Nothing was imported"
            ) from exc
        if expires_at is not None and expires_at <= now:
            expired += 1
            continue
        size = len(value) + len(key) + (len(metadata) if metadata else 0) + sum(map(len, tags))
        rows.append((
            ns, key, value.decode(), orjson.dumps(tags).decode(), None if metadata is None else metadata.decode(),
            agent_id, entry_version, created, updated, updated if accessed is None else accessed, count,
            expires_at, size,
        ))
    return ParsedImport(namespace=namespace, rows=rows, expired=expired)


def apply_import(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], mode: str, namespace: str | None, now: float
) -> tuple[int, int]:
    """On the writer's thread, one transaction: stage the parsed rows, then (replace) delete the
    namespace leaving tombstones, or (merge) drop staged rows the store has at an equal or newer
    version; upsert the rest above any tombstone. Returns (entries deleted, rows skipped)."""
    deleted = skipped = 0
    with transaction(conn):
        if mode == "replace":
            conn.execute(_sql.TOMBSTONE_NAMESPACE, (namespace, now))
            deleted = conn.execute(_sql.DELETE_NAMESPACE, (namespace,)).rowcount
        conn.executemany(_sql.STAGE_INSERT, rows)
        if mode == "merge":
            skipped = conn.execute(_sql.MARK_STAGED_NEWER).rowcount
        conn.execute(_sql.LIFT_STAGED_ABOVE_TOMBSTONES)
        before = conn.execute(_sql.MAX_ID).fetchone()[0]
        conn.execute(_sql.UPSERT_STAGED)
        conn.execute(_sql.BACKLOG_NEW, (before,))
        conn.execute(_sql.CLEAR_STAGE)
    return deleted, skipped


def backup_sync(db_path: Path, dest: Path) -> tuple[int, int, float]:
    """Copy the database with SQLite's online backup API (one step: a consistent snapshot) into a
    private temporary file, renamed over `dest`."""
    if dest.resolve() == db_path.resolve():
        raise InvalidArgument(f"Backup target {str(dest)!r} is the live database itself; choose another path")
    started = time.perf_counter()
    src = _read_connection(db_path)
    try:
        with replace_privately(dest) as (_, tmp):
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
                pages = dst.execute("PRAGMA page_count").fetchone()[0]
            finally:
                dst.close()
    except (Unavailable, sqlite3.Error) as exc:
        raise Unavailable(f"Could not write the backup {str(dest)!r} ({exc}); choose a writable path with free space") from exc
    finally:
        src.close()
    return dest.stat().st_size, pages, time.perf_counter() - started
