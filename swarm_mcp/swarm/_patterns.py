"""Cognitive patterns: the decision policies of the Queen, coordinators and agents, as parameters.

A routing decision picks one agent among candidates, each with a score (capability match ×
brain prediction, discounted by load as the swarm's strategy says). The decider's pattern turns
scores into a choice: with probability `exploration` any candidate uniformly (exploring), else
the best one (`temperature` 0) or a softmax sample of the scores relative to the best
(`score / best`) at that temperature. `novelty` favours
agents with little experience of the subtask's type; `load_weight` scales the load discount;
`review` says when work done by an agent of this pattern gets a review subtask. `adaptive`
starts exploratory and cools as its decider gains experience. `choose` is pure: its randomness
comes from the `random.Random` it is given.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ("PATTERNS", "Pattern", "choose", "effective")


@dataclass(frozen=True, slots=True)
class Pattern:
    name: str
    summary: str
    temperature: float  # 0: argmax
    exploration: float  # probability of a uniform pick
    novelty: float = 0.0  # bonus for candidates new to the subtask's type
    load_weight: float = 1.0
    review: str = "never"  # never, always, or when the work has dependents

    def describe(self) -> dict[str, object]:
        return {"summary": self.summary, "selection": "argmax" if self.temperature == 0 else f"softmax sampling at T={self.temperature:g}",
                "exploration_rate": self.exploration, "novelty_bonus": self.novelty, "load_weight": self.load_weight,
                "review_step": self.review}


PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern("convergent", "Exploit: always the best-scoring agent, no exploration.", 0.0, 0.0),
        Pattern("divergent", "Explore broadly: softmax sampling and frequent uniform picks.", 0.5, 0.25),
        Pattern("lateral", "Try the unusual: favours agents new to this kind of work.", 0.3, 0.1, novelty=0.5),
        Pattern("systems", "Whole-system view: weighs load twice, adds a review before dependents run.",
                0.0, 0.05, load_weight=2.0, review="when_dependents"),
        Pattern("critical", "Careful: the best agent, and every piece of its work is reviewed.", 0.0, 0.0, review="always"),
        Pattern("abstract", "Broad strokes: mild sampling around the best scores.", 0.15, 0.05),
        Pattern("adaptive", "Starts exploratory and cools with experience (T and exploration shrink as 1/(1+n/20)).",
                0.25, 0.1),
    )
}


def effective(pattern: Pattern, experience: int) -> tuple[float, float]:
    """(temperature, exploration) of `pattern` for a decider with `experience` past decisions."""
    if pattern.name != "adaptive":
        return pattern.temperature, pattern.exploration
    cool = 1.0 / (1.0 + experience / 20.0)
    return pattern.temperature * cool, pattern.exploration * cool


def choose(scores: Sequence[float], pattern: Pattern, rng: random.Random, *, experience: int = 0,
           novelty: Sequence[float] | None = None) -> tuple[int, bool]:
    """Index of the chosen candidate and whether the choice explored (was not the best score).

    `novelty[i]` in [0, 1] is how new candidate i is to the work (1: never did it)."""
    if not scores:
        raise ValueError("no candidates to choose from")
    adjusted = [s * (1.0 + pattern.novelty * (novelty[i] if novelty else 0.0)) for i, s in enumerate(scores)]
    best = max(range(len(adjusted)), key=lambda i: (adjusted[i], -i))
    temperature, exploration = effective(pattern, experience)
    if len(adjusted) > 1 and exploration > 0 and rng.random() < exploration:
        pick = rng.randrange(len(adjusted))
    elif temperature <= 1e-6:
        pick = best
    else:  # scores relative to the best, so the temperature means the same at any scale
        top = max(adjusted) or 1.0
        weights = [math.exp((a / top - 1.0) / temperature) for a in adjusted]
        pick = rng.choices(range(len(adjusted)), weights=weights)[0]
    return pick, adjusted[pick] < adjusted[best]
