"""Agent brains: one small FANN network per agent, kept in one `neural` population per swarm.

A brain maps a subtask's features to three predictions in [0, 1]: success, quality and speed,
learned from its agent's experiences (`_experience`: rings per task type, every 5th finished
subtask held out to measure it with `holdout`; feedback examples taken at once with `step`). Brains
train in batched, vmapped RPROP rounds over every agent with new experiences at once, off the
event loop, on the daemon's shared `NeuralRuntime`; routing asks one forward pass for all
candidates. A population is created the first time its swarm has something to learn, so a
swarm that never learns never loads JAX; agents joining or leaving write rows in place
(capacity buckets, no recompile within a bucket).

The event loop owns the host-side state (slots, buffers, pending changes); worker threads get
snapshots of the pending changes and apply them to the population under its own lock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from ..neural_runtime import NeuralRuntime
from ._brain_kernels import apply_changes, batch_for, feedback_kernel, flat_params, forward_rows, new_population
from ._experience import (
    ADAM_LEARNING_RATE,
    EPOCHS_PER_ROUND,
    FEATURES,
    HIDDEN,
    HOLDOUT,
    HOLDOUT_EVERY,
    LAYOUT,
    OUTPUTS,
    PER_TYPE,
    SAMPLES,
    TEXT_BUCKETS,
    BrainSnapshot,
    Buffer,
    restore,
    snapshot,
)
from ._model import TASK_TYPES

if TYPE_CHECKING:
    import numpy as np

    from ..memory import BrainRecord

__all__ = ("ADAM_LEARNING_RATE", "HIDDEN", "HOLDOUT", "HOLDOUT_EVERY", "OUTPUTS", "SAMPLES", "Blend", "BrainSnapshot",
           "Brains", "DomainRows", "Heldout", "Step")


@dataclass(frozen=True, slots=True)
class Step:
    """One gradient step on one example: the predictions (success, quality, speed) and the
    example's MSE before and after it."""

    before: list[float]
    after: list[float]
    target: list[float]
    loss_before: float
    loss_after: float
    step_size: float  # the learning rate, halved as often as the loss needed; 0: no step lowered it


@dataclass(frozen=True, slots=True)
class Blend:
    """How one brain changed when blended toward another: the mean and largest absolute change
    of its predicted success over the probe set, and its weights' L2 distance to the source."""

    mean_change: float
    max_change: float
    distance_before: float
    distance_after: float


@dataclass(frozen=True, slots=True)
class Heldout:
    """A brain measured on its held-out experiences: how many, the share whose success it
    predicts on the right side of 0.5, and the MSE over its three outputs."""

    count: int
    accuracy: float | None
    mse: float | None


@dataclass(frozen=True, slots=True)
class DomainRows:
    """An agent's experiences of one task type: trained-on rows and held-out rows."""

    x: np.ndarray  # (n, FEATURES)
    y: np.ndarray  # (n, OUTPUTS)
    held_x: np.ndarray
    held_y: np.ndarray


class _Pool:
    """One swarm's brains: host-side buffers and, once needed, the population."""

    def __init__(self) -> None:
        self.buffers: dict[str, Buffer] = {}
        self.population: Any = None
        self.lock = anyio.Lock()  # one change, training round or forward pass at a time
        self.adds: list[str] = []
        self.removes: list[int] = []
        self.free_slots: list[int] = []
        self.rates: set[str] = set()  # agents whose learning rate waits for the population


