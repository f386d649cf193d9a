"""Input limits. Each check raises an error that names the limit and how to stay within it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from swarm_mcp.errors import InvalidArgument, LimitExceeded

MAX_KEY_CHARS = 512
MAX_NAMESPACE_CHARS = 128
MAX_TAGS = 64
MAX_TAG_CHARS = 128
# Deeper values are refused: every reply wraps a value a few levels further down, and orjson
# stops at 255 levels, so a value stored at 253 levels made every `list` of its namespace fail.
MAX_DEPTH = 64
NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")


def check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or NAMESPACE_RE.fullmatch(namespace) is None:
        if isinstance(namespace, str) and len(namespace) > MAX_NAMESPACE_CHARS:
            raise LimitExceeded(
                f"Namespace is {len(namespace)} characters long; the limit is {MAX_NAMESPACE_CHARS}. Use a shorter one"
            )
        raise InvalidArgument(
            f"Namespace {namespace!r} is not valid; use 1 to {MAX_NAMESPACE_CHARS} characters of "
            "A-Z, a-z, 0-9 and _ . : / - (e.g. 'default' or 'swarm/42')"
        )
    return namespace


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"Key {key!r} is not valid; use a non-empty string of up to {MAX_KEY_CHARS} characters")
    if len(key) > MAX_KEY_CHARS:
        raise LimitExceeded(
            f"Key is {len(key)} characters long; the limit is {MAX_KEY_CHARS}. Use a shorter key "
            "(e.g. a hash of the long one, with the original in metadata)"
        )
    check_text(key, what="Key")
    return key


def check_text(text: str, *, what: str) -> str:
    """Refuse a string SQLite cannot store as UTF-8 text: one with a lone surrogate."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            raise InvalidArgument(
                f"{what} {text!r} contains a lone surrogate, which is not valid Unicode text; fix the encoding"
            ) from None
    return text


def dump_json(value: Any, *, what: str, limit: int) -> bytes:
    """Serialize with orjson; the result is what the size limit counts. Nesting is checked too.

    Raises:
        InvalidArgument: not JSON-serializable.
        LimitExceeded: over `limit` bytes, or nested deeper than `MAX_DEPTH`.
    """
    try:
        blob = orjson.dumps(value)
    except TypeError as exc:
        raise InvalidArgument(
            f"The {what} is not JSON-serializable ({exc}); use dicts with string keys, lists, strings, "
            "numbers, booleans and null"
        ) from None
    if len(blob) > limit:
        raise LimitExceeded(
            f"The {what} is {len(blob)} bytes as JSON; the limit is {limit} bytes (StoreConfig.max_value_bytes). "
            "Split it into several entries or store a reference"
        )
    check_depth(value, blob, what=what)
    return blob


def check_depth(value: Any, blob: bytes, *, what: str) -> None:
    """Refuse `value` (serialized as `blob`) when lists and objects nest deeper than `MAX_DEPTH`.

    Costs two byte counts unless the JSON holds more than `MAX_DEPTH` brackets at all.

    Raises:
        LimitExceeded: nested too deep.
    """
    if len(blob) <= 2 * MAX_DEPTH or blob.count(b"[") + blob.count(b"{") <= MAX_DEPTH:
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list | tuple):
                if depth + 1 > MAX_DEPTH:
                    raise LimitExceeded(
                        f"The {what} nests lists and objects more than {MAX_DEPTH} levels deep; the limit is {MAX_DEPTH}. "
                        "Flatten it, or store the deeper parts as entries of their own"
                    )
                stack.append((child, depth + 1))


def check_metadata(metadata: object, *, limit: int) -> bytes | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InvalidArgument(f"Metadata must be a JSON object (a dict) or None, not {type(metadata).__name__}")
    return dump_json(dict(metadata), what="metadata", limit=limit)


def check_tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        raise InvalidArgument(f"Tags must be a list of strings, not the string {tags!r}; wrap it: [{tags!r}]")
    out = tuple(dict.fromkeys(tags))
    if len(out) > MAX_TAGS:
        raise LimitExceeded(f"{len(out)} tags given; the limit is {MAX_TAGS} per entry. Drop some")
    for tag in out:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_CHARS:
            raise InvalidArgument(f"Tag {tag!r} is not valid; each tag is a non-empty string of up to {MAX_TAG_CHARS} characters")
        check_text(tag, what="Tag")
    return out


def check_ttl(ttl: float | None) -> float | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0 or ttl != ttl or ttl == float("inf"):
        raise InvalidArgument(f"ttl must be a positive number of seconds or None (no expiry), not {ttl!r}")
    return float(ttl)


def check_version(if_version: int | None) -> int | None:
    if if_version is None:
        return None
    if isinstance(if_version, bool) or not isinstance(if_version, int) or if_version < 0:
        raise InvalidArgument(
            f"if_version must be a version number >= 1, 0 for 'only if absent', or None; not {if_version!r}"
        )
    return if_version


def check_limit(limit: int, *, most: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= most:
        raise InvalidArgument(f"limit must be an integer from 1 to {most}, not {limit!r}")
    return limit
