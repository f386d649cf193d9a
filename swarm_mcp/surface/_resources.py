"""Resources: the daemon's swarms, tasks, agents, memory and networks, listed in pages and read
as JSON (a network also as FANN `.net` text).

The listing holds every swarm, live agent, network and memory namespace, each swarm's running
tasks and its newest finished ones (`FINISHED_LISTED`); any other task, and every memory entry,
is reached through the templates (with completions). A read is computed from live state, and is
refused past `max_response_bytes` with what to do instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import SwarmError
from ..protocol import RpcError, ResourceNotFound
from ..swarm import (
    TaskState,
    agent_metrics,
    agent_summary,
    subtask_view,
    swarm_graph,
    swarm_learning,
    swarm_queue,
    swarm_view,
    task_view,
)
from ._uris import JSON, TEMPLATES, decode_cursor, encode_cursor, parse_uri, uri_for

if TYPE_CHECKING:
    from ..app import App
    from ..swarm import Agent, Swarm, Task

__all__ = ("PAGE", "list_resources", "list_templates", "read_resource")

PAGE = 100  # resources per resources/list page
FINISHED_LISTED = 20  # finished tasks listed per swarm (the rest: the task template)
MAX_AGENTS_SHOWN = 1000  # agents in a swarm resource (the rest: agent_list)
MAX_KEYS_SHOWN = 500  # keys in a namespace resource
RECENT_EXPERIENCES = 20
_EXPERIENCES = ("subtask_completed", "subtask_retried", "subtask_failed", "lease_expired")
INVALID_REQUEST = -32600


def _listed_tasks(app: App) -> list[Task]:
    board = app.swarm.board
    running = [t for t in board.tasks.values() if t.state in (TaskState.RUNNING, TaskState.PENDING)]
    finished: dict[str, list[Task]] = {}
    for task in board.tasks.values():
        if task.state not in (TaskState.RUNNING, TaskState.PENDING):
            finished.setdefault(task.swarm_id, []).append(task)
    newest = [t for tasks in finished.values()
              for t in sorted(tasks, key=lambda t: t.finished_at or 0.0)[-FINISHED_LISTED:]]
    return running + newest


def _swarm_entry(swarm: Swarm) -> dict[str, Any]:
    live = len(swarm.live_agents())
    return {"uri": uri_for("swarm", swarm.id), "name": swarm.id, "title": f"Swarm {swarm.name}",
            "description": f"{swarm.topology} swarm of {live} agents, {swarm.routing} routing, {swarm.executor} executor",
            "mimeType": JSON}


def _task_entry(app: App, task: Task) -> dict[str, Any]:
    subs = app.swarm.board.subtasks_of(task)
    done = sum(s.state.finished for s in subs)
    text = task.description if len(task.description) <= 80 else task.description[:79] + "…"
    return {"uri": uri_for("task", task.id), "name": task.id, "title": f"Task: {text}",
            "description": f"{task.state.value}, {done}/{len(subs)} subtasks finished, swarm {task.swarm_id}",
            "mimeType": JSON}


def _agent_entry(agent: Agent) -> dict[str, Any]:
    return {"uri": uri_for("agent", agent.id), "name": agent.id, "title": f"Agent {agent.name} ({agent.type})",
            "description": f"{agent.state} in swarm {agent.swarm_id}; {agent.metrics.done} done, "
                           f"{agent.metrics.failed} failed",
            "mimeType": JSON}


def _network_entry(summary: dict[str, Any]) -> dict[str, Any]:
    network_id = str(summary.get("network_id"))
    return {"uri": uri_for("network", network_id), "name": network_id, "title": f"Network {network_id}",
            "description": f"layers {summary.get('layers')}, {summary.get('epochs_trained', 0)} epochs trained; "
                           "FANN .net text and JSON"}


def _namespace_entry(namespace: str) -> dict[str, Any]:
    return {"uri": uri_for("namespace", namespace), "name": f"memory:{namespace}",
            "title": f"Memory namespace {namespace}", "description": "its keys; memory://{namespace}/{key} reads an entry",
            "mimeType": JSON}


async def list_resources(app: App, cursor: str | None) -> dict[str, Any]:
    """One page (`PAGE` entries) of the listing: swarms, tasks, agents, networks, namespaces."""
    engine = app.swarm

    async def swarms(after: str, n: int) -> list[tuple[str, dict[str, Any]]]:
        return [(s, _swarm_entry(engine.swarms[s])) for s in sorted(engine.swarms) if s > after][:n]

    async def tasks(after: str, n: int) -> list[tuple[str, dict[str, Any]]]:
        chosen = sorted((t for t in _listed_tasks(app) if t.id > after), key=lambda t: t.id)[:n]
        return [(t.id, _task_entry(app, t)) for t in chosen]

    async def agents(after: str, n: int) -> list[tuple[str, dict[str, Any]]]:
        live = sorted((a for a in engine.agents.values() if not a.stopped and a.id > after), key=lambda a: a.id)[:n]
        return [(a.id, _agent_entry(a)) for a in live]

    async def networks(after: str, n: int) -> list[tuple[str, dict[str, Any]]]:
        summaries = [s for s in await app.neural.list() if str(s.get("network_id")) > after][:n]
        return [(str(s.get("network_id")), _network_entry(s)) for s in summaries]

    async def namespaces(after: str, n: int) -> list[tuple[str, dict[str, Any]]]:
        return [(ns, _namespace_entry(ns)) for ns in await app.store.namespaces(after=after, limit=min(n, 1000))]

    sections: list[Callable[[str, int], Awaitable[list[tuple[str, dict[str, Any]]]]]] = [
        swarms, tasks, agents, networks, namespaces]
    section, after = decode_cursor(cursor, len(sections))
    page: list[tuple[int, str, dict[str, Any]]] = []
    while section < len(sections) and len(page) <= PAGE:
        found = await sections[section](after, PAGE + 1 - len(page))
        page.extend((section, key, entry) for key, entry in found)
        section, after = section + 1, ""
    result: dict[str, Any] = {"resources": [entry for _, _, entry in page[:PAGE]]}
    if len(page) > PAGE:
        last_section, last_key, _ = page[PAGE - 1]
        result["nextCursor"] = encode_cursor(last_section, last_key)
    return result


async def list_templates(cursor: str | None) -> dict[str, Any]:
    decode_cursor(cursor, 1)  # one page: any cursor but none is one we never gave
    return {"resourceTemplates": [t.to_wire() for t in TEMPLATES]}


def _text(uri: str, value: Any, limit: int, *, mime: str = JSON) -> dict[str, Any]:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if len(text) > limit:
        raise RpcError(INVALID_REQUEST, f"{uri} is {len(text):,} characters, over max_response_bytes ({limit:,}); "
                       "read it in parts with the tools (swarm_status, task_results, memory_usage, neural_save)",
                       {"uri": uri, "size": len(text), "limit": limit})
    return {"uri": uri, "mimeType": mime, "text": text}


async def read_resource(app: App, uri: str) -> dict[str, Any]:
    """The contents of `uri`.

    Raises:
        ResourceNotFound: nothing of ours has that URI.
        RpcError: the contents exceed `max_response_bytes`.
    """
    parsed = parse_uri(uri)
    if parsed is None:
        raise ResourceNotFound(uri, f"{uri!r} is not a resource of this server; resources/templates/list shows the "
                               "URI forms (swarm://, memory://, neural://)")
    kind, parts = parsed
    limit = app.config.max_response_bytes
    try:
        if kind == "swarm":
            return {"contents": [_text(uri, _swarm_contents(app, app.swarm.swarm(parts[0])), limit)]}
        if kind == "task":
            return {"contents": [_text(uri, _task_contents(app, app.swarm.board.task(parts[0])), limit)]}
        if kind == "agent":
            return {"contents": [_text(uri, await _agent_contents(app, app.swarm.agent(parts[0])), limit)]}
        if kind == "namespace":
            keys = await app.store.keys(parts[0], limit=MAX_KEYS_SHOWN + 1)
            listing = {"namespace": parts[0], "keys": [{"key": k, "uri": uri_for("entry", parts[0], k)}
                                                       for k in keys[:MAX_KEYS_SHOWN]],
                       "truncated": len(keys) > MAX_KEYS_SHOWN}
            if listing["truncated"]:
                listing["more"] = "memory_usage action 'list' with this namespace pages through every entry"
            return {"contents": [_text(uri, listing, limit)]}
        if kind == "entry":
            entry = await app.store.get(parts[0], parts[1])
            if entry is None:
                raise ResourceNotFound(uri, f"no entry {parts[1]!r} in memory namespace {parts[0]!r}; "
                                       f"memory://{parts[0]} lists its keys")
            return {"contents": [_text(uri, entry.to_json(app.clock()), limit)]}
        summary = await app.neural.summary(parts[0])
        if 64 * int(summary.get("parameters") or 0) > limit:  # ~20 characters a weight, twice
            raise RpcError(INVALID_REQUEST, f"network {parts[0]!r} has {summary.get('parameters'):,} weights, too many "
                           f"for one read under max_response_bytes ({limit:,}); neural_save writes it to a file",
                           {"uri": uri})
        net, json_text = await app.neural.net_text(parts[0]), await app.neural.json_text(parts[0])
        return {"contents": [_text(uri, net, limit, mime="text/plain"), _text(uri, json_text, limit)]}
    except SwarmError as exc:  # NotFound, or a namespace or key that cannot exist
        raise ResourceNotFound(uri, str(exc)) from None


def _swarm_contents(app: App, swarm: Swarm) -> dict[str, Any]:
    engine = app.swarm
    live = swarm.live_agents()
    tasks = sorted((t for t in engine.board.tasks.values() if t.swarm_id == swarm.id), key=lambda t: t.created)
    out = swarm_view(engine, swarm)
    out["graph"] = swarm_graph(swarm)
    out["agent_list"] = [agent_summary(a) for a in live[:MAX_AGENTS_SHOWN]]
    if len(live) > MAX_AGENTS_SHOWN:
        out["agents_not_shown"] = len(live) - MAX_AGENTS_SHOWN
    out["queue"] = swarm_queue(engine, swarm)
    out["learning"] = swarm_learning(swarm)
    out["task_list"] = [{"task_id": t.id, "uri": uri_for("task", t.id), "state": t.state.value,
                         "description": t.description[:200]} for t in tasks[-50:]]
    return out


def _task_contents(app: App, task: Task) -> dict[str, Any]:
    out = task_view(app.swarm, task, detailed=True)
    subs = {s.id: s for s in app.swarm.board.subtasks_of(task)}
    for item in out["subtasks"]:
        sub = subs[item["subtask_id"]]
        item["result"] = sub.result
        if sub.started_at is not None and sub.finished_at is not None:
            item["seconds"] = round(sub.finished_at - sub.started_at, 6)
    out["finished"] = task.state not in (TaskState.RUNNING, TaskState.PENDING)
    out["swarm_uri"] = uri_for("swarm", task.swarm_id)
    return out


async def _agent_contents(app: App, agent: Agent) -> dict[str, Any]:
    engine = app.swarm
    usage = {"namespace": f"agent:{agent.id}", **await app.store.usage(namespace=f"agent:{agent.id}"),
             "owned_entries": await app.store.usage(agent_id=agent.id)}
    out = agent_metrics(engine, agent, "all", usage)
    out["spec"] = {"name": agent.name, "capabilities": list(agent.capabilities),
                   "all_capabilities": sorted(agent.all_capabilities), "cognitive_pattern": agent.pattern,
                   "coordinator": agent.coordinator, "created": agent.created, "concurrency": agent.concurrency}
    out["summary"] = agent_summary(agent)
    experiences = []
    for event in await app.store.events.recent(agent_id=agent.id, kinds=_EXPERIENCES, limit=RECENT_EXPERIENCES):
        sub = engine.board.subtasks.get(event.task_id or "")
        experiences.append({"time": event.time, "outcome": event.kind.removeprefix("subtask_"),
                            "subtask_id": event.task_id, "type": sub.type if sub is not None else None,
                            **dict(event.data)})
    out["recent_experiences"] = experiences
    out["queue"] = [subtask_view(engine.board.subtasks[s]) for s in [*agent.running, *agent.queue][:100]
                    if s in engine.board.subtasks]
    out["swarm_uri"] = uri_for("swarm", agent.swarm_id)
    return out