class Brains:
    """Every swarm's agent brains, on the daemon's neural runtime."""

    def __init__(self, runtime: NeuralRuntime, *, save_every: int = 16) -> None:
        self.runtime = runtime
        self.save_every = save_every
        self._pools: dict[str, _Pool] = {}
        self.rounds = 0
        self.trained_agent_rounds = 0
        self.train_seconds = 0.0

    # -- host-side bookkeeping (event loop) ----------------------------------------------------

    def add_agent(self, swarm_id: str, agent_id: str, saved: BrainRecord | None = None) -> None:
        pool = self._pools.setdefault(swarm_id, _Pool())
        buffer = Buffer()
        if saved is not None:
            restore(buffer, saved)
        pool.buffers[agent_id] = buffer
        pool.adds.append(agent_id)

    def remove_agent(self, swarm_id: str, agent_id: str) -> None:
        pool = self._pools.get(swarm_id)
        if pool is None or agent_id not in pool.buffers:
            return
        buffer = pool.buffers.pop(agent_id)
        if buffer.slot is not None:
            pool.removes.append(buffer.slot)
        elif agent_id in pool.adds:
            pool.adds.remove(agent_id)

    def drop_swarm(self, swarm_id: str) -> None:
        self._pools.pop(swarm_id, None)

    def record(self, swarm_id: str, agent_id: str, features: Sequence[float], target: Sequence[float]) -> None:
        pool = self._pools.get(swarm_id)
        if pool is not None and agent_id in pool.buffers:
            pool.buffers[agent_id].add(features, target)

    def trained(self, swarm_id: str, agent_id: str) -> bool:
        buffer = self._buffer(swarm_id, agent_id)
        return buffer is not None and (buffer.rounds > 0 or buffer.steps > 0)

    def _buffer(self, swarm_id: str, agent_id: str) -> Buffer | None:
        pool = self._pools.get(swarm_id)
        return pool.buffers.get(agent_id) if pool else None

    def set_learning_rate(self, swarm_id: str, agent_id: str, rate: float) -> None:
        """The agent's own Adam learning rate, for its training rounds and feedback steps
        (applied to the population at its next use)."""
        pool = self._pools.get(swarm_id)
        if pool is None or agent_id not in pool.buffers:
            return
        pool.buffers[agent_id].learning_rate = rate
        pool.rates.add(agent_id)

    def learning_rate(self, swarm_id: str, agent_id: str) -> float:
        buffer = self._buffer(swarm_id, agent_id)
        return buffer.learning_rate if buffer is not None and buffer.learning_rate is not None else ADAM_LEARNING_RATE

    def domain_rows(self, swarm_id: str, agent_id: str, task_type: str) -> DomainRows:
        """The agent's experiences of one task type (copies): trained-on rows and held-out rows."""
        import numpy as np

        buffer = self._buffer(swarm_id, agent_id)
        kind = TASK_TYPES.index(task_type)
        if buffer is None or buffer.x is None or buffer.y is None:
            empty_x, empty_y = np.zeros((0, FEATURES), np.float32), np.zeros((0, OUTPUTS), np.float32)
            return DomainRows(empty_x, empty_y, empty_x, empty_y)
        n = min((buffer.per_type or [0] * len(TASK_TYPES))[kind], PER_TYPE)
        rows = slice(kind * PER_TYPE, kind * PER_TYPE + n)
        hx, hy = buffer.heldout_rows()
        mine = hx[:, TEXT_BUCKETS + kind] > 0.5
        return DomainRows(buffer.x[rows].copy(), buffer.y[rows].copy(), hx[mine], hy[mine])

    def agent(self, swarm_id: str, agent_id: str) -> dict[str, Any]:
        """An agent's learning facts: experiences, rounds, the loss history, whether it is saved."""
        pool = self._pools.get(swarm_id)
        buffer = pool.buffers.get(agent_id) if pool else None
        if buffer is None:
            return {"experiences": 0, "training_rounds": 0, "loss": None, "loss_history": []}
        return {
            "experiences": buffer.seen,
            "buffered": len(buffer.filled()),
            "held_out": min(buffer.held, HOLDOUT),
            "feedback_steps": buffer.steps,
            "training_rounds": buffer.rounds,
            "untrained_experiences": buffer.seen - buffer.trained_on,
            "loss": round(buffer.losses[-1][2], 8) if buffer.losses else None,
            "loss_history": [{"experiences": n, "mse_before": round(before, 6), "mse": round(after, 8)}
                             for n, before, after in buffer.losses or ()],
            "saved_at_experience": buffer.saved_at,
        }

    def status(self) -> dict[str, Any]:
        pools = {sid: pool for sid, pool in self._pools.items() if pool.population is not None}
        return {
            "layout": LAYOUT,
            "populations": [
                {"swarm_id": sid, "agents": pool.population.size, "capacity": pool.population.capacity,
                 "devices": len(pool.population.devices)}
                for sid, pool in pools.items()
            ],
            "training_rounds": self.rounds,
            "agent_rounds": self.trained_agent_rounds,
            "train_seconds": round(self.train_seconds, 3),
        }

    # -- compute (worker threads) --------------------------------------------------------------

    def _take(self, pool: _Pool, *, with_data: Sequence[str]) -> tuple[list[tuple[str, list[np.ndarray] | None]], list[int], list[tuple[str, np.ndarray, np.ndarray]], dict[str, int], list[tuple[str, float]]]:
        adds = [(a, pool.buffers[a].saved_params) for a in pool.adds if a in pool.buffers]
        removes = pool.removes
        pool.adds, pool.removes = [], []
        rates = [(a, rate) for a in pool.rates if a in pool.buffers and (rate := pool.buffers[a].learning_rate) is not None]
        pool.rates = set()
        data = []
        for agent_id in with_data:
            buffer = pool.buffers.get(agent_id)
            if buffer is not None and buffer.seen:
                data.append((agent_id, *buffer.rows()))
        slots = {a: b.slot for a, b in pool.buffers.items() if b.slot is not None}
        return adds, removes, data, slots, rates

    async def _sync(self, swarm_id: str, pool: _Pool, with_data: Sequence[str]) -> None:
        adds, removes, data, slots, rates = self._take(pool, with_data=with_data)
        neural = await self.runtime.ensure()
        added = await self.runtime.run(apply_changes, neural, pool, adds, removes, data, slots, rates)
        for agent_id, slot in added.items():
            buffer = pool.buffers.get(agent_id)
            if buffer is None:  # removed while the worker ran
                pool.removes.append(slot)
            else:
                buffer.slot, buffer.saved_params = slot, None

    def pending(self) -> list[tuple[str, list[str]]]:
        """Swarms with agents holding experiences not trained on yet: (swarm, agents)."""
        out = []
        for swarm_id, pool in self._pools.items():
            agents = [a for a, b in pool.buffers.items() if b.seen > b.trained_on]
            if agents:
                out.append((swarm_id, agents))
        return out

    async def train(self, swarm_id: str, agent_ids: Sequence[str] | None = None, *,
                    epochs: int = EPOCHS_PER_ROUND) -> dict[str, list[float]]:
        """Train the agents (default: those with untrained experiences) for `epochs` epochs in one
        batched call; returns each agent's MSE per epoch."""
        pool = self._pools.get(swarm_id)
        if pool is None:
            return {}
        async with pool.lock:  # choose inside the lock: a round that ran meanwhile has trained them
            chosen = [a for a in (agent_ids if agent_ids is not None else pool.buffers) if a in pool.buffers
                      and pool.buffers[a].seen > 0]
            if agent_ids is None:
                chosen = [a for a in chosen if pool.buffers[a].seen > pool.buffers[a].trained_on]
            if not chosen:
                return {}
            seen = {a: pool.buffers[a].seen for a in chosen}
            await self._sync(swarm_id, pool, chosen)
            slots = {a: pool.buffers[a].slot for a in chosen if a in pool.buffers and pool.buffers[a].slot is not None}
            if not slots:
                return {}
            population = pool.population

            def run() -> Any:
                return population.train(epochs, slots=list(slots.values()))

            started = time.perf_counter()
            result = await self.runtime.run(run)
            self.train_seconds += time.perf_counter() - started
            self.rounds += 1
            out: dict[str, list[float]] = {}
            for agent_id, slot in slots.items():
                buffer = pool.buffers.get(agent_id)
                if buffer is None:
                    continue
                ran = int(result.epochs[slot])
                history = [float(v) for v in result.mse[slot, :ran]]
                out[agent_id] = history
                if history and math.isfinite(history[-1]):
                    buffer.record_loss(seen[agent_id], history[0], history[-1])
                buffer.rounds += 1
                buffer.trained_on = max(buffer.trained_on, seen[agent_id])
                self.trained_agent_rounds += 1
            return out

    async def predict(self, swarm_id: str, agent_ids: Sequence[str], features: Sequence[Sequence[float]]) -> np.ndarray | None:
        """Predictions `(len(agent_ids), len(features), OUTPUTS)` from one forward pass of the
        swarm's population, or None when the swarm has no population yet."""
        import numpy as np

        pool = self._pools.get(swarm_id)
        if pool is None or pool.population is None:
            return None
        rows = np.asarray(features, np.float32)
        batch = 1 << max(0, len(rows) - 1).bit_length()  # a few shapes only: no recompile per batch size
        padded = np.zeros((batch, FEATURES), np.float32)
        padded[: len(rows)] = rows
        async with pool.lock:
            if pool.adds or pool.removes or pool.rates:
                await self._sync(swarm_id, pool, ())
            population = pool.population
            slots = [pool.buffers[a].slot if a in pool.buffers else None for a in agent_ids]

            def run() -> np.ndarray:
                x = np.broadcast_to(padded, (population.capacity, batch, FEATURES))
                return np.asarray(population.forward(np.ascontiguousarray(x)))

            out = await self.runtime.run(run)
        result = np.full((len(agent_ids), len(rows), OUTPUTS), np.nan, np.float32)
        for i, slot in enumerate(slots):
            if slot is not None:
                result[i] = out[slot, : len(rows)]
        return result

    async def _ready(self, swarm_id: str, pool: _Pool) -> Any:
        """Under the pool's lock: the population with every agent placed (its module loaded)."""
        await self._sync(swarm_id, pool, ())
        return await self.runtime.ensure()

    async def step(self, swarm_id: str, agent_id: str, features: Sequence[float], target: Sequence[float]) -> Step | None:
        """Take one gradient step on the one example `features -> target` now, and keep it as a
        feedback experience, which the next training round trains on with the rest.

        The step is Adam's first update from a fresh state (momentum from earlier rounds would
        drown this one example): each weight moves against the sign of its gradient of the
        example's MSE, by the agent's learning rate, halved until that loss falls (at most
        `STEP_HALVINGS` times; no step when none falls). A NaN target means "no evidence": that
        output's target is the brain's own prediction. None when the agent has no brain here."""
        import numpy as np

        pool = self._pools.get(swarm_id)
        buffer = pool.buffers.get(agent_id) if pool else None
        if pool is None or buffer is None:
            return None
        x1 = np.asarray(features, np.float32)
        wanted = np.asarray(target, np.float32)
        rate = self.learning_rate(swarm_id, agent_id)
        async with pool.lock:
            neural = await self._ready(swarm_id, pool)
            slot, population = buffer.slot, pool.population
            if slot is None:
                return None

            def run() -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]:
                import jax

                stacked = population.get_params([slot])
                params = jax.tree.map(lambda leaf: leaf[0], stacked)
                before = np.asarray(neural.forward(population.layout, params, x1))
                used = np.where(np.isnan(wanted), before, wanted).astype(np.float32)
                moved, after, loss_before, loss_after, size = feedback_kernel(neural, population.layout)(
                    params, x1, used, np.float32(rate))
                population.set_params([slot], jax.tree.map(lambda leaf: np.asarray(leaf)[None], moved))
                return before, np.asarray(after), used, float(loss_before), float(loss_after), float(size)

            before, after, used, loss_before, loss_after, size = await self.runtime.run(run)
            buffer.add(features, [float(v) for v in used], feedback=True)
        buffer.steps += 1
        buffer.edited = True
        return Step([float(v) for v in before], [float(v) for v in after], [float(v) for v in used],
                    loss_before, loss_after, size)

    async def blend(self, swarm_id: str, source_id: str, weights: Mapping[str, float],
                    probes: Sequence[Sequence[float]]) -> dict[str, Blend]:
        """Move each target's weights toward the source's: `target = (1 - w) * target + w * source`
        (their optimizer state restarts). Reports how each target's predicted success over
        `probes` changed and its distance to the source before and after."""
        import numpy as np

        pool = self._pools.get(swarm_id)
        if pool is None or source_id not in pool.buffers:
            return {}
        targets = [a for a in weights if a in pool.buffers and a != source_id]
        if not targets:
            return {}
        probe = np.asarray(probes, np.float32)
        async with pool.lock:
            await self._ready(swarm_id, pool)
            population = pool.population
            src = pool.buffers[source_id].slot
            slots = [pool.buffers[a].slot for a in targets]
            if src is None or any(s is None for s in slots):
                return {}
            w = np.asarray([weights[a] for a in targets], np.float32)

            def run() -> dict[str, Blend]:
                import jax

                everyone = [src, *slots]
                before = forward_rows(population, {s: probe for s in everyone}, batch_for(len(probe)))
                params = population.get_params(everyone)

                def mix(leaf: np.ndarray) -> np.ndarray:
                    share = w.reshape((-1,) + (1,) * (leaf.ndim - 1))
                    return ((1.0 - share) * leaf[1:] + share * leaf[:1]).astype(leaf.dtype)

                blended = jax.tree.map(mix, params)
                population.set_params(slots, blended)
                after = forward_rows(population, {s: probe for s in slots}, batch_for(len(probe)))
                source_flat = flat_params(params, 0)
                out = {}
                for i, (agent_id, slot) in enumerate(zip(targets, slots, strict=True)):
                    change = np.abs(after[slot][:, 0] - before[slot][:, 0])
                    out[agent_id] = Blend(float(change.mean()), float(change.max()),
                                          float(np.linalg.norm(flat_params(params, i + 1) - source_flat)),
                                          float(np.linalg.norm(flat_params(blended, i) - source_flat)))
                return out

            result = await self.runtime.run(run)
        for agent_id in result:
            if agent_id in pool.buffers:
                pool.buffers[agent_id].edited = True
        return result

    async def holdout(self, swarm_id: str, agent_ids: Sequence[str]) -> dict[str, Heldout]:
        """Each agent's brain on its own held-out experiences (which it never trained on), in one
        forward pass."""
        import numpy as np

        pool = self._pools.get(swarm_id)
        if pool is None:
            return {}
        held = {a: pool.buffers[a].heldout_rows() for a in agent_ids if a in pool.buffers}
        out = {a: Heldout(0, None, None) for a, (hx, _) in held.items() if not len(hx)}
        todo = {a: rows for a, rows in held.items() if len(rows[0])}
        if not todo:
            return out
        async with pool.lock:
            await self._ready(swarm_id, pool)
            population = pool.population
            slots = {a: pool.buffers[a].slot for a in todo if pool.buffers.get(a) is not None}

            def run() -> dict[int, np.ndarray]:
                return forward_rows(population, {s: todo[a][0] for a, s in slots.items() if s is not None}, HOLDOUT)

            predicted = await self.runtime.run(run)
        for agent_id, slot in slots.items():
            if slot is None:
                continue
            y = todo[agent_id][1]
            p = predicted[slot]
            hits = (p[:, 0] >= 0.5) == (y[:, 0] >= 0.5)
            out[agent_id] = Heldout(len(y), float(hits.mean()), float(np.mean((p - y) ** 2)))
        return out

    async def retrain_from(self, swarm_id: str, agent_ids: Sequence[str], start: Any, *, epochs: int,
                           pull: float = 0.0, window: int = 5) -> dict[str, float]:
        """Give the agents the weights `start` (one network, unstacked) and train each on its own
        experiences for `epochs` epochs; with `pull` > 0, after every `window` epochs the weights
        move that share of the way back to `start` (regularised toward it). Returns each
        agent's final MSE on its experiences; the round is counted and its loss recorded."""
        import jax
        import numpy as np

        pool = self._pools.get(swarm_id)
        chosen = [a for a in agent_ids if pool is not None and a in pool.buffers and pool.buffers[a].seen > 0]
        if pool is None or not chosen:
            return {}
        async with pool.lock:
            await self._sync(swarm_id, pool, chosen)
            population = pool.population
            slots = [pool.buffers[a].slot for a in chosen]
            seen = {a: pool.buffers[a].seen for a in chosen}

            def run() -> list[tuple[float, float]]:
                stacked = jax.tree.map(lambda leaf: np.repeat(np.asarray(leaf)[None], len(slots), axis=0), start)
                population.set_params(slots, stacked)
                first = last = None
                for done in range(0, epochs, window):
                    log = population.train(min(window, epochs - done), slots=slots)
                    if first is None:
                        first = log.mse[slots, 0].copy()
                    last = log.mse[slots, log.epochs[slots] - 1].copy()
                    if pull > 0:
                        moved = jax.tree.map(lambda p, s: p + pull * (s[None] - p), population.get_params(slots), start)
                        population.set_params(slots, moved)
                assert first is not None and last is not None
                return [(float(a), float(b)) for a, b in zip(first, last, strict=True)]

            losses = await self.runtime.run(run)
        out = {}
        for agent_id, (before, after) in zip(chosen, losses, strict=True):
            buffer = pool.buffers.get(agent_id)
            if buffer is None:
                continue
            buffer.rounds += 1
            buffer.edited = True
            buffer.trained_on = max(buffer.trained_on, seen[agent_id])
            if math.isfinite(after):
                buffer.record_loss(seen[agent_id], before, after)
            out[agent_id] = after
        self.rounds += 1
        return out

    async def trial(self, seed: int) -> Any:
        """A private population for experiments (meta-learning trials), with the brains' layout
        and compiled kernels; use it only inside `self.runtime.run`."""
        neural = await self.runtime.ensure()

        def make() -> Any:
            import jax

            return new_population(neural, jax.random.key(seed))

        return await self.runtime.run(make)

    async def snapshots(self, swarm_id: str, *, force: bool = False) -> dict[str, BrainSnapshot]:
        """Brains due for saving (every `save_every` experiences, or all with news when `force`)."""
        pool = self._pools.get(swarm_id)
        if pool is None or pool.population is None:
            return {}
        due = [a for a, b in pool.buffers.items() if b.slot is not None
               and (b.seen - b.saved_at >= self.save_every or (force and (b.seen > b.saved_at or b.edited)))]
        if not due:
            return {}
        population = pool.population
        slots = [pool.buffers[a].slot for a in due]

        def run() -> list[list[np.ndarray]]:
            import jax
            import numpy as np

            params = population.get_params(slots)
            leaves = [np.asarray(leaf, np.float32) for leaf in jax.tree.leaves(params)]
            return [[leaf[i] for leaf in leaves] for i in range(len(slots))]

        async with pool.lock:
            per_agent = await self.runtime.run(run)
        out = {}
        for agent_id, leaves in zip(due, per_agent, strict=True):
            buffer = pool.buffers.get(agent_id)
            if buffer is None:
                continue
            buffer.saved_at, buffer.edited = buffer.seen, False
            out[agent_id] = snapshot(buffer, leaves)
        return out


