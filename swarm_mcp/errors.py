"""Errors a caller can act on.

Every `SwarmError` message says what was wrong and what to do next; the tool layer turns it
into an `isError: true` result the model can read. Nothing here imports the MCP SDK.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = (
    "SwarmError",
    "InvalidArgument",
    "NotFound",
    "Conflict",
    "Unavailable",
    "LimitExceeded",
    "format_choices",
)


def format_choices(values: Iterable[object], *, limit: int = 40) -> str:
    """Render valid values for an error message: `'a', 'b', 'c'` (truncated past `limit`)."""
    items = [repr(v) if isinstance(v, str) else str(v) for v in values]
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", … ({len(items) - limit} more)"
    return ", ".join(items)


class SwarmError(Exception):
    """Base class: a failure caused by the caller's input or the current state, never a bug."""


class InvalidArgument(SwarmError):
    """An argument has the wrong value; the message names the valid values."""


class NotFound(SwarmError):
    """A referenced object does not exist; the message names the tool that lists valid ids."""


class Conflict(SwarmError):
    """The current state forbids the operation (e.g. a compare-and-set version mismatch)."""


class Unavailable(SwarmError):
    """A dependency is not usable right now (read-only disk, JAX missing, …)."""


class LimitExceeded(SwarmError):
    """A configured size or count limit was exceeded; the message names the limit and the setting."""
