"""A Claude Code run's `--output-format json` output, as a subtask's outcome.

Claude Code prints one JSON object when a `-p` run ends:
`{"type": "result", "subtype": "success", "is_error": false, "result": "...", "num_turns": 2,
"duration_ms": 588, "total_cost_usd": 0.00077, "session_id": "...", ...}`. Success is exit code 0,
`is_error` false and a text `result`; the subtask's result is then
`{"text": <the result>, "claude": {<the run's cost, duration, turns and session>}}`. Anything else
is a failed attempt whose reason says what happened (Claude's own error text, or its exit code
and the tail of its stderr).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..swarm import WorkOutcome

__all__ = ("MAX_REASON_CHARS", "RunOutput", "outcome_of")

MAX_REASON_CHARS = 2_000
_KEPT = ("num_turns", "duration_ms", "duration_api_ms", "total_cost_usd", "session_id", "stop_reason", "subtype")


@dataclass(frozen=True, slots=True)
class RunOutput:
    """What one Claude Code process left behind."""

    exit_code: int | None  # None: it was stopped (timeout, cancellation, output limit)
    stdout: bytes
    stderr_tail: bytes
    seconds: float
    stopped_because: str | None = None


def _final_object(stdout: bytes) -> dict[str, Any] | None:
    """The last line of stdout that is a JSON object of type `result`."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith(b"{"):
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and value.get("type") == "result":
            return value
    return None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded_text(text: str, max_bytes: int) -> tuple[str, dict[str, Any]]:
    """`text` cut to `max_bytes` of UTF-8 (on a character boundary), and what was cut."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text, {}
    kept = data[:max_bytes].decode(errors="ignore")
    return kept, {"truncated": True, "full_characters": len(text)}


def outcome_of(output: RunOutput, *, max_result_bytes: int) -> WorkOutcome:
    """The subtask's outcome from a finished (or stopped) run; `max_result_bytes` bounds the text."""
    if output.stopped_because is not None:
        return WorkOutcome(False, None, reason=_shorten(output.stopped_because, MAX_REASON_CHARS))
    final = _final_object(output.stdout)
    stderr = output.stderr_tail.decode(errors="replace").strip()
    if final is None:
        where = f"; its stderr ends: {stderr[-1200:]}" if stderr else " and wrote nothing to stderr"
        reason = f"claude exited with code {output.exit_code} without a JSON result{where}"
        return WorkOutcome(False, None, reason=_shorten(reason, MAX_REASON_CHARS))
    meta = {key: final[key] for key in _KEPT if key in final}
    meta["seconds"] = round(output.seconds, 3)
    text = final.get("result")
    if output.exit_code != 0 or final.get("is_error") or not isinstance(text, str):
        said = text if isinstance(text, str) and text else (stderr[-1200:] or "no message")
        status = final.get("api_error_status")
        reason = (f"claude reported an error (exit code {output.exit_code}, {final.get('subtype', 'error')}"
                  + (f", API status {status}" if status else "") + f"): {said}")
        return WorkOutcome(False, {"claude": meta}, reason=_shorten(reason, MAX_REASON_CHARS))
    text, cut = _bounded_text(text, max_result_bytes)
    return WorkOutcome(True, {"text": text, "claude": {**meta, **cut}})
