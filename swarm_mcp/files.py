"""Files the daemon writes for tools and commands: private, atomic, never through a symlink.

A write goes to a temporary file created next to the target (`O_CREAT | O_EXCL | O_NOFOLLOW`,
mode 0600, so it can be neither a planted symlink nor someone else's file), is synced, and is
then renamed over the target; a rename replaces a symlink at the target instead of following it.
Readers or a crash see the old file or the new one, never half of one. Reads open with
`O_NOFOLLOW` and are bounded in size.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidArgument, LimitExceeded, NotFound, Unavailable

__all__ = ("read_bounded", "replace_privately", "write_privately")

PRIVATE_FILE = 0o600


def _create_private(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)


@contextmanager
def replace_privately(target: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """Yield a new private temporary file beside `target` (as a binary file and its path); on a
    clean exit it is synced and renamed over `target`, on an error it is removed.

    Raises:
        Unavailable: the temporary file cannot be created, written or renamed (the message says why).
    """
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = _create_private(tmp)
    except OSError as exc:
        raise Unavailable(f"cannot write {target}: {exc.strerror}; choose a writable folder with free space") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_FILE)  # whatever the umask
            yield handle, tmp
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, IsADirectoryError):
            raise Unavailable(f"{target} is a directory; give a file name") from exc
        raise Unavailable(f"cannot write {target}: {exc.strerror or exc}; choose a writable folder with free space") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_privately(target: Path, data: bytes | Callable[[BinaryIO], None]) -> int:
    """Write `data` (bytes, or a function writing to the file) to `target` atomically, mode 0600.
    Returns the size written.

    Raises:
        Unavailable: as `replace_privately`.
    """
    with replace_privately(target) as (handle, _):
        if isinstance(data, bytes):
            handle.write(data)
        else:
            data(handle)
        size = handle.tell()
    return size


def read_bounded(path: Path, *, limit: int, what: str = "file") -> bytes:
    """The bytes of `path`, opened without following a symlink in its last component.

    Raises:
        NotFound: there is no file at `path`.
        InvalidArgument: it is a symlink or not a regular file.
        LimitExceeded: it is larger than `limit` bytes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise NotFound(f"no {what} at {path}") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror} (a symlink is not followed); name the file itself") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgument(f"{path} is not a regular file; name a file")
        if info.st_size > limit:
            raise LimitExceeded(f"{path} is {info.st_size} bytes; the limit for a {what} is {limit} bytes. Split it")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise LimitExceeded(f"{path} grew past the {limit}-byte limit for a {what} while being read")
    return data
