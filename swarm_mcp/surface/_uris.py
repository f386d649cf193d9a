"""Resource URIs: the templates, how an URI names an object, and opaque paging cursors.

    swarm://swarms/{swarmId}      swarm://tasks/{taskId}      swarm://agents/{agentId}
    memory://{namespace}          memory://{namespace}/{key}  neural://networks/{networkId}

Ids, namespaces and keys are percent-encoded in URIs this server writes (a namespace may hold
`/` and `:`); an URI typed by hand may leave a key's `/` unencoded: everything after the
namespace is the key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import orjson

from ..protocol import INVALID_PARAMS, RpcError


__all__ = ("TEMPLATES", "Template", "decode_cursor", "encode_cursor", "parse_uri", "uri_for")

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Template:
    kind: str  # swarm, task, agent, namespace, entry, network
    uri_template: str
    name: str
    title: str
    description: str
    mime_type: str | None

    def to_wire(self) -> dict[str, Any]:
        out = {"uriTemplate": self.uri_template, "name": self.name, "title": self.title, "description": self.description}
        if self.mime_type is not None:
            out["mimeType"] = self.mime_type
        return out


TEMPLATES: tuple[Template, ...] = (
    Template("swarm", "swarm://swarms/{swarmId}", "swarm", "Swarm",
             "A swarm: settings, its topology as a graph, its live agents with their state, its queue of unfinished "
             "work, its tasks, and its routing success per window of attempts.", JSON),
    Template("task", "swarm://tasks/{taskId}", "task", "Task",
             "A task: the Queen's analysis and plan, each subtask's state, agent, dependencies and result. "
             "Subscribers hear when it changes and when it finishes.", JSON),
    Template("agent", "swarm://agents/{agentId}", "agent", "Agent",
             "An agent: its spec (type, capabilities, cognitive pattern), metrics, recent experiences (finished "
             "attempts) and its brain's loss history.", JSON),
    Template("namespace", "memory://{namespace}", "memory-namespace", "Memory namespace",
             "The keys of one memory namespace (the first 500; memory_usage list pages through all).", JSON),
    Template("entry", "memory://{namespace}/{key}", "memory-entry", "Memory entry",
             "One memory entry: its JSON value, tags, metadata, version and times.", JSON),
    Template("network", "neural://networks/{networkId}", "network", "Neural network",
             "A network as FANN .net text (text/plain) and as its JSON document (application/json).", None),
)
TEMPLATE_BY_URI = {t.uri_template: t for t in TEMPLATES}
_SWARM_PATHS = {"swarms": "swarm", "tasks": "task", "agents": "agent"}


def _q(part: str) -> str:
    return quote(part, safe="")


def uri_for(kind: str, *parts: str) -> str:
    """The URI of an object: `uri_for("task", task_id)`, `uri_for("entry", namespace, key)`."""
    if kind in ("swarm", "task", "agent"):
        return f"swarm://{kind}s/{_q(parts[0])}"
    if kind == "namespace":
        return f"memory://{_q(parts[0])}"
    if kind == "entry":
        return f"memory://{_q(parts[0])}/{_q(parts[1])}"
    if kind == "network":
        return f"neural://networks/{_q(parts[0])}"
    raise ValueError(f"no URI for {kind!r}")


def parse_uri(uri: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, parts) for an URI of ours, or None when it names nothing this server serves."""
    scheme, sep, rest = uri.partition("://")
    if not sep or not rest or "?" in rest or "#" in rest:
        return None
    if scheme == "swarm":
        collection, sep, ident = rest.partition("/")
        kind = _SWARM_PATHS.get(collection)
        if kind is None or not ident or "/" in ident:
            return None
        return kind, (unquote(ident),)
    if scheme == "memory":
        namespace, sep, key = rest.partition("/")
        if not namespace:
            return None
        if not sep:
            return "namespace", (unquote(namespace),)
        if not key:
            return None
        return "entry", (unquote(namespace), unquote(key))
    if scheme == "neural":
        collection, sep, ident = rest.partition("/")
        if collection != "networks" or not ident or "/" in ident:
            return None
        return "network", (unquote(ident),)
    return None


def encode_cursor(section: int, after: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([section, after])).decode().rstrip("=")


def decode_cursor(cursor: str | None, sections: int) -> tuple[int, str]:
    """(section, last id of the previous page); (0, "") for the first page.

    Raises:
        RpcError: -32602 for a cursor this server did not write.
    """
    if cursor is None:
        return 0, ""
    try:
        section, after = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(section, int) and 0 <= section < sections and isinstance(after, str):
            return section, after
    except (ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise RpcError(INVALID_PARAMS, "Invalid cursor: pass back the nextCursor of the previous page, or none for the first page")
