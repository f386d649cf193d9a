"""Meta-learning across domains, measured: does starting from source-domain weights beat
starting from scratch on the same target-domain data?

A domain is a task type. The source-domain brain is trained (`SOURCE_EPOCHS`, from a random
start) on the pooled source-domain experiences of the chosen agents, trained-on rows only. Then,
for each agent, its target-domain experiences are split into folds (`folds`: up to
`MAX_FOLDS`, round-robin by row); for every fold three brains train on the other folds for
`TUNE_EPOCHS` and predict the fold they never saw:

- scratch: a random start (what the agent would learn from the target data alone);
- direct: initialised from the source-domain weights;
- gradual: initialised from them and regularised toward them: after every `WINDOW` epochs its
  weights move `PULL` of the way back to the source weights (its optimizer state restarts).

The measured gain of a mode is scratch's MSE minus the mode's MSE over all the agent's target
rows (each predicted by brains that never trained on it; positive = transfer helps), with the
accuracy of the success prediction beside it. Every brain lives in a private trial
population with the agents' layout (so it shares their compiled kernels) and a fixed seed, so
the same experiences give the same numbers. The functions here run in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidArgument, format_choices
from ._brain_kernels import batch_for, forward_rows
from ._experience import OUTPUTS, SAMPLES
from ._features import FEATURES, classify
from ._model import TASK_TYPES, Agent

if TYPE_CHECKING:
    import numpy as np

    from ._engine import SwarmEngine

__all__ = ("ARMS", "MAX_FOLDS", "PULL", "SOURCE_EPOCHS", "TUNE_EPOCHS", "WINDOW", "AgentTrial", "TrialOutcome",
           "domain_of", "folds", "meta_learn", "run_trials")

SOURCE_EPOCHS = 60
TUNE_EPOCHS = 40
WINDOW = 5
PULL = 0.3
MAX_FOLDS = 4
ARMS = ("scratch", "direct", "gradual")


@dataclass(frozen=True, slots=True)
class AgentTrial:
    """One agent's target-domain experiences (inputs, targets)."""

    agent_id: str
    x: np.ndarray  # (n, FEATURES)
    y: np.ndarray  # (n, OUTPUTS)


@dataclass(slots=True)
class TrialOutcome:
    """One agent's cross-validated errors per arm: summed squared error over every output of
    every held-out row, and the rows whose success was predicted on the right side of 0.5."""

    agent_id: str
    rows: int
    folds: int
    sse: dict[str, float] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def mse(self, arm: str) -> float:
        return self.sse[arm] / (self.rows * 3)

    def accuracy(self, arm: str) -> float:
        return self.hits[arm] / self.rows


def folds(n: int) -> int:
    """How many folds `n` target rows are split into (at least 2 rows are needed)."""
    return min(MAX_FOLDS, n)


def run_trials(neural: Any, population: Any, source_x: np.ndarray, source_y: np.ndarray,
               trials: Sequence[AgentTrial], arms: Sequence[str]) -> tuple[Any, float, list[TrialOutcome]]:
    """Train the source-domain brain, then cross-validate every arm for every agent. Returns the
    source weights (one network, unstacked), the source brain's final training MSE, and each
    agent's outcome."""
    import jax
    import numpy as np

    src = population.add(1)
    population.set_data(src, [neural.TrainData(source_x, source_y)])
    log = population.train(SOURCE_EPOCHS, slots=src)
    source_mse = float(log.mse[int(src[0]), int(log.epochs[int(src[0])]) - 1])
    stacked = population.get_params(src)
    start = jax.tree.map(lambda leaf: np.asarray(leaf[0]), stacked)
    outcomes = [TrialOutcome(t.agent_id, len(t.y), folds(len(t.y)), {a: 0.0 for a in arms}, {a: 0 for a in arms})
                for t in trials]
    jobs = [(i, f, arm) for i, t in enumerate(trials) for f in range(folds(len(t.y))) for arm in arms]
    room = population.capacity - 1
    for begin in range(0, len(jobs), room):
        _run_chunk(neural, population, start, trials, outcomes, jobs[begin:begin + room])
    return start, source_mse, outcomes


