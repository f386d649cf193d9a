"""Decentralized autonomous agents (DAA): engine agents that adapt, as views over the engine.

No second engine: a DAA agent is an engine agent (`SwarmEngine.spawn` with its own id) with a
`DaaProfile` (learning rate, memory namespace `agent:<id>`, recent scores, pattern switches), in a
swarm whose `DaaSettings` (`daa_init`) say whether its brains learn, whether its agents share,
and how durably DAA writes are kept. Agents of swarms without settings follow the defaults
(learning and coordination on, persistence auto).

Rules, stated once:
- Pattern switching (`next_pattern`): after each adaptation, over the mean of the agent's last
  `SWITCH_WINDOW` scores since its last switch (at least that many are needed): below `LOW` it
  explores (divergent; lateral when already divergent), at or above `HIGH` it exploits
  (convergent); otherwise it keeps its pattern.
- Knowledge sharing blends brains only along the topology's edges:
  `target = (1 - w) * target + w * source`, w = `blendWeight` (default `BLEND`), and reports
  the change of each target's predicted success over `PROBES` (one canned task per type).
- Persistence: `DaaSettings.durable` (disk: every DAA write waits for its commit; memory:
  written behind, within the journal's 50 ms; auto: configuration waits, learning is behind).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidArgument, NotFound, Unavailable, format_choices
from ._brains import Brains
from ._experience import ADAM_LEARNING_RATE, HOLDOUT_EVERY
from ._features import LEXICON, classify, task_features, words
from ._model import (
    AGENT_TYPES,
    PRIORITIES,
    TASK_TYPES,
    Agent,
    DaaProfile,
    DaaSettings,
    Swarm,
    default_capabilities,
    natural_task_type,
)
from ._patterns import PATTERNS, effective
from ._queen import analyze
from ._topology import neighbours

if TYPE_CHECKING:
    from ._engine import SwarmEngine

__all__ = ("BLEND", "HIGH", "LOW", "PROBES", "SWITCH_WINDOW", "adapt", "agent_learning", "analyze_pattern", "brains_of",
           "create_agent", "daa_swarm", "default_settings", "infer_type", "init", "learning_swarm", "live_agent",
           "next_pattern", "profile_of", "scores_since_switch", "set_pattern", "settings_of", "settle", "share")

DEFAULT = DaaSettings()
SWITCH_WINDOW = 3
LOW, HIGH = 0.4, 0.8
BLEND = 0.3
DEFAULT_MAX_AGENTS = 32
MAX_KNOWLEDGE = 64  # entries one share copies
FEEDBACK_KEPT = 100  # feedback records kept in an agent's namespace (a ring)
PROBES = [task_features(" ".join(LEXICON[t][:3]), t, 5, PRIORITIES["medium"]) for t in TASK_TYPES]
_DOMAIN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


# -- settings and the DAA swarm -------------------------------------------------------------------

def settings_of(swarm: Swarm) -> DaaSettings:
    return swarm.daa or DEFAULT


def daa_swarm(engine: SwarmEngine, swarm_id: str | None) -> Swarm:
    """The named swarm, or the DAA swarm (the oldest swarm `daa_init` configured).

    Raises:
        NotFound: no such swarm, or no DAA swarm yet.
    """
    if swarm_id is not None:
        return engine.swarm(swarm_id)
    configured = sorted((s for s in engine.swarms.values() if s.daa is not None), key=lambda s: s.created)
    if not configured:
        raise NotFound("No DAA swarm exists yet; call daa_init first (or pass swarmId of any swarm)")
    return configured[0]


def default_settings(engine: SwarmEngine) -> DaaSettings:
    """The DAA swarm's settings, or the defaults before daa_init (for writes not tied to an agent)."""
    try:
        return settings_of(daa_swarm(engine, None))
    except NotFound:
        return DEFAULT


async def settle(engine: SwarmEngine, settings: DaaSettings, kind: str) -> bool:
    """Wait for the journal's commit when `settings` make a DAA write of `kind` durable; whether it did."""
    if settings.durable(kind):
        await engine.persist.commit()
        return True
    return False


