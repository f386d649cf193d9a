"""Cognitive patterns as policies: their choices follow their parameters, measurably."""

from __future__ import annotations

import random

from swarm_mcp.swarm import PATTERNS
from swarm_mcp.swarm._patterns import choose, effective

SCORES = [0.9, 0.5, 0.45, 0.3]


def picks(pattern: str, n: int = 2000, experience: int = 0, novelty: list[float] | None = None) -> list[int]:
    rng = random.Random(7)
    return [choose(SCORES, PATTERNS[pattern], rng, experience=experience, novelty=novelty)[0] for _ in range(n)]


def test_convergent_and_critical_always_take_the_best_score() -> None:
    assert set(picks("convergent")) == {0} and set(picks("critical")) == {0}


def test_divergent_explores_about_as_often_as_its_rate_says() -> None:
    chosen = picks("divergent")
    not_best = sum(p != 0 for p in chosen) / len(chosen)
    assert 0.15 < not_best < 0.6 and len(set(chosen)) == 4


def test_adaptive_cools_as_its_decider_gains_experience() -> None:
    early = sum(p != 0 for p in picks("adaptive", experience=0))
    late = sum(p != 0 for p in picks("adaptive", experience=400))
    assert late < early / 3
    assert effective(PATTERNS["adaptive"], 20) == (PATTERNS["adaptive"].temperature / 2, PATTERNS["adaptive"].exploration / 2)


def test_lateral_favours_candidates_new_to_the_work() -> None:
    novelty = [0.0, 1.0, 1.0, 1.0]  # the best agent has done this kind of work a lot
    lateral = picks("lateral", novelty=novelty)
    assert sum(p != 0 for p in lateral) > sum(p != 0 for p in picks("abstract", novelty=novelty))


def test_every_pattern_documents_its_policy() -> None:
    for name, pattern in PATTERNS.items():
        described = pattern.describe()
        assert described["summary"] and "selection" in described, name
