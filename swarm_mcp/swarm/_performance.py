"""Performance figures computed from the event log over a time window.

Every figure comes from the events the engine recorded (`store.events`) with
`now - window <= time < now`, after a journal commit so the newest are included:

- system: events by kind, agents spawned and stopped, tasks created and how they ended, crashes,
  restarts and escalations under supervision, agents running now;
- performance: throughput (subtasks and tasks finished per minute), latencies (subtask and task
  seconds: mean, p50, p95, max), success rates (of subtasks, of attempts, of tasks);
- efficiency: retries, expired leases, failed attempts, busy agent-seconds (the sum of finished
  subtasks' durations) and their share of the window (how many agents were busy on average),
  brain-training compute seconds and their share;
- neural: training rounds and brains trained with their mean MSE before and after (the gain),
  DAA adaptations (mean loss before and after their gradient step), knowledge shares (mean
  change of the targets' predictions) and meta-learning runs (mean measured gain).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from ..memory import EventRecord
    from ._engine import SwarmEngine

__all__ = ("CATEGORIES", "KINDS", "compute", "window_seconds")

CATEGORIES = ("all", "system", "performance", "efficiency", "neural")
KINDS = (
    "agent_spawned", "agent_stopped", "task_created", "task_completed", "task_failed", "task_cancelled",
    "subtask_completed", "subtask_failed", "subtask_retried", "lease_expired", "supervisor_crashed",
    "supervisor_restarted", "supervisor_escalated", "brain_trained", "daa_agent_adapted", "daa_knowledge_shared",
    "daa_meta_learning", "daa_pattern_changed", "daa_workflow_executed",
)
MAX_EVENTS = 200_000  # more than the journal keeps (100,000)
_RANGE = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def window_seconds(text: str) -> float:
    """'90s', '30m', '1h', '7d' as seconds (at most 366 days).

    Raises:
        InvalidArgument: another form.
    """
    match = _RANGE.match(text.strip())
    if match is None or not 0 < int(match[1]) * _UNIT[match[2]] <= 366 * 86_400:
        raise InvalidArgument(f"timeRange {text!r} must be a number and a unit s, m, h or d, up to 366d (e.g. '1h', '7d')")
    return float(int(match[1]) * _UNIT[match[2]])


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)

    def q(p: float) -> float:
        k = (len(ordered) - 1) * p
        lo, hi = math.floor(k), math.ceil(k)
        return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 6)

    return {"count": len(values), "mean": round(sum(values) / len(values), 6), "p50": q(0.5), "p95": q(0.95),
            "max": round(ordered[-1], 6)}


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def _rate(good: int, total: int) -> float | None:
    return round(good / total, 4) if total else None


async def _events(engine: SwarmEngine, since: float, until: float, swarm_id: str | None) -> list[EventRecord]:
    out: list[EventRecord] = []
    after = 0
    while len(out) < MAX_EVENTS:
        page = await engine.store.events.list(after_seq=after, since=since, until=until, kinds=KINDS,
                                              swarm_id=swarm_id, limit=1000)
        out.extend(page)
        if len(page) < 1000:
            break
        after = page[-1].seq
    return out


async def compute(engine: SwarmEngine, category: str, seconds: float, swarm_id: str | None = None) -> dict[str, Any]:
    """The figures of `category` over the last `seconds` (one swarm's, or the daemon's)."""
    await engine.persist.commit()
    until = engine.clock() + 1e-6
    since = until - seconds
    events = await _events(engine, since, until, swarm_id)
    kinds = Counter(e.kind for e in events)

    def data(kind: str, key: str) -> list[float]:
        return [float(e.data[key]) for e in events if e.kind == kind and isinstance(e.data.get(key), int | float)]

    out: dict[str, Any] = {"window": {"since": round(since, 3), "until": round(until, 3), "seconds": seconds,
                                      "events": len(events)}}
    minutes = seconds / 60.0
    subtask_seconds = data("subtask_completed", "seconds") + data("subtask_failed", "seconds") + data("subtask_retried", "seconds")
    if category in ("all", "system"):
        swarms = [engine.swarms[swarm_id]] if swarm_id else list(engine.swarms.values())
        out["system"] = {
            "events_by_kind": dict(sorted(kinds.items())),
            "agents": {"spawned": kinds["agent_spawned"], "stopped": kinds["agent_stopped"],
                       "running_now": sum(len(s.live_agents()) for s in swarms)},
            "tasks": {"created": kinds["task_created"], "completed": kinds["task_completed"],
                      "failed": kinds["task_failed"], "cancelled": kinds["task_cancelled"]},
            "supervision": {"crashes": kinds["supervisor_crashed"], "restarts": kinds["supervisor_restarted"],
                            "escalations": kinds["supervisor_escalated"]},
        }
    if category in ("all", "performance"):
        done, failed = kinds["subtask_completed"], kinds["subtask_failed"]
        attempts_failed = failed + kinds["subtask_retried"]
        tasks_ended = kinds["task_completed"] + kinds["task_failed"] + kinds["task_cancelled"]
        out["performance"] = {
            "throughput": {"subtasks_completed": done, "subtasks_per_minute": round(done / minutes, 4),
                           "tasks_completed": kinds["task_completed"],
                           "tasks_per_minute": round(kinds["task_completed"] / minutes, 4)},
            "latency_seconds": {"subtask": _stats(data("subtask_completed", "seconds")),
                                "task": _stats(data("task_completed", "seconds"))},
            "success_rate": {"subtasks": _rate(done, done + failed), "attempts": _rate(done, done + attempts_failed),
                             "tasks": _rate(kinds["task_completed"], tasks_ended)},
        }
    if category in ("all", "efficiency"):
        busy = sum(subtask_seconds)
        training = sum(data("brain_trained", "seconds"))
        out["efficiency"] = {
            "retries": kinds["subtask_retried"], "lease_expirations": kinds["lease_expired"],
            "failed_attempts": kinds["subtask_failed"] + kinds["subtask_retried"],
            "busy_agent_seconds": round(busy, 4), "mean_busy_agents": round(busy / seconds, 6),
            "training_compute_seconds": round(training, 4), "training_share": round(training / seconds, 6),
        }
    if category in ("all", "neural"):
        trained = [e for e in events if e.kind == "brain_trained"]
        before, after = _mean(data("brain_trained", "mse_before")), _mean(data("brain_trained", "mse_after"))
        adapt_before, adapt_after = data("daa_agent_adapted", "loss_before"), data("daa_agent_adapted", "loss_after")
        gains = data("daa_meta_learning", "gain")
        out["neural"] = {
            "training": {"rounds": len(trained), "brains_trained": int(sum(float(e.data.get("agents", 0)) for e in trained)),
                         "mse_before": before, "mse_after": after,
                         "learning_gain": None if before is None or after is None else round(before - after, 6)},
            "adaptations": {"count": kinds["daa_agent_adapted"], "loss_before": _mean(adapt_before),
                            "loss_after": _mean(adapt_after), "pattern_switches": kinds["daa_pattern_changed"]},
            "knowledge_shares": {"count": kinds["daa_knowledge_shared"],
                                 "mean_prediction_change": _mean(data("daa_knowledge_shared", "mean_change"))},
            "meta_learning": {"runs": len(gains), "mean_gain": _mean(gains)},
        }
    return out