async def init(engine: SwarmEngine, *, enable_learning: bool, enable_coordination: bool, persistence_mode: str,
               topology: str | None, swarm_id: str | None, max_agents: int | None) -> tuple[Swarm, bool]:
    """Configure (and, when there is none, create) the DAA swarm; returns it and whether it is new.

    Raises:
        InvalidArgument: a topology that differs from the existing swarm's.
    """
    created = False
    try:
        swarm = daa_swarm(engine, swarm_id)
    except NotFound:
        if swarm_id is not None:
            raise
        swarm, _ = await engine.create_swarm(topology=topology or "mesh", max_agents=max_agents or DEFAULT_MAX_AGENTS,
                                             strategy="adaptive", name="daa")
        created = True
    if not created and topology is not None and topology != swarm.topology:
        raise InvalidArgument(f"swarm {swarm.id!r} is a {swarm.topology}, not a {topology}; omit topology to keep it, "
                              "or pass swarmId of a swarm with that topology")
    swarm.daa = DaaSettings(enable_learning, enable_coordination, persistence_mode, engine.clock())
    engine.persist.swarms.add(swarm.id)
    engine.event("daa_initialized", swarm.daa.to_json(), swarm_id=swarm.id)
    await settle(engine, swarm.daa, "config")
    return swarm, created


# -- agents ---------------------------------------------------------------------------------------

def infer_type(capabilities: Sequence[str]) -> str:
    """The agent type whose role, task type or built-in skills the capabilities name most
    (ties: the earlier type); researcher when they name none."""
    said = {w for c in capabilities for w in words(c.replace("-", " ").replace("_", " "))}
    best, best_score = "researcher", 0
    for agent_type in AGENT_TYPES:
        known = {w for term in (agent_type, natural_task_type(agent_type), *default_capabilities(agent_type))
                 for w in words(term)}
        score = len(said & known)
        if score > best_score:
            best, best_score = agent_type, score
    return best


def live_agent(engine: SwarmEngine, agent_id: str) -> Agent:
    agent = engine.agent(agent_id)
    if agent.stopped:
        raise Conflict(f"agent {agent_id!r} is stopped; daa_agent_create a new one (daa_learning_status lists agents)")
    return agent


def brains_of(engine: SwarmEngine) -> Brains:
    if engine.brains is None:
        raise Unavailable("agent brains are off in this daemon (setting swarm_learning=false); DAA learning needs them")
    return engine.brains


def learning_swarm(engine: SwarmEngine, agent: Agent) -> tuple[Swarm, DaaSettings]:
    """The agent's swarm and settings, once its brains may learn.

    Raises:
        Unavailable: the daemon has no brains. Conflict: learning is off in its swarm.
    """
    brains_of(engine)
    swarm = engine.swarms[agent.swarm_id]
    settings = settings_of(swarm)
    if not settings.enable_learning:
        raise Conflict(f"learning is off in swarm {swarm.id!r} (daa_init enableLearning=false); its brains keep their "
                       "experiences but do not train. Call daa_init with enableLearning=true first")
    return swarm, settings


def profile_of(engine: SwarmEngine, agent: Agent) -> DaaProfile:
    """The agent's DAA profile (an engine agent gets one, without a namespace, when it first adapts)."""
    if agent.daa is None:
        rate = engine.brains.learning_rate(agent.swarm_id, agent.id) if engine.brains is not None else 0.0
        agent.daa = DaaProfile(rate, memory=False)
    return agent.daa


async def create_agent(engine: SwarmEngine, *, agent_id: str, capabilities: Sequence[str], pattern: str,
                       learning_rate: float | None, memory: bool, agent_type: str | None,
                       swarm_id: str | None) -> tuple[Agent, bool]:
    """Spawn an engine agent with a DAA profile; with `memory`, its namespace `agent:<id>` gets a
    `profile` entry. Returns the agent and whether its creation is committed."""
    swarm = daa_swarm(engine, swarm_id)
    settings = settings_of(swarm)
    chosen_type = agent_type or infer_type(capabilities)
    profile = DaaProfile(ADAM_LEARNING_RATE if learning_rate is None else learning_rate, memory)
    agent = await engine.spawn(swarm.id, chosen_type, capabilities=capabilities, pattern=pattern, agent_id=agent_id,
                               daa=profile, durable=False)
    if memory:
        await engine.store.put(f"agent:{agent.id}", "profile",
                               {"type": agent.type, "capabilities": list(agent.capabilities), "pattern": agent.pattern,
                                "learning_rate": profile.learning_rate, "swarm_id": swarm.id, "created": agent.created},
                               agent_id=agent.id, durable=settings.durable("config"))
    return agent, await settle(engine, settings, "config")


# -- adaptation -----------------------------------------------------------------------------------

