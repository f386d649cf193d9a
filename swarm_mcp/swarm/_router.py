"""Routing: which agent gets a ready subtask, and why.

For each subtask the topology names a decider (the Queen, a coordinator, or a ring
predecessor) and the candidates it may choose from. Each candidate is scored by its brain's
predicted success (0.5, the prior, while its brain has not trained) weighted by its capability
match and discounted by its load, as the swarm's strategy says (`score`); the decider's cognitive pattern turns the
scores into a choice. All subtasks routed together share one forward pass over the swarm's
population. Round-robin routing (`routing: round_robin`, the learning baseline) cycles through
the candidates instead. The decision, with the top candidates' scores, is kept on the subtask.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._model import Agent, Subtask, Swarm, Task
from ._patterns import PATTERNS, choose
from ._topology import QUEEN, pick_coordinator, team

if TYPE_CHECKING:
    from ._brains import Brains

__all__ = ("Decision", "match", "plan_route", "score")

PRIOR = 0.5


@dataclass(slots=True)
class Decision:
    agent: Agent
    record: dict[str, Any]


def match(agent: Agent, subtask: Subtask) -> float:
    """Share of the subtask's required capabilities the agent has (at least 0.1)."""
    required = set(subtask.capabilities) or {subtask.type}
    return max(0.1, len(required & agent.all_capabilities) / len(required))


def score(strategy: str, fit: float, predicted: float, load: int, *, load_weight: float, maturity: float) -> float:
    """A candidate's score: predicted success weighted by capability fit, discounted by load.

    Declared capabilities are a prior and the brain's prediction is evidence: balanced and
    adaptive routing let evidence outweigh a poor fit (`0.5 + 0.5 * fit`), specialized routing
    multiplies by the fit itself. Balanced spreads load; adaptive spreads it less as the swarm
    matures (`maturity` in [0, 1]: how much it has learned); specialized barely looks at load."""
    if strategy == "specialized":
        return fit * predicted / (1.0 + 0.2 * load_weight * load)
    prior = 0.5 + 0.5 * fit
    if strategy == "balanced":
        return prior * predicted / (1.0 + load_weight * load)
    return prior * predicted / (1.0 + (1.0 - 0.8 * maturity) * load_weight * load)


def _decider(swarm: Swarm, task: Task, subtask: Subtask, live: list[Agent], finished_by: str | None,
             avoid: set[str]) -> tuple[str, list[Agent], str]:
    """(decider id, candidates, why) under the swarm's topology."""
    allowed = [a for a in live if task.allowed_agents is None or a.id in task.allowed_agents] or live
    fresh = [a for a in allowed if a.id not in avoid]
    pool = fresh or allowed
    if swarm.topology == "hierarchical":
        by_id = {a.id: a for a in live}
        coordinator = by_id.get(task.coordinator or "")
        if coordinator is None:
            task.coordinator = pick_coordinator(live)
            coordinator = by_id.get(task.coordinator or "")
        if coordinator is not None:
            members = [a for a in team(pool, coordinator.id)]
            if members:
                return coordinator.id, members, f"coordinator {coordinator.id} routes within its team"
            return coordinator.id, [coordinator], f"coordinator {coordinator.id} has no workers and does the work"
        return QUEEN, pool, "no coordinator in the swarm: the Queen routes to any agent"
    if swarm.topology == "ring" and finished_by is not None:
        ring = sorted(swarm.agents.values(), key=lambda a: a.order)  # stopped agents keep their place
        ids = [a.id for a in ring]
        if finished_by in ids:
            start = ids.index(finished_by)
            for k in range(1, len(ids)):
                nxt = ring[(start + k) % len(ids)]
                if nxt.stopped or nxt.id in avoid or (task.allowed_agents is not None and nxt.id not in task.allowed_agents):
                    continue
                return finished_by, [nxt], f"ring hand-off: {finished_by} passes the work to the next agent on the ring"
    return QUEEN, pool, "the Queen routes to any agent"


async def plan_route(swarm: Swarm, task: Task, subtasks: Sequence[Subtask], brains: Brains | None,
                     rng: random.Random, finished_by: dict[str, str | None],
                     avoid: dict[str, set[str]]) -> list[Decision]:
    """Decide an agent for each subtask (in order; each choice adds to its agent's load)."""
    live = swarm.live_agents()
    if not live:
        return []
    chosen_sets = [_decider(swarm, task, s, live, finished_by.get(s.id), avoid.get(s.id, set())) for s in subtasks]
    union = sorted({a.id for _, cands, _ in chosen_sets for a in cands})
    predictions = None
    if brains is not None and swarm.routing == "neural":
        trained = [a for a in union if brains.trained(swarm.id, a)]
        if trained:
            out = await brains.predict(swarm.id, trained, [s.features for s in subtasks])
            if out is not None:
                predictions = {a: out[i] for i, a in enumerate(trained)}
    experience = sum(a.metrics.done + a.metrics.failed for a in live)
    maturity = min(1.0, experience / (10.0 * len(live)))
    extra_load: dict[str, int] = {}
    decisions = []
    for index, (subtask, (decider, candidates, why)) in enumerate(zip(subtasks, chosen_sets, strict=True)):
        pattern = PATTERNS[swarm.pattern if decider == QUEEN else next((a.pattern for a in live if a.id == decider), swarm.pattern)]
        rows = []
        for agent in candidates:
            fit = match(agent, subtask)
            row = predictions.get(agent.id) if predictions is not None else None
            predicted = None
            if row is not None:
                success, quality = float(row[index][0]), float(row[index][1])
                predicted = success
                expected = success * (0.75 + 0.25 * quality)
            else:
                expected = PRIOR
            load = len(agent.queue) + len(agent.running) + extra_load.get(agent.id, 0)
            value = score(swarm.strategy, fit, expected, load, load_weight=pattern.load_weight, maturity=maturity)
            rows.append((agent, value, fit, predicted, load))
        if swarm.routing == "round_robin":
            pick, explored, scorer = swarm.round_robin % len(rows), False, "round_robin"
            swarm.round_robin += 1
        elif len(rows) == 1:
            pick, explored, scorer = 0, False, "only candidate"
        else:
            experience_of_decider = swarm.decisions if decider == QUEEN else next(
                (a.metrics.decisions for a in live if a.id == decider), 0)
            novelty = [1.0 / (1.0 + agent.metrics.experience_of(subtask.type)) for agent, *_ in rows]
            pick, explored = choose([r[1] for r in rows], pattern, rng, experience=experience_of_decider, novelty=novelty)
            scorer = "brain" if predictions is not None and any(r[3] is not None for r in rows) else "prior"
        agent, value, fit, predicted, load = rows[pick]
        extra_load[agent.id] = extra_load.get(agent.id, 0) + 1
        top = sorted(rows, key=lambda r: -r[1])[:5]
        record = {
            "decider": decider, "pattern": pattern.name, "scorer": scorer, "explored": explored, "why": why,
            "predicted_success": None if predicted is None else round(predicted, 4),
            "candidates": [{"agent_id": r[0].id, "score": round(r[1], 4), "match": round(r[2], 3),
                            "predicted_success": None if r[3] is None else round(r[3], 4), "load": r[4]} for r in top],
            "candidate_count": len(rows),
        }
        decisions.append(Decision(agent, record))
    return decisions
