"""File paths that tool arguments name: confined to the tool's own folder of the data dir.

Each tool that touches files has a folder: memory export, import and backup use `exports/`,
`neural_save` and `neural_load` use `networks/`, training `dataPath` uses `data/`. A relative path
is taken from that folder, and the resolved path (symlinks followed) must stay inside it. The
data dir's own files (`swarm.db` and its `-wal`/`-shm`, the lock, `config.toml`, the socket) are
therefore out of reach. `allow_external_paths` lists directories outside the data dir that tool
paths may also name; nothing inside the data dir but outside the tool's folder is ever allowed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from .errors import InvalidArgument, Unavailable

__all__ = ("check_not_symlink", "confine", "ensure_private_dir")


def _inside(path: Path, root: Path) -> bool:
    return root in path.parents


def confine(text: str, folder: Path, *, data_dir: Path, allowed: Sequence[Path] = (), what: str = "path") -> Path:
    """Resolve `text` (a relative path is taken from `folder`) and check where it lands.

    Allowed: a file strictly inside `folder`; or strictly inside one of `allowed`, unless that is
    inside the data dir. `folder` must not be a symlink (it would move the whole confinement).

    Raises:
        InvalidArgument: empty, names the folder itself, or lands anywhere else.
        Unavailable: `folder` exists but is a symlink or not a directory.
    """
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise InvalidArgument(f"{what} must be a non-empty file name, relative to {folder}")
    check_not_symlink(folder)
    raw = Path(text).expanduser()
    resolved = (raw if raw.is_absolute() else folder / raw).resolve()
    root = folder.resolve()
    if resolved == root:
        raise InvalidArgument(f"{what} {text!r} names the folder {root} itself; give a file name inside it, e.g. 'out.jsonl'")
    if _inside(resolved, root):
        return resolved
    home = data_dir.resolve()
    if resolved != home and not _inside(resolved, home):
        for directory in allowed:
            if _inside(resolved, directory.resolve()):
                return resolved
    if allowed:
        elsewhere = "or inside one of the directories in allow_external_paths: " + ", ".join(str(d) for d in allowed)
    else:
        elsewhere = "or list a directory outside the data dir in the allow_external_paths setting"
    raise InvalidArgument(
        f"{what} {text!r} resolves to {resolved}, outside {root}. Name a file inside {root} "
        f"(relative paths are taken from there), {elsewhere}."
    )


def check_not_symlink(folder: Path) -> None:
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise Unavailable(
            f"{folder} is {'a symlink' if stat.S_ISLNK(info.st_mode) else 'not a directory'}; tool files are kept only in a "
            "real directory there. Move it aside and call again (it is recreated, private)"
        )


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and missing parents with mode 0700 (an existing directory is left as it is).

    Raises:
        Unavailable: it cannot be created, or it is not a directory.
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise Unavailable(f"cannot create the folder {path}: {exc.strerror}; check the data dir's permissions and free space") from exc
    if not path.is_dir():
        raise Unavailable(f"{path} exists but is not a directory; move it aside and call again")
    return path