def next_pattern(current: str, scores: Sequence[float]) -> tuple[str, str]:
    """The pattern after an adaptation and why, from the scores since the last switch (see the
    module docstring)."""
    if len(scores) < SWITCH_WINDOW:
        return current, f"kept: {len(scores)} of {SWITCH_WINDOW} scores since the last switch"
    recent = sum(scores[-SWITCH_WINDOW:]) / SWITCH_WINDOW
    if recent < LOW:
        to = "lateral" if current == "divergent" else "divergent"
        return to, f"mean of the last {SWITCH_WINDOW} scores {recent:.2f} < {LOW}: explore"
    if recent >= HIGH:
        return "convergent", f"mean of the last {SWITCH_WINDOW} scores {recent:.2f} >= {HIGH}: exploit"
    return current, f"kept: mean of the last {SWITCH_WINDOW} scores {recent:.2f} is between {LOW} and {HIGH}"


def scores_since_switch(profile: DaaProfile) -> list[float]:
    """The agent's recent scores that came after its last pattern switch."""
    scores = list(profile.scores)
    n = max(0, min(len(scores), profile.adaptations - profile.switched_at))
    return scores[len(scores) - n:]


def _switch(engine: SwarmEngine, agent: Agent, to: str, reason: str) -> dict[str, Any]:
    profile = profile_of(engine, agent)
    change = {"at": engine.clock(), "from": agent.pattern, "to": to, "reason": reason}
    agent.pattern = to
    profile.switches.append(change)
    profile.switched_at = profile.adaptations
    engine.persist.agents.add(agent.id)
    engine.event("daa_pattern_changed", {"from": change["from"], "to": to, "reason": reason},
                 swarm_id=agent.swarm_id, agent_id=agent.id)
    return change


async def adapt(engine: SwarmEngine, agent_id: str, feedback: str, score: float,
                suggestions: Sequence[str]) -> dict[str, Any]:
    """The feedback becomes one training example (its features; the score as the success and
    quality targets, the brain's own speed prediction as the speed target), one gradient step
    on the agent's brain now (`Brains.step`), then the pattern rule. Returns predictions and
    losses around the step.

    Raises:
        InvalidArgument: empty feedback. Conflict: a stopped agent or learning off.
    """
    agent = live_agent(engine, agent_id)
    swarm, settings = learning_swarm(engine, agent)
    brains = brains_of(engine)
    text = feedback.strip()
    if not text:
        raise InvalidArgument("feedback is empty; describe what the agent did and how it went")
    kind = classify(text)[0] or natural_task_type(agent.type)
    features = task_features(text, kind, analyze(text).complexity, PRIORITIES["medium"])
    step = await brains.step(swarm.id, agent.id, features, [score, score, float("nan")])
    if step is None:
        raise Conflict(f"agent {agent.id!r} has no brain yet; try again in a moment")
    engine.experience_recorded()
    profile = profile_of(engine, agent)
    profile.scores.append(score)
    profile.adaptations += 1
    before = agent.pattern
    to, reason = next_pattern(agent.pattern, scores_since_switch(profile))
    switched = _switch(engine, agent, to, reason) if to != agent.pattern else None
    engine.persist.agents.add(agent.id)
    for aid, snap in (await brains.snapshots(swarm.id, force=True)).items():
        engine.persist.brains[aid] = (swarm.id, snap)
    engine.event("daa_agent_adapted", {"score": score, "loss_before": round(step.loss_before, 6),
                                       "loss_after": round(step.loss_after, 6), "type": kind},
                 swarm_id=swarm.id, agent_id=agent.id)
    stored = None
    if profile.memory:
        stored = f"feedback:{profile.adaptations % FEEDBACK_KEPT:02d}"
        await engine.store.put(f"agent:{agent.id}", stored,
                               {"feedback": text, "score": score, "suggestions": list(suggestions), "task_type": kind,
                                "loss_before": step.loss_before, "loss_after": step.loss_after,
                                "adaptation": profile.adaptations}, agent_id=agent.id,
                               durable=settings.durable("learning"))
    durable = await settle(engine, settings, "learning")
    names = ("success", "quality", "speed")
    return {
        "agent_id": agent.id, "task_type": kind, "learning_rate": brains.learning_rate(swarm.id, agent.id),
        "target": dict(zip(names, (round(v, 6) for v in step.target), strict=True)),
        "before": {"prediction": dict(zip(names, (round(v, 6) for v in step.before), strict=True)),
                   "loss": round(step.loss_before, 8)},
        "after": {"prediction": dict(zip(names, (round(v, 6) for v in step.after), strict=True)),
                  "loss": round(step.loss_after, 8)},
        "step_size": round(step.step_size, 8),
        "pattern": {"before": before, "after": agent.pattern, "switched": switched is not None, "rule": reason,
                    "recent_scores": [round(s, 4) for s in profile.scores]},
        "adaptations": profile.adaptations, "experiences": brains.agent(swarm.id, agent.id)["experiences"],
        "memory_key": stored, "durable": durable,
    }


