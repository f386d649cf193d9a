"""Topologies as graphs the engine obeys: who delegates to whom, who may take whose work,
where a failed agent's work goes, and along which edges knowledge and brain weights may flow.

- star: the Queen is the hub; she assigns every subtask to any agent; agents share nothing
  directly, and a failed agent's work goes back to her for any other agent.
- mesh: every agent is linked to every other; any agent may take (steal) queued work from any
  other, and a failed agent's work goes to any other.
- ring: agents in spawn order, each linked to its neighbours; a subtask that depends on others
  is handed to the ring successor of the agent that finished its last dependency (a pipeline),
  an idle agent may take its predecessor's queued work, and a failed agent's work passes on.
- hierarchical: the Queen links to coordinators, each coordinator to its workers. A task goes
  to one coordinator's team and the coordinator routes its subtasks among its workers; a worker
  may take a teammate's queued work; a failed worker's work stays in the team.

All functions are pure over the swarm's live agents (sorted by spawn order).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._model import Agent

__all__ = ("QUEEN", "can_take", "edges", "failover", "neighbours", "pick_coordinator", "ring_successor", "team")

QUEEN = "queen"


def _coordinators(agents: Sequence[Agent]) -> list[Agent]:
    return [a for a in agents if a.type == "coordinator"]


def team(agents: Sequence[Agent], coordinator: str) -> list[Agent]:
    """A coordinator's workers (hierarchical)."""
    return [a for a in agents if a.coordinator == coordinator and a.id != coordinator]


def pick_coordinator(agents: Sequence[Agent]) -> str | None:
    """The coordinator a new worker joins: the one with the fewest workers (oldest on ties)."""
    coordinators = _coordinators(agents)
    if not coordinators:
        return None
    return min(coordinators, key=lambda c: (len(team(agents, c.id)), c.order)).id


def edges(topology: str, agents: Sequence[Agent]) -> list[tuple[str, str]]:
    """The graph's undirected edges, the Queen included as `QUEEN`."""
    ids = [a.id for a in agents]
    if topology == "star":
        return [(QUEEN, i) for i in ids]
    if topology == "mesh":
        return [(QUEEN, i) for i in ids] + [(a, b) for n, a in enumerate(ids) for b in ids[n + 1:]]
    if topology == "ring":
        if len(ids) < 2:
            return [(QUEEN, i) for i in ids]
        pairs = [(ids[n], ids[(n + 1) % len(ids)]) for n in range(len(ids))]
        return [(QUEEN, ids[0])] + (pairs if len(ids) > 2 else pairs[:1])
    out = []
    for agent in agents:
        if agent.type == "coordinator" or agent.coordinator is None:
            out.append((QUEEN, agent.id))
        else:
            out.append((agent.coordinator, agent.id))
    return out


def neighbours(topology: str, agents: Sequence[Agent], agent_id: str) -> list[str]:
    """Agents linked to `agent_id` by an edge (the Queen excluded), in spawn order."""
    linked = {b if a == agent_id else a for a, b in edges(topology, agents) if agent_id in (a, b)}
    return [a.id for a in agents if a.id in linked]


def ring_successor(agents: Sequence[Agent], agent_id: str) -> str | None:
    ids = [a.id for a in agents]
    if agent_id not in ids or len(ids) < 2:
        return None
    return ids[(ids.index(agent_id) + 1) % len(ids)]


def can_take(topology: str, agents: Sequence[Agent], taker: str, owner: str) -> bool:
    """Whether `taker` may take queued work assigned to `owner` (work sharing)."""
    if taker == owner:
        return True
    if topology == "mesh":
        return True
    if topology == "ring":
        return ring_successor(agents, owner) == taker
    if topology == "hierarchical":
        by_id = {a.id: a for a in agents}
        t, o = by_id.get(taker), by_id.get(owner)
        return t is not None and o is not None and t.coordinator is not None and t.coordinator == o.coordinator
    return False


def failover(topology: str, agents: Sequence[Agent], failed: str) -> list[str] | None:
    """Where a failed (or stopped) agent's work may go: the allowed agents in preference order,
    or None when the Queen may route it to anyone."""
    others = [a for a in agents if a.id != failed]
    if topology in ("star", "mesh"):
        return None
    if topology == "ring":
        ids = [a.id for a in agents]
        if failed not in ids:
            return None
        start = ids.index(failed)
        return [ids[(start + k) % len(ids)] for k in range(1, len(ids))]
    by_id = {a.id: a for a in agents}
    agent = by_id.get(failed)
    if agent is None:
        return None
    if agent.type == "coordinator":
        return [a.id for a in _coordinators(others)] or None
    if agent.coordinator is None:
        return None
    mates = [a.id for a in team(others, agent.coordinator)]
    return mates + [agent.coordinator] if agent.coordinator in by_id else (mates or None)