def _run_chunk(neural: Any, population: Any, start: Any, trials: Sequence[AgentTrial], outcomes: list[TrialOutcome],
               jobs: Sequence[tuple[int, int, str]]) -> None:
    import jax
    import numpy as np

    slots = [int(s) for s in population.add(len(jobs))]
    try:
        data, tests = [], {}
        for slot, (i, f, _) in zip(slots, jobs, strict=True):
            trial = trials[i]
            k = folds(len(trial.y))
            held = np.arange(len(trial.y)) % k == f
            data.append(neural.TrainData(trial.x[~held], trial.y[~held]))
            tests[slot] = (trial.x[held], trial.y[held])
        population.set_data(slots, data)
        transfer = [s for s, (_, _, arm) in zip(slots, jobs, strict=True) if arm != "scratch"]
        gradual = [s for s, (_, _, arm) in zip(slots, jobs, strict=True) if arm == "gradual"]

        def copies(n: int) -> Any:
            return jax.tree.map(lambda leaf: np.repeat(leaf[None], n, axis=0), start)

        if transfer:
            population.set_params(transfer, copies(len(transfer)))
        for _ in range(0, TUNE_EPOCHS, WINDOW):
            population.train(WINDOW, slots=slots)
            if gradual:
                pulled = jax.tree.map(lambda p, s: p + PULL * (s[None] - p), population.get_params(gradual), start)
                population.set_params(gradual, pulled)
        predicted = forward_rows(population, {s: x for s, (x, _) in tests.items()},
                                 batch_for(max(len(x) for x, _ in tests.values())))
        for slot, (i, _, arm) in zip(slots, jobs, strict=True):
            y = tests[slot][1]
            p = predicted[slot]
            outcomes[i].sse[arm] += float(np.sum((p - y) ** 2))
            outcomes[i].hits[arm] += int(np.sum((p[:, 0] >= 0.5) == (y[:, 0] >= 0.5)))
    finally:
        population.remove(slots)


# -- the meta-learning call (event loop) ----------------------------------------------------------------

def domain_of(text: str) -> str:
    """The task type a domain names: the type itself, or the one its words indicate.

    Raises:
        InvalidArgument: the words indicate no task type.
    """
    name = text.strip().lower()
    if name in TASK_TYPES:
        return name
    kind = classify(name.replace("_", " ").replace("-", " "))[0]
    if kind is None:
        raise InvalidArgument(f"domain {text!r} names no task type; a domain is one of {format_choices(TASK_TYPES)} "
                              "(or words that indicate one, e.g. 'unit tests' -> testing)")
    return kind


def _agents(engine: SwarmEngine, agent_ids: Sequence[str] | None, swarm_id: str | None) -> list[Agent]:
    from ._daa import daa_swarm, live_agent

    if not agent_ids:
        agents = list(daa_swarm(engine, swarm_id).live_agents())
        if not agents:
            raise Conflict("the DAA swarm has no agents; daa_agent_create some first")
        return agents
    agents = [live_agent(engine, a) for a in dict.fromkeys(agent_ids)]
    swarms = sorted({a.swarm_id for a in agents})
    if len(swarms) > 1:
        raise InvalidArgument(f"agentIds span swarms {swarms}; meta-learning works within one swarm")
    return agents