# -- cognitive patterns -----------------------------------------------------------------------------

async def set_pattern(engine: SwarmEngine, agent_id: str, pattern: str) -> dict[str, Any]:
    agent = live_agent(engine, agent_id)
    if pattern not in PATTERNS:
        raise InvalidArgument(f"pattern {pattern!r} is not valid; use one of {format_choices(PATTERNS)}")
    before = agent.pattern
    change = _switch(engine, agent, pattern, "set by daa_cognitive_pattern") if pattern != before else None
    durable = await settle(engine, settings_of(engine.swarms[agent.swarm_id]), "config")
    return {"agent_id": agent.id, "before": before, "after": agent.pattern, "changed": change is not None,
            "policy": PATTERNS[pattern].describe(), "durable": durable}


def analyze_pattern(engine: SwarmEngine, agent: Agent) -> dict[str, Any]:
    """The agent's pattern, its policy now, and its measured effect: the agent's routing decisions
    and their exploration by the pattern it held, its work's success rate by pattern, and what
    the switching rule would do next."""
    m = agent.metrics
    pattern = PATTERNS[agent.pattern]
    temperature, exploration = effective(pattern, m.decisions)
    decided = {p: {"decisions": c[0], "explored": c[1], "exploration_rate": round(c[1] / c[0], 4) if c[0] else None}
               for p, c in (m.decided or {}).items()}
    outcomes = {p: {"done": c[0], "failed": c[1], "success_rate": round(c[0] / (c[0] + c[1]), 4) if sum(c) else None}
                for p, c in (m.by_pattern or {}).items()}
    profile = agent.daa
    nxt, why = next_pattern(agent.pattern, scores_since_switch(profile) if profile is not None else [])
    swarm_stats = engine.pattern_stats[agent.pattern]
    return {
        "agent_id": agent.id, "pattern": agent.pattern, "policy": pattern.describe(),
        "effective_now": {"temperature": round(temperature, 4), "exploration_rate": round(exploration, 4),
                          "decisions_made": m.decisions},
        "decisions_by_pattern": decided, "success_by_pattern": outcomes,
        "swarm_wide": {"decisions": swarm_stats["decisions"], "explored": swarm_stats["explored"],
                       "succeeded": swarm_stats["succeeded"], "failed": swarm_stats["failed"]},
        "switches": list(profile.switches) if profile else [],
        "rule_next": {"pattern": nxt, "reason": why},
    }


# -- learning status ----------------------------------------------------------------------------------

async def agent_learning(engine: SwarmEngine, agents: Sequence[Agent], *, detailed: bool) -> list[dict[str, Any]]:
    """Each agent's real learning figures, with its brain measured on its held-out experiences."""
    brains = engine.brains
    by_swarm: dict[str, list[Agent]] = {}
    for agent in agents:
        by_swarm.setdefault(agent.swarm_id, []).append(agent)
    out = []
    for swarm_id, members in by_swarm.items():
        held = await brains.holdout(swarm_id, [a.id for a in members]) if brains is not None else {}
        for agent in members:
            facts = brains.agent(swarm_id, agent.id) if brains is not None else {"experiences": 0}
            history = facts.get("loss_history", [])
            h = held.get(agent.id)
            row: dict[str, Any] = {
                "agent_id": agent.id, "swarm_id": swarm_id, "type": agent.type, "pattern": agent.pattern,
                "learning_enabled": brains is not None and settings_of(engine.swarms[swarm_id]).enable_learning,
                "learning_rate": brains.learning_rate(swarm_id, agent.id) if brains is not None else None,
                "experiences": facts.get("experiences", 0), "trained_on": facts.get("buffered", 0),
                "training_rounds": facts.get("training_rounds", 0), "feedback_steps": facts.get("feedback_steps", 0),
                "loss": facts.get("loss"),
                "held_out": {"count": h.count if h else 0, "accuracy": None if h is None or h.accuracy is None
                             else round(h.accuracy, 4), "mse": None if h is None or h.mse is None else round(h.mse, 6),
                             "rule": f"every {HOLDOUT_EVERY}th finished subtask, never trained on"},
                "loss_history": history if detailed else history[-5:],
                "adaptations": agent.daa.adaptations if agent.daa else 0,
                "recent_scores": list(agent.daa.scores) if agent.daa else [],
                "tasks": {"done": agent.metrics.done, "failed": agent.metrics.failed},
            }
            if detailed:
                row["by_type"] = agent.metrics.by_type or {}
                row["switches"] = list(agent.daa.switches) if agent.daa else []
            out.append(row)
    return out


