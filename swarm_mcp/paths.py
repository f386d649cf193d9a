"""File paths that tool arguments name: confined to a folder of the data dir unless allowed out."""

from __future__ import annotations

from pathlib import Path

from .errors import InvalidArgument

__all__ = ("confine",)


def confine(text: str, base: Path, *, allow_external: bool, what: str = "path") -> Path:
    """Resolve `text` (relative paths are taken from `base`) and make sure it stays inside `base`.

    Symlinks are resolved first, so a link cannot lead outside.

    Raises:
        InvalidArgument: empty, or outside `base` while `allow_external` is false.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument(f"{what} must be a non-empty file path, relative to {base}")
    raw = Path(text).expanduser()
    resolved = (raw if raw.is_absolute() else base / raw).resolve()
    root = base.resolve()
    if not allow_external and resolved != root and root not in resolved.parents:
        raise InvalidArgument(
            f"{what} {text!r} resolves to {resolved}, outside {root}. Use a path inside {root} "
            "(relative paths are taken from there), or start the server with allow_external_paths=true."
        )
    return resolved
