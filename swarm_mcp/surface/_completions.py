"""`completion/complete`: the values a prompt argument or a resource template variable can take.

Ids of swarms, tasks, agents and networks, memory namespaces and keys (a key completes within
the namespace already chosen, `context.arguments.namespace`, else `default`), topologies and
capability words. Values start with what was typed; at most `MAX_VALUES` come back, with the
total and whether there are more. A reference this server does not serve completes to nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SwarmError
from ..swarm import TOPOLOGIES, TaskState, default_capabilities

if TYPE_CHECKING:
    from ..app import App

__all__ = ("MAX_VALUES", "complete")

MAX_VALUES = 100


def _result(values: Iterable[str], typed: str, *, more: bool = False) -> dict[str, Any]:
    matches = [v for v in dict.fromkeys(values) if v.startswith(typed)]
    return {"completion": {"values": matches[:MAX_VALUES], "total": len(matches),
                           "hasMore": more or len(matches) > MAX_VALUES}}


def _tasks(app: App, finished_first: bool) -> list[str]:
    tasks = list(app.swarm.board.tasks.values())
    if finished_first:  # newest finished first: what a review is usually about
        done = sorted((t for t in tasks if t.state not in (TaskState.RUNNING, TaskState.PENDING)),
                      key=lambda t: -(t.finished_at or 0.0))
        return [t.id for t in done] + sorted(t.id for t in tasks if t.state in (TaskState.RUNNING, TaskState.PENDING))
    return sorted(t.id for t in tasks)


def _capabilities(app: App) -> list[str]:
    words: set[str] = set()
    for agent in app.swarm.agents.values():
        if not agent.stopped:
            words.update(agent.capabilities)
            words.update(default_capabilities(agent.type))
    return sorted(words)


async def _memory(app: App, name: str, typed: str, context: Mapping[str, str]) -> dict[str, Any]:
    try:
        if name == "namespace":
            found = await app.store.namespaces(prefix=typed, limit=MAX_VALUES + 1)
        else:
            found = await app.store.keys(context.get("namespace") or "default", prefix=typed, limit=MAX_VALUES + 1)
    except SwarmError:  # a namespace that cannot exist has no keys
        return _result((), typed)
    return _result(found[:MAX_VALUES], typed, more=len(found) > MAX_VALUES)


async def complete(app: App, ref: Mapping[str, Any], argument: Mapping[str, Any],
                   context: Mapping[str, Any] | None) -> dict[str, Any]:
    name, typed = str(argument["name"]), str(argument["value"])
    resolved: Mapping[str, str] = (context or {}).get("arguments") or {}
    engine = app.swarm
    if ref["type"] == "ref/prompt":
        prompt = ref["name"]
        if prompt == "orchestrate" and name == "topology":
            return _result(TOPOLOGIES, typed)
        if prompt == "work" and name == "swarmId":
            return _result(sorted(engine.swarms), typed)
        if prompt == "work" and name == "capabilities":  # a comma-separated list: complete its last word
            head, _, last = typed.rpartition(",")
            word = last.lstrip()
            prefix = typed[: len(typed) - len(word)]
            chosen = {w.strip() for w in head.split(",")}
            out = _result((w for w in _capabilities(app) if w not in chosen), word)
            out["completion"]["values"] = [prefix + v for v in out["completion"]["values"]]
            return out
        if prompt == "review" and name == "taskId":
            return _result(_tasks(app, finished_first=True), typed)
        return _result((), typed)
    template = ref["uri"]
    if template == "swarm://swarms/{swarmId}" and name == "swarmId":
        return _result(sorted(engine.swarms), typed)
    if template == "swarm://tasks/{taskId}" and name == "taskId":
        return _result(_tasks(app, finished_first=False), typed)
    if template == "swarm://agents/{agentId}" and name == "agentId":
        return _result(sorted(a.id for a in engine.agents.values() if not a.stopped), typed)
    if template in ("memory://{namespace}", "memory://{namespace}/{key}") and name in ("namespace", "key"):
        if name == "key" and template == "memory://{namespace}":
            return _result((), typed)
        return await _memory(app, name, typed, resolved)
    if template == "neural://networks/{networkId}" and name == "networkId":
        return _result([str(s.get("network_id")) for s in await app.neural.list()], typed)
    return _result((), typed)
