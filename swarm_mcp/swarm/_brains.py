"""Agent brains: one small FANN network per agent, kept in one `neural` population per swarm.

A brain maps a subtask's features (`_features.FEATURES` numbers) to three predictions in
[0, 1]: success, quality and speed. Every finished subtask becomes an experience of its agent
(features -> what happened); an agent keeps its newest `PER_TYPE` experiences of each task
type (a ring per type, so a rare kind of work is not forgotten behind a common one). Brains
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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import structlog

from ..neural_runtime import NeuralRuntime
from ._features import FEATURES, TEXT_BUCKETS
from ._model import TASK_TYPES

if TYPE_CHECKING:
    import numpy as np

    from ..memory import BrainRecord

__all__ = ("Brains", "BrainSnapshot", "OUTPUTS", "SAMPLES", "HIDDEN")

log = structlog.get_logger("swarm_mcp.swarm")

HIDDEN = 8
OUTPUTS = 3  # success, quality, speed
PER_TYPE = 6
SAMPLES = PER_TYPE * len(TASK_TYPES)
EPOCHS_PER_ROUND = 20
MIN_CAPACITY = 64  # every swarm up to 64 agents shares one capacity bucket, so one set of compiled kernels
ADAM_LEARNING_RATE = 0.05
LAYOUT = {"sizes": [FEATURES, HIDDEN, OUTPUTS], "hidden": "sigmoid_symmetric", "output": "sigmoid",
          "algorithm": "adam", "error_function": "linear"}


@dataclass(slots=True)
class _Buffer:
    """An agent's newest experiences, PER_TYPE rows per task type (allocated on the first one;
    numpy is not loaded until an agent learns something), and what it has learned."""

    x: np.ndarray | None = None
    y: np.ndarray | None = None
    per_type: list[int] | None = None  # experiences of each task type
    seen: int = 0  # experiences ever recorded
    trained_on: int = 0  # `seen` at the last training round
    saved_at: int = 0  # `seen` at the last save
    rounds: int = 0
    losses: deque[tuple[int, float, float]] | None = None  # (seen, before, after) per round, made on the first
    slot: int | None = None
    saved_params: list[np.ndarray] | None = None  # restored weights waiting for the population

    def allocate(self) -> tuple[np.ndarray, np.ndarray]:
        if self.x is None or self.y is None:
            import numpy as np

            self.x = np.zeros((SAMPLES, FEATURES), np.float32)
            self.y = np.zeros((SAMPLES, OUTPUTS), np.float32)
        return self.x, self.y

    def add(self, features: Sequence[float], target: Sequence[float]) -> None:
        x, y = self.allocate()
        one_hot = features[TEXT_BUCKETS:TEXT_BUCKETS + len(TASK_TYPES)]
        kind = max(range(len(TASK_TYPES)), key=lambda i: one_hot[i])
        if self.per_type is None:
            self.per_type = [0] * len(TASK_TYPES)
        row = kind * PER_TYPE + self.per_type[kind] % PER_TYPE
        x[row] = features
        y[row] = target
        self.per_type[kind] += 1
        self.seen += 1

    def record_loss(self, seen: int, before: float, after: float) -> None:
        if self.losses is None:
            self.losses = deque(maxlen=50)
        self.losses.append((seen, before, after))

    def filled(self) -> list[int]:
        return [k * PER_TYPE + i for k, n in enumerate(self.per_type or ()) for i in range(min(n, PER_TYPE))]

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.allocate()
        rows = self.filled()
        return x[rows].copy(), y[rows].copy()


@dataclass(frozen=True, slots=True)
class BrainSnapshot:
    """What the journal stores for one brain."""

    params: bytes
    experiences: bytes
    meta: dict[str, Any]


class _Pool:
    """One swarm's brains: host-side buffers and, once needed, the population."""

    def __init__(self) -> None:
        self.buffers: dict[str, _Buffer] = {}
        self.population: Any = None
        self.lock = anyio.Lock()  # one change, training round or forward pass at a time
        self.adds: list[str] = []
        self.removes: list[int] = []
        self.free_slots: list[int] = []


