"""The Queen's planning, as pure functions: text in, an analysis and a dependency graph out.

    analysis = analyze("Build a REST API for todos, then write its docs")
    plan = plan_task(analysis, "adaptive")          # or plan_explicit(subtasks) for a client's plan

`analyze` classifies the task type from hashed word features (`_features.classify`), estimates
complexity from the text (length, clauses, scale words) and splits it into parts (its clauses,
or numbered pieces of a long single clause). `plan_task` lays the type's phases out as a graph
whose shape follows the strategy: a chain (sequential), or phases that fan out over the parts
and join again (parallel). `design_swarm` picks a topology and an agent mix for an objective.
Every choice comes with the reason for it, so a user can see why. Deterministic: the same text
gives the same plan on every machine.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument
from ._features import classify, words
from ._model import AGENT_TYPES, EXECUTORS, TASK_TYPES

__all__ = ("Analysis", "Plan", "PlannedSubtask", "SwarmDesign", "analyze", "design_swarm", "find_cycle",
           "plan_explicit", "plan_task")

MAX_SUBTASKS = 200
MAX_PARTS = 12

_SPLIT = re.compile(r"(?:\n+|;|\.\s+|\bthen\b|,\s*and\b|,\s*(?=\w+\s)|\band then\b|^\s*(?:\d+[.)]|[-*•])\s*)", re.I | re.M)
_SEQUENTIAL_CUES = {"then", "after", "before", "pipeline", "step", "stage", "sequence", "afterward", "finally"}
_SCALE_WORDS = {"system", "entire", "all", "complete", "production", "distributed", "platform", "end-to-end",
                "scalable", "multiple", "full", "comprehensive", "migrate", "enterprise"}

# Each task type's phases: (task type, description template, "one" subtask or one per "parts").
TEMPLATES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "code": (("architecture", "Design the approach for: {obj}", "one"), ("code", "Implement: {part}", "parts"),
             ("testing", "Test the implementation of: {obj}", "one"), ("review", "Review the changes for: {obj}", "one")),
    "research": (("research", "Research: {part}", "parts"), ("analysis", "Analyze the findings on: {obj}", "one"),
                 ("documentation", "Summarize the findings on: {obj}", "one")),
    "analysis": (("research", "Gather the data needed for: {obj}", "one"), ("analysis", "Analyze: {part}", "parts"),
                 ("documentation", "Report the analysis of: {obj}", "one")),
    "optimization": (("analysis", "Measure the baseline for: {obj}", "one"), ("optimization", "Optimize: {part}", "parts"),
                     ("testing", "Verify the gains and the behaviour for: {obj}", "one")),
    "testing": (("analysis", "Identify what to test for: {obj}", "one"), ("testing", "Test: {part}", "parts"),
                ("documentation", "Report the test results for: {obj}", "one")),
    "review": (("review", "Review: {part}", "parts"), ("documentation", "Summarize the review of: {obj}", "one")),
    "documentation": (("research", "Gather the material for: {obj}", "one"), ("documentation", "Write: {part}", "parts"),
                      ("review", "Review the documentation for: {obj}", "one")),
    "architecture": (("research", "Collect the requirements for: {obj}", "one"), ("architecture", "Design: {part}", "parts"),
                     ("review", "Review the design for: {obj}", "one")),
    "coordination": (("coordination", "Break down and schedule: {obj}", "one"), ("coordination", "Coordinate: {part}", "parts")),
}


@dataclass(frozen=True, slots=True)
class Analysis:
    task_type: str
    type_scores: Mapping[str, float]
    complexity: int  # 1..10
    parts: tuple[str, ...]
    words: int
    sequential_cues: tuple[str, ...]
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"task_type": self.task_type, "type_scores": {k: round(v, 3) for k, v in self.type_scores.items() if v},
                "complexity": self.complexity, "parts": list(self.parts), "words": self.words,
                "sequential_cues": list(self.sequential_cues), "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class PlannedSubtask:
    key: str
    description: str
    type: str
    capabilities: tuple[str, ...]
    depends_on: tuple[str, ...]
    executor: str | None = None  # its own executor (explicit plans); None: the task's


@dataclass(frozen=True, slots=True)
class Plan:
    subtasks: tuple[PlannedSubtask, ...]
    shape: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SwarmDesign:
    topology: str
    strategy: str
    agents: tuple[tuple[str, int], ...]  # (agent type, count), in spawn order
    reasons: tuple[str, ...]
    analysis: Analysis = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"topology": self.topology, "strategy": self.strategy,
                "agents": [{"type": t, "count": n} for t, n in self.agents], "reasons": list(self.reasons),
                "analysis": self.analysis.to_json()}


def _parts(text: str) -> list[str]:
    pieces = [p.strip(" ,.;:-\t") for p in _SPLIT.split(text) if p]
    out: list[str] = []
    for piece in pieces:
        if len(piece.split()) >= 2 and piece.lower() not in (o.lower() for o in out):
            out.append(piece)
    return out[:MAX_PARTS]


def analyze(text: str) -> Analysis:
    """Type, complexity and parts of a task description, with the reasons for each."""
    tokens = words(text)
    task_type, scores = classify(text)
    reasons = []
    if task_type is None:
        task_type = "research"
        reasons.append("no task-type keywords found; treated as research")
    else:
        ranked = sorted((s, t) for t, s in scores.items() if s > 0)[::-1]
        runner_up = f", ahead of {ranked[1][1]} ({ranked[1][0]:g})" if len(ranked) > 1 else ""
        reasons.append(f"type {task_type}: its keywords score {scores[task_type]:g}{runner_up}")
    clauses = _parts(text)
    raw = set(re.findall(r"[a-z-]+", text.lower()))
    scale = sorted(raw & _SCALE_WORDS)
    cues = tuple(sorted(raw & _SEQUENTIAL_CUES))
    complexity = 1 + 2 * math.log2(1 + len(tokens) / 8) + 0.8 * max(0, len(clauses) - 1) + 0.5 * len(scale)
    complexity_int = max(1, min(10, round(complexity)))
    reasons.append(f"complexity {complexity_int}/10: {len(tokens)} words, {max(1, len(clauses))} clause(s)"
                   + (f", scale words {scale}" if scale else ""))
    if len(clauses) >= 2:
        parts = tuple(clauses)
        reasons.append(f"{len(parts)} parts: the clauses of the text")
    else:
        count = 1 if complexity_int <= 5 else (2 if complexity_int <= 7 else 3)
        whole = text.strip()
        parts = (whole,) if count == 1 else tuple(f"(part {i + 1} of {count}) {whole}" for i in range(count))
        reasons.append("one clause" + (f", split in {count} parts by complexity" if count > 1 else ""))
    return Analysis(task_type, scores, complexity_int, parts, len(tokens), cues, tuple(reasons))


def plan_task(analysis: Analysis, strategy: str, text: str | None = None) -> Plan:
    """A dependency graph for the analysed task; its shape follows `strategy`."""
    obj = text.strip() if text else " / ".join(analysis.parts)
    phases = TEMPLATES[analysis.task_type]
    core = next(i for i, phase in enumerate(phases) if phase[2] == "parts")
    reasons: list[str] = []
    if analysis.complexity <= 2 and len(analysis.parts) == 1:
        chosen = [phases[core]]
        reasons.append(f"complexity {analysis.complexity}: one {analysis.task_type} subtask is enough")
    elif analysis.complexity <= 5:
        chosen = list(phases[core:core + 1]) + ([phases[-1]] if core != len(phases) - 1 else [])
        reasons.append(f"complexity {analysis.complexity}: the {analysis.task_type} work and its final check")
    else:
        chosen = list(phases)
        reasons.append(f"complexity {analysis.complexity}: every {analysis.task_type} phase "
                       f"({', '.join(p[0] for p in phases)})")
    parallel = strategy == "parallel" or (strategy == "adaptive" and len(analysis.parts) >= 2)
    if strategy == "adaptive":
        reasons.append("adaptive: parallel over the parts" if parallel else "adaptive: one part, so a chain")
    layers: list[list[PlannedSubtask]] = []
    n = 0
    retyped = []
    for task_type, template, width in chosen:
        items = [(task_type, template.format(obj=obj, part=obj))]
        if width == "parts":
            items = [_part_item(task_type, template, part, retyped) for part in analysis.parts]
        layer = []
        for kind, description in items:
            n += 1
            layer.append(PlannedSubtask(f"s{n}", description, kind, (kind,), ()))
        layers.append(layer)
    if retyped:
        reasons.append("parts typed on their own: " + "; ".join(retyped))
    flat: list[PlannedSubtask] = []
    previous: list[str] = []
    for layer in layers:
        for item in layer:
            deps = tuple(previous) if parallel else ((flat[-1].key,) if flat else ())
            flat.append(PlannedSubtask(item.key, item.description, item.type, item.capabilities, deps))
        previous = [item.key for item in layer]
    shape = "single" if len(flat) == 1 else ("fan-out/fan-in" if parallel else "chain")
    return Plan(tuple(flat), shape, tuple(reasons))


def _part_item(task_type: str, template: str, part: str, retyped: list[str]) -> tuple[str, str]:
    """A part whose own words clearly name another task type becomes that type's subtask."""
    own, scores = classify(part)
    if own is not None and own != task_type and scores[own] > scores[task_type]:
        retyped.append(f"{part!r} is {own}")
        own_template = next(t for t in TEMPLATES[own] if t[2] == "parts")[1]
        return own, own_template.format(part=part, obj=part)
    return task_type, template.format(part=part, obj=part)


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as a path `[a, b, ..., a]`, or None. `graph` maps a node to what it depends on."""
    state: dict[str, int] = {}
    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            deps = graph.get(node, ())
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if state.get(nxt) == 1:
                    return path[path.index(nxt):] + [nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def plan_explicit(subtasks: Sequence[Mapping[str, Any]], *, max_description: int = 4000) -> Plan:
    """Validate a client's plan: unique ids, known dependencies, no cycle.

    Raises:
        InvalidArgument: naming the subtask at fault (and the cycle, for a cycle).
    """
    if not subtasks:
        raise InvalidArgument("subtasks is empty; give at least one {id, description}, or omit it to let the Queen plan")
    if len(subtasks) > MAX_SUBTASKS:
        raise InvalidArgument(f"subtasks has {len(subtasks)} items; the most a task may have is {MAX_SUBTASKS}")
    seen: dict[str, Mapping[str, Any]] = {}
    for i, item in enumerate(subtasks):
        sid = item.get("id") or f"s{i + 1}"
        if not isinstance(sid, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", sid):
            raise InvalidArgument(f"subtasks[{i}].id {sid!r} must be 1-64 characters of letters, digits, '_', '.', ':' or '-'")
        if sid in seen:
            raise InvalidArgument(f"subtasks[{i}].id {sid!r} is used twice; ids must be unique within the plan")
        description = item.get("description")
        if not isinstance(description, str) or not description.strip():
            raise InvalidArgument(f"subtasks[{i}] ({sid!r}) needs a non-empty description")
        if len(description) > max_description:
            raise InvalidArgument(f"subtasks[{i}] ({sid!r}) description has {len(description)} characters; at most {max_description}")
        kind = item.get("type")
        if kind is not None and kind not in TASK_TYPES:
            raise InvalidArgument(f"subtasks[{i}] ({sid!r}) type {kind!r} is not one of {', '.join(TASK_TYPES)}")
        executor = item.get("executor")
        if executor is not None and executor not in EXECUTORS:
            raise InvalidArgument(f"subtasks[{i}] ({sid!r}) executor {executor!r} is not one of {', '.join(EXECUTORS)}")
        seen[sid] = {**item, "id": sid}
    graph = {sid: list(item.get("dependsOn") or item.get("depends_on") or ()) for sid, item in seen.items()}
    for sid, deps in graph.items():
        unknown = [d for d in deps if d not in seen]
        if unknown:
            raise InvalidArgument(f"subtask {sid!r} depends on unknown subtask(s) {unknown}; known ids: {', '.join(seen)}")
        if len(set(deps)) != len(deps):
            raise InvalidArgument(f"subtask {sid!r} lists a dependency twice: {deps}")
    cycle = find_cycle(graph)
    if cycle:
        raise InvalidArgument(f"the plan has a dependency cycle: {' -> '.join(cycle)} (each depends on the next); "
                              "remove one of these dependsOn links")
    planned = []
    for sid, item in seen.items():
        kind = item.get("type") or (classify(item["description"])[0] or "research")
        caps = tuple(str(c) for c in item.get("capabilities") or ())
        if len(caps) > 32 or any(not 0 < len(c) <= 64 for c in caps):
            raise InvalidArgument(f"subtask {sid!r} capabilities must be at most 32 words of 1-64 characters")
        planned.append(PlannedSubtask(sid, item["description"].strip(), kind, caps or (kind,), tuple(graph[sid]),
                                      item.get("executor")))
    return Plan(tuple(planned), "explicit", ("the client's plan, validated: ids unique, dependencies known, no cycle",))


def design_swarm(objective: str, max_agents: int) -> SwarmDesign:
    """The Queen's choice of topology, strategy and agent mix for an objective, with reasons."""
    analysis = analyze(objective)
    plan = plan_task(analysis, "adaptive", objective)
    reasons = list(analysis.reasons)
    parts, complexity = len(analysis.parts), analysis.complexity
    if analysis.sequential_cues and parts >= 2:
        topology = "ring"
        reasons.append(f"ring: the text reads as a pipeline ({', '.join(analysis.sequential_cues)}), so work hands off in order")
    elif complexity >= 7 or parts >= 4:
        topology = "hierarchical"
        reasons.append(f"hierarchical: {parts} parts at complexity {complexity}; coordinators keep each team small")
    elif analysis.task_type in ("research", "analysis") and parts >= 2:
        topology = "mesh"
        reasons.append("mesh: exploratory work that any agent may take or share")
    else:
        topology = "star"
        reasons.append("star: a small task; the Queen assigns every subtask directly")
    wanted = Counter(AGENT_TYPES[TASK_TYPES.index(s.type)] for s in plan.subtasks)
    if topology == "hierarchical":
        wanted["coordinator"] = max(1, math.ceil(sum(wanted.values()) / 5))
    budget = max(1, max_agents)
    mix: list[tuple[str, int]] = []
    for agent_type, count in sorted(wanted.items(), key=lambda kv: (kv[0] != "coordinator", -kv[1], kv[0])):
        mix.append((agent_type, count))
    while sum(n for _, n in mix) > budget:  # trim the largest group first, keeping one of each type while possible
        i = max(range(len(mix)), key=lambda j: (mix[j][1], -j))
        if mix[i][1] > 1:
            mix[i] = (mix[i][0], mix[i][1] - 1)
        else:
            mix.pop()
    reasons.append("agents: " + ", ".join(f"{n} {t}" for t, n in mix) + f" (at most maxAgents={max_agents})")
    distinct = len(mix)
    strategy = "specialized" if distinct >= 3 else "balanced"
    reasons.append(f"strategy {strategy}: {distinct} agent type(s)"
                   + (", so route each subtask to its specialist" if strategy == "specialized" else ", so spread the load"))
    return SwarmDesign(topology, strategy, tuple(mix), tuple(reasons), analysis)