# -- knowledge sharing ------------------------------------------------------------------------------

async def share(engine: SwarmEngine, source_id: str, target_ids: Sequence[str], domain: str,
                content: Mapping[str, Any] | None, weight: float) -> dict[str, Any]:
    """Copy the source's knowledge entries of `domain` (after storing `content` there) into each
    target's namespace, and blend each target's brain toward the source's, along topology edges.

    Raises:
        Conflict: coordination is off, or an agent is stopped. InvalidArgument: a target that is
            not a neighbour (the allowed ones are listed), a bad domain, or nothing to share.
    """
    source = live_agent(engine, source_id)
    swarm = engine.swarms[source.swarm_id]
    settings = settings_of(swarm)
    if not settings.enable_coordination:
        raise Conflict(f"coordination is off in swarm {swarm.id!r} (daa_init enableCoordination=false); agents there "
                       "do not share. Call daa_init with enableCoordination=true first")
    if not _DOMAIN.match(domain):
        raise InvalidArgument(f"knowledgeDomain {domain!r} must be 1-64 letters, digits or _.-")
    targets = [live_agent(engine, t) for t in dict.fromkeys(target_ids)]
    allowed = neighbours(swarm.topology, swarm.live_agents(), source.id)
    strangers = [t.id for t in targets if t.id not in allowed]
    if strangers:
        raise InvalidArgument(f"agent(s) {strangers} are not linked to {source.id} in this {swarm.topology} topology; "
                              f"knowledge flows only along edges. Its neighbours: {format_choices(allowed, limit=20) or 'none'}")
    prefix = f"knowledge:{domain}:"
    entries: dict[str, Any] = {f"{prefix}{k}": v for k, v in (content or {}).items()}
    durable = settings.durable("learning")
    if source.daa is not None and source.daa.memory:
        for key, value in entries.items():
            await engine.store.put(f"agent:{source.id}", key, value, agent_id=source.id, durable=durable)
        page = await engine.store.list(f"agent:{source.id}", prefix=prefix, limit=MAX_KNOWLEDGE)
        entries = {e.key: e.value for e in page.entries}
    if not entries:
        raise InvalidArgument(f"{source.id} has no knowledge entries in domain {domain!r}; pass knowledgeContent "
                              "(an object: each key becomes an entry)")
    report: dict[str, dict[str, Any]] = {}
    for target in targets:
        copied = 0
        if target.daa is not None and target.daa.memory:
            for key, value in entries.items():
                await engine.store.put(f"agent:{target.id}", key, value, agent_id=target.id, durable=durable,
                                       metadata={"from": source.id, "domain": domain, "shared_at": engine.clock()})
                copied += 1
        report[target.id] = {"entries_copied": copied,
                             "memory": f"agent:{target.id}" if copied else "none (enableMemory was false)"}
    blended: dict[str, Any] = {}
    if engine.brains is not None and settings.enable_learning:
        blended = await engine.brains.blend(swarm.id, source.id, {t.id: weight for t in targets}, PROBES)
        for aid, snap in (await engine.brains.snapshots(swarm.id, force=True)).items():
            engine.persist.brains[aid] = (swarm.id, snap)
    for target in targets:
        b = blended.get(target.id)
        report[target.id]["brain"] = "not blended (learning is off)" if b is None else {
            "weight": weight, "prediction_change": {"mean": round(b.mean_change, 6), "max": round(b.max_change, 6)},
            "distance_to_source": {"before": round(b.distance_before, 6), "after": round(b.distance_after, 6)}}
    changes = [b.mean_change for b in blended.values()]
    engine.event("daa_knowledge_shared", {"domain": domain, "targets": len(targets), "entries": len(entries),
                                          "mean_change": round(sum(changes) / len(changes), 6) if changes else None},
                 swarm_id=swarm.id, agent_id=source.id)
    return {"source_agent_id": source.id, "domain": domain, "topology": swarm.topology, "entries": sorted(entries),
            "targets": report, "probes": len(PROBES), "durable": await settle(engine, settings, "learning")}