def _pooled(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows interleaved across agents (so each contributes), at most SAMPLES of them."""
    import numpy as np

    order = [(i, r) for r in range(max((len(x) for x, _ in parts), default=0)) for i, (x, _) in enumerate(parts)
             if r < len(x)][:SAMPLES]
    x = np.asarray([parts[i][0][r] for i, r in order], np.float32).reshape(-1, FEATURES)
    y = np.asarray([parts[i][1][r] for i, r in order], np.float32).reshape(-1, OUTPUTS)
    return x, y


async def meta_learn(engine: SwarmEngine, source_domain: str, target_domain: str, mode: str,
                     agent_ids: Sequence[str] | None, swarm_id: str | None, *, seed: int = 0) -> dict[str, Any]:
    """Measure transfer from the source domain to the target domain for each agent (see the module
    docstring) and apply it where it helps: an agent whose measured gain is positive gets its
    brain initialised from the source-domain weights (gradual: and regularised toward them) and
    retrained on its own experiences. `adaptive` measures both modes and takes each agent's better.

    Raises:
        InvalidArgument: unknown or equal domains, agents across swarms. Conflict: learning off, or
            no experiences of the source domain, or no agent with 2+ of the target domain.
    """
    import numpy as np

    from ._daa import brains_of, learning_swarm, settle

    source, target = domain_of(source_domain), domain_of(target_domain)
    if source == target:
        raise InvalidArgument(f"sourceDomain and targetDomain are both {source!r}; transfer needs two domains")
    agents = _agents(engine, agent_ids, swarm_id)
    swarm, settings = learning_swarm(engine, agents[0])
    brains = brains_of(engine)
    rows = {a.id: (brains.domain_rows(swarm.id, a.id, source), brains.domain_rows(swarm.id, a.id, target)) for a in agents}
    sx, sy = _pooled([(s.x, s.y) for s, _ in rows.values()])
    if not len(sx):
        raise Conflict(f"no chosen agent has experiences of the source domain {source!r}; agents learn from finished "
                       "subtasks of that type (and daa_agent_adapt feedback)")
    trials, skipped = [], []
    for agent in agents:
        t = rows[agent.id][1]
        x, y = np.concatenate([t.x, t.held_x]), np.concatenate([t.y, t.held_y])
        if len(x) < 2:
            skipped.append({"agent_id": agent.id, "reason": f"{len(x)} experience(s) of {target!r}; at least 2 are needed"})
        else:
            trials.append(AgentTrial(agent.id, x, y))
    if not trials:
        raise Conflict(f"no chosen agent has 2 or more experiences of the target domain {target!r} to measure on")
    arms = ARMS if mode == "adaptive" else ("scratch", mode)
    neural = await brains.runtime.ensure()
    population = await brains.trial(seed)
    start, source_mse, outcomes = await brains.runtime.run(run_trials, neural, population, sx, sy, trials, arms)
    report, chosen = [], {}
    for o in outcomes:
        modes = [m for m in ("direct", "gradual") if m in o.sse]
        best = min(modes, key=o.mse)
        gain = o.mse("scratch") - o.mse(best)
        if gain > 0:
            chosen[o.agent_id] = best
        report.append({"agent_id": o.agent_id, "target_rows": o.rows, "folds": o.folds, "mode": best,
                       "mse": {arm: round(o.mse(arm), 6) for arm in o.sse},
                       "accuracy": {arm: round(o.accuracy(arm), 4) for arm in o.hits},
                       "gain": round(gain, 6), "applied": gain > 0})
    for chosen_mode in ("direct", "gradual"):
        group = [a for a, m in chosen.items() if m == chosen_mode]
        if group:
            await brains.retrain_from(swarm.id, group, start, epochs=TUNE_EPOCHS,
                                      pull=PULL if chosen_mode == "gradual" else 0.0, window=WINDOW)
    for aid, snap in (await brains.snapshots(swarm.id, force=True)).items():
        engine.persist.brains[aid] = (swarm.id, snap)
    rows_total = sum(o.rows for o in outcomes)
    scratch = sum(o.sse["scratch"] for o in outcomes) / (rows_total * OUTPUTS)
    transfer = sum(o.sse[r["mode"]] for o, r in zip(outcomes, report, strict=True)) / (rows_total * OUTPUTS)
    summary = {"mse_scratch": round(scratch, 6), "mse_transfer": round(transfer, 6),
               "gain": round(scratch - transfer, 6), "relative_gain": round((scratch - transfer) / scratch, 4) if scratch else None,
               "accuracy_scratch": round(sum(o.hits["scratch"] for o in outcomes) / rows_total, 4),
               "accuracy_transfer": round(sum(o.hits[r["mode"]] for o, r in zip(outcomes, report, strict=True))
                                          / rows_total, 4)}
    engine.event("daa_meta_learning", {"source": source, "target": target, "mode": mode, "agents": len(outcomes),
                                       "gain": summary["gain"], "applied": len(chosen)}, swarm_id=swarm.id)
    return {"source_domain": source, "target_domain": target, "transfer_mode": mode, "swarm_id": swarm.id,
            "source": {"rows": len(sx), "agents": sum(1 for s, _ in rows.values() if len(s.x)),
                       "epochs": SOURCE_EPOCHS, "final_mse": round(source_mse, 6)},
            "measured": summary, "agents": report, "skipped": skipped, "agents_updated": len(chosen),
            "method": f"{MAX_FOLDS}-fold cross-validation on each agent's target rows; {TUNE_EPOCHS} epochs per arm",
            "durable": await settle(engine, settings, "learning")}