def _apply_changes(neural: Any, pool: _Pool, adds: list[tuple[str, list[np.ndarray] | None]], removes: list[int],
                   data: list[tuple[str, np.ndarray, np.ndarray]], slots: dict[str, int]) -> dict[str, int]:
    """In a worker: create the population if needed, add and remove agents, set their data.
    Returns the slots of the agents added."""
    import jax
    import numpy as np

    if pool.population is None:
        layout = neural.create_standard(LAYOUT["sizes"], key=jax.random.key(0), activation_hidden="SIGMOID_SYMMETRIC",
                                        activation_output="SIGMOID").layout
        training = neural.TrainParams(algorithm=neural.Algorithm.ADAM, error_function=neural.ErrorFunction.LINEAR,
                                      adam_learning_rate=ADAM_LEARNING_RATE)
        pool.population = neural.create_population(
            layout, 0, key=jax.random.key(int.from_bytes(np.random.default_rng().bytes(4), "little")),
            training=training, samples=SAMPLES, window=EPOCHS_PER_ROUND,
            capacity=neural.capacity_for(max(len(adds), MIN_CAPACITY), len(jax.local_devices())),
        )
    population = pool.population
    if removes:
        population.remove(removes)
    added: dict[str, int] = {}
    if adds:
        new_slots = population.add(len(adds))
        restored = [(int(slot), saved) for (agent_id, saved), slot in zip(adds, new_slots, strict=True) if saved is not None]
        for (agent_id, _), slot in zip(adds, new_slots, strict=True):
            added[agent_id] = int(slot)
        if restored:
            template = population.get_params([s for s, _ in restored])
            treedef = jax.tree.structure(template)
            shapes = [leaf.shape[1:] for leaf in jax.tree.leaves(template)]
            stacked = [np.stack([saved[i].reshape(shape) for _, saved in restored]) for i, shape in enumerate(shapes)]
            population.set_params([s for s, _ in restored], jax.tree.unflatten(treedef, stacked))
    if data:
        all_slots = {**slots, **added}
        population.set_data([all_slots[a] for a, _, _ in data],
                            [neural.TrainData(x, y) for _, x, y in data])
    return added


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
        buffer = _Buffer()
        if saved is not None:
            _restore(buffer, saved)
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
        pool = self._pools.get(swarm_id)
        buffer = pool.buffers.get(agent_id) if pool else None
        return buffer is not None and buffer.rounds > 0

    def agent(self, swarm_id: str, agent_id: str) -> dict[str, Any]:
        """An agent's learning facts: experiences, rounds, the loss history, whether it is saved."""
        pool = self._pools.get(swarm_id)
        buffer = pool.buffers.get(agent_id) if pool else None
        if buffer is None:
            return {"experiences": 0, "training_rounds": 0, "loss": None, "loss_history": []}
        return {
            "experiences": buffer.seen,
            "buffered": len(buffer.filled()),
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

    def _take(self, pool: _Pool, *, with_data: Sequence[str]) -> tuple[list[tuple[str, list[np.ndarray] | None]], list[int], list[tuple[str, np.ndarray, np.ndarray]], dict[str, int]]:
        adds = [(a, pool.buffers[a].saved_params) for a in pool.adds if a in pool.buffers]
        removes = pool.removes
        pool.adds, pool.removes = [], []
        data = []
        for agent_id in with_data:
            buffer = pool.buffers.get(agent_id)
            if buffer is not None and buffer.seen:
                data.append((agent_id, *buffer.rows()))
        slots = {a: b.slot for a, b in pool.buffers.items() if b.slot is not None}
        return adds, removes, data, slots

    async def _sync(self, swarm_id: str, pool: _Pool, with_data: Sequence[str]) -> None:
        adds, removes, data, slots = self._take(pool, with_data=with_data)
        neural = await self.runtime.ensure()
        added = await self.runtime.run(_apply_changes, neural, pool, adds, removes, data, slots)
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
            if pool.adds or pool.removes:
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

    async def snapshots(self, swarm_id: str, *, force: bool = False) -> dict[str, BrainSnapshot]:
        """Brains due for saving (every `save_every` experiences, or all with news when `force`)."""
        pool = self._pools.get(swarm_id)
        if pool is None or pool.population is None:
            return {}
        due = [a for a, b in pool.buffers.items() if b.slot is not None
               and (b.seen - b.saved_at >= self.save_every or (force and b.seen > b.saved_at))]
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
            buffer.saved_at = buffer.seen
            out[agent_id] = _snapshot(buffer, leaves)
        return out


def _snapshot(buffer: _Buffer, leaves: list[np.ndarray]) -> BrainSnapshot:
    import numpy as np

    params = b"".join(leaf.astype(np.float32).tobytes() for leaf in leaves)
    x, y = buffer.allocate()
    meta = {"layout": LAYOUT, "leaf_sizes": [int(leaf.size) for leaf in leaves], "seen": buffer.seen,
            "per_type": list(buffer.per_type or [0] * len(TASK_TYPES)),
            "trained_on": buffer.trained_on, "rounds": buffer.rounds,
            "losses": [list(point) for point in buffer.losses or ()]}
    return BrainSnapshot(params, x.tobytes() + y.tobytes(), meta)


def _restore(buffer: _Buffer, saved: BrainRecord) -> None:
    import numpy as np

    meta = saved.meta
    if meta.get("layout") != LAYOUT:
        log.warning("brain_layout_changed", agent_id=saved.agent_id, detail="the saved brain is ignored")
        return
    raw = np.frombuffer(saved.experiences, np.float32)
    if raw.size == SAMPLES * (FEATURES + OUTPUTS):
        x, y = buffer.allocate()
        x[:] = raw[: SAMPLES * FEATURES].reshape(SAMPLES, FEATURES)
        y[:] = raw[SAMPLES * FEATURES:].reshape(SAMPLES, OUTPUTS)
    buffer.seen = buffer.saved_at = int(meta.get("seen", 0))
    per_type = [int(n) for n in meta.get("per_type", ())]
    if len(per_type) == len(TASK_TYPES):
        buffer.per_type = per_type
    buffer.trained_on = int(meta.get("trained_on", 0))
    buffer.rounds = int(meta.get("rounds", 0))
    for point in meta.get("losses", ()):
        if len(point) >= 2:
            buffer.record_loss(int(point[0]), float(point[1]), float(point[-1]))
    flat = np.frombuffer(saved.params, np.float32)
    leaves, start = [], 0
    for size in meta.get("leaf_sizes", ()):
        leaves.append(flat[start:start + size].copy())
        start += size
    buffer.saved_params = leaves if start == flat.size and leaves else None
