"""Synthetic workloads: hidden skills (the evidence that routing learns) and a domain transfer
(the evidence that meta-learning across domains helps).

Agents of four types all declare the same capability ("general"), so their declarations say
nothing about who is good at what. Each type has a hidden skill profile: the probability that
an agent of that type succeeds at each kind of task. One-subtask tasks arrive in random order;
a client claims each one for its assigned agent and reports success or failure drawn from the
agent's hidden profile. Round-robin routing earns the profiles' average; neural routing earns
more as each agent's brain learns its own profile from its outcomes. Used by the learning test,
`bench/swarm.py` and `benchmark_run`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._engine import SwarmEngine

__all__ = ("FRAGILE", "SKILLS", "WorkloadResult", "run_skill_workload", "run_transfer_workload")

SKILLS: dict[str, dict[str, float]] = {
    "coder": {"code": 0.9, "testing": 0.5, "documentation": 0.1, "analysis": 0.1},
    "tester": {"code": 0.4, "testing": 0.9, "documentation": 0.15, "analysis": 0.15},
    "documenter": {"code": 0.1, "testing": 0.1, "documentation": 0.9, "analysis": 0.3},
    "analyst": {"code": 0.1, "testing": 0.1, "documentation": 0.4, "analysis": 0.9},
}
_SUBJECTS = ("parser", "exporter", "cache", "scheduler", "importer", "router", "indexer", "uploader")
_VERBS = {"code": "Implement the {} module", "testing": "Write regression tests for the {}",
          "documentation": "Document how to use the {}", "analysis": "Analyze the error metrics of the {}"}


@dataclass
class WorkloadResult:
    routing: str
    outcomes: list[bool]
    seconds: float
    window: int
    by_agent_type: dict[str, list[int]] = field(default_factory=dict)

    def rate(self, start: int = 0, stop: int | None = None) -> float:
        part = self.outcomes[start:stop]
        return sum(part) / len(part) if part else 0.0

    def curve(self) -> list[dict[str, Any]]:
        """Success rate per window of tasks."""
        return [{"tasks": end, "success_rate": round(self.rate(end - self.window, end), 4)}
                for end in range(self.window, len(self.outcomes) + 1, self.window)]

    @staticmethod
    def expected_round_robin() -> float:
        """The profiles' mean: what routing that ignores skill earns in expectation."""
        rates = [p for profile in SKILLS.values() for p in profile.values()]
        return sum(rates) / len(rates)


async def run_skill_workload(engine: SwarmEngine, *, routing: str, tasks: int = 600, per_type: int = 2,
                             seed: int = 0, train_every: int = 10, window: int = 50) -> WorkloadResult:
    """Run the workload on a new swarm of `engine` (destroyed afterwards) and return every outcome."""
    swarm, _ = await engine.create_swarm(topology="star", max_agents=per_type * len(SKILLS), strategy="balanced",
                                         routing=routing, pattern="adaptive", name=f"skill-workload-{routing}")
    # brains train every `train_every` tasks and at no other time, however fast the machine is
    with engine.manual_training():
        try:
            return await _run_skills(engine, swarm.id, routing=routing, tasks=tasks, per_type=per_type, seed=seed,
                                     train_every=train_every, window=window)
        finally:
            await engine.destroy_swarm(swarm.id)


async def _run_skills(engine: SwarmEngine, swarm_id: str, *, routing: str, tasks: int, per_type: int, seed: int,
                      train_every: int, window: int) -> WorkloadResult:
    board = engine.board
    for agent_type in SKILLS:
        for _ in range(per_type):
            await engine.spawn(swarm_id, agent_type, capabilities=["general"])
    rng = random.Random(seed)
    kinds = list(next(iter(SKILLS.values())))
    result = WorkloadResult(routing, [], 0.0, window, {t: [0, 0] for t in SKILLS})
    started = time.perf_counter()
    for n in range(tasks):
        kind = rng.choice(kinds)
        text = _VERBS[kind].format(rng.choice(_SUBJECTS))
        await board.orchestrate(text, swarm_id=swarm_id, subtasks=[
            {"id": "work", "description": text, "type": kind, "capabilities": ["general"]}])
        claim = await board.claim(swarm_id=swarm_id)
        assert claim is not None, "an orchestrated subtask is claimable at once"
        agent = engine.agents[claim.subtask.agent_id or ""]
        success = rng.random() < SKILLS[agent.type][kind]
        if success:
            await board.complete(claim.subtask.id, f"{text}: done")
        else:
            await board.fail(claim.subtask.id, "the hidden skill profile said no", retry=False)
        result.outcomes.append(success)
        result.by_agent_type[agent.type][0 if success else 1] += 1
        if engine.brains is not None and (n + 1) % train_every == 0:
            await engine.train_pending()
    result.seconds = time.perf_counter() - started
    return result


# -- domain transfer --------------------------------------------------------------------------------

FRAGILE = ("exporter", "scheduler", "importer", "uploader")  # work on these components fails, whatever the kind
_DOMAIN_TEXT = {"code": "Implement the {} module", "testing": "Test the {} module"}


async def run_transfer_workload(engine: SwarmEngine, swarm_id: str, agent_ids: list[str], *, source_tasks: int = 48,
                                target_tasks: int = 16, seed: int = 0) -> dict[str, int]:
    """A domain-transfer workload: coding tasks (the source domain, plentiful) and then testing
    tasks (the target domain, few), on components of which some are hidden-fragile: work on a
    fragile component fails in either domain, other work succeeds. What the brains learn about
    components from coding carries over to testing. The agents take turns; each task is done by
    its agent (a one-agent task, claimed for it). Returns the outcomes by domain."""
    board = engine.board
    rng = random.Random(seed)
    counts = {"code": 0, "testing": 0, "succeeded": 0}
    for n in range(source_tasks + target_tasks):
        kind = "code" if n < source_tasks else "testing"
        agent_id = agent_ids[n % len(agent_ids)]
        text = _DOMAIN_TEXT[kind].format(rng.choice(_SUBJECTS))
        await board.orchestrate(text, swarm_id=swarm_id, allowed_agents=[agent_id],
                                subtasks=[{"id": "work", "description": text, "type": kind}])
        claim = await board.claim(agent_id=agent_id)
        assert claim is not None, "a one-agent task is claimable by its agent at once"
        if any(f in text for f in FRAGILE):
            await board.fail(claim.subtask.id, "the component is fragile", retry=False)
        else:
            await board.complete(claim.subtask.id, f"{text}: done")
            counts["succeeded"] += 1
        counts[kind] += 1
    return counts
