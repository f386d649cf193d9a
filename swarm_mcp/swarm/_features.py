"""Text to numbers: hashed word features, the task type they indicate, and a brain's input vector.

Words are lower-cased, crudely stemmed and hashed (BLAKE2b, so the result is the same on every
machine and every run, unlike Python's `hash`) with a sign bit into buckets. The task type is
the type whose keyword prototype (hashed the same way) has the largest dot product with the
text: keyword matching, done in the hashed space the brains see. A brain's input is the text
folded into `TEXT_BUCKETS`, the type one-hot, complexity, priority and length: `FEATURES` numbers.
"""

from __future__ import annotations

import hashlib
import math
import re

from ._model import TASK_TYPES

__all__ = ("FEATURES", "TEXT_BUCKETS", "classify", "stem", "task_features", "words")

TEXT_BUCKETS = 20
CLASSIFY_BUCKETS = 4096
FEATURES = TEXT_BUCKETS + len(TASK_TYPES) + 3

_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("izations", "ization", "ations", "ation", "ments", "ment", "ings", "ing", "ers", "er", "ed", "es", "ly", "s")

LEXICON: dict[str, tuple[str, ...]] = {
    "research": ("research", "investigate", "survey", "explore", "study", "literature", "sources", "find", "discover",
                 "learn", "gather", "compare", "alternatives", "options", "background", "paper"),
    "code": ("implement", "code", "build", "function", "class", "api", "endpoint", "fix", "bug", "refactor",
             "script", "feature", "program", "develop", "module", "library", "cli", "parser", "server", "rest"),
    "analysis": ("analyze", "analyse", "analysis", "data", "metrics", "evaluate", "measure", "statistics", "assess",
                 "trend", "insight", "dataset", "correlation", "report", "numbers", "logs"),
    "optimization": ("optimize", "optimise", "performance", "speed", "faster", "latency", "throughput", "memory",
                     "tune", "efficient", "bottleneck", "profile", "cache", "slow", "reduce", "scale"),
    "coordination": ("coordinate", "organize", "manage", "schedule", "assign", "orchestrate", "team", "delegate",
                     "roadmap", "milestones", "prioritize", "sync", "handoff"),
    "testing": ("test", "tests", "verify", "validate", "qa", "coverage", "regression", "unit", "integration", "e2e",
                "assert", "fuzz", "benchmark", "check that"),
    "review": ("review", "audit", "inspect", "critique", "feedback", "approve", "pull request", "pr", "security",
               "vulnerability", "lint", "quality"),
    "documentation": ("document", "docs", "documentation", "readme", "guide", "tutorial", "explain", "comment",
                      "manual", "describe", "summarize", "summary", "changelog", "write up"),
    "architecture": ("design", "architecture", "architect", "system", "schema", "structure", "components",
                     "scalable", "diagram", "interface", "microservices", "database", "infrastructure", "blueprint"),
}


def stem(word: str) -> str:
    """A crude suffix stripper: good enough to make 'testing', 'tests' and 'tested' one feature."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower())]


def _hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")


def _hashed(tokens: list[str], buckets: int) -> dict[int, float]:
    """Signed feature hashing of unigrams and bigrams."""
    out: dict[int, float] = {}
    grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    for gram in grams:
        h = _hash(gram)
        bucket, sign = h % buckets, (1.0 if (h >> 63) & 1 else -1.0)
        out[bucket] = out.get(bucket, 0.0) + sign
    return out


def _prototype(phrases: tuple[str, ...]) -> dict[int, float]:
    out: dict[int, float] = {}
    for phrase in phrases:
        tokens = words(phrase)
        gram = " ".join(tokens)
        h = _hash(gram)
        out[h % CLASSIFY_BUCKETS] = out.get(h % CLASSIFY_BUCKETS, 0.0) + (1.0 if (h >> 63) & 1 else -1.0)
    return out


_PROTOTYPES = {task_type: _prototype(phrases) for task_type, phrases in LEXICON.items()}


def classify(text: str) -> tuple[str | None, dict[str, float]]:
    """The task type of `text` (None when no type's keywords appear) and every type's score."""
    vector = _hashed(words(text), CLASSIFY_BUCKETS)
    scores = {t: sum(w * vector.get(b, 0.0) for b, w in proto.items()) for t, proto in _PROTOTYPES.items()}
    best = max(TASK_TYPES, key=lambda t: (scores[t], -TASK_TYPES.index(t)))
    return (best if scores[best] > 0 else None), scores


def task_features(text: str, task_type: str, complexity: int, priority: int) -> list[float]:
    """A brain's input for a (sub)task: `FEATURES` floats, each within [-1, 1]."""
    tokens = words(text)
    folded = [0.0] * TEXT_BUCKETS
    for bucket, value in _hashed(tokens, CLASSIFY_BUCKETS).items():
        folded[bucket % TEXT_BUCKETS] += value
    norm = math.sqrt(sum(v * v for v in folded)) or 1.0
    one_hot = [1.0 if t == task_type else 0.0 for t in TASK_TYPES]
    size = min(1.0, math.log1p(len(tokens)) / math.log1p(200))
    return [round(v / norm, 6) for v in folded] + one_hot + [complexity / 10.0, priority / 3.0, round(size, 6)]
