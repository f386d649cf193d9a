"""An agent's experiences, kept for its brain, and what the journal stores of a brain.

A brain maps a subtask's features (`_features.FEATURES` numbers) to three predictions in
[0, 1]: success, quality and speed (`LAYOUT`). Every finished subtask becomes an experience of
its agent (features -> what happened); an agent keeps its newest `PER_TYPE` experiences of each
task type (a ring per type, so a rare kind of work is not forgotten behind a common one). Every
`HOLDOUT_EVERY`-th finished subtask of an agent (its 5th, 10th, ...) is held out instead: kept in
a ring of its newest `HOLDOUT`, never trained on, to measure the brain on work it has not
learned from. Feedback examples are always trained on. numpy is not loaded until an agent
learns something.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from ._features import FEATURES, TEXT_BUCKETS
from ._model import TASK_TYPES

if TYPE_CHECKING:
    import numpy as np

    from ..memory import BrainRecord

__all__ = ("ADAM_LEARNING_RATE", "EPOCHS_PER_ROUND", "FEATURES", "HIDDEN", "HOLDOUT", "HOLDOUT_EVERY", "LAYOUT",
           "MIN_CAPACITY", "OUTPUTS", "PER_TYPE", "SAMPLES", "STEP_HALVINGS", "TEXT_BUCKETS", "BrainSnapshot", "Buffer",
           "restore", "snapshot")

log = structlog.get_logger("swarm_mcp.swarm")

HIDDEN = 8
OUTPUTS = 3  # success, quality, speed
PER_TYPE = 6
SAMPLES = PER_TYPE * len(TASK_TYPES)
HOLDOUT_EVERY = 5  # every 5th finished subtask of an agent is held out (never trained on)
HOLDOUT = 16  # held-out experiences kept per agent (the newest)
STEP_HALVINGS = 7  # a feedback step is halved at most this often to lower the example's loss
EPOCHS_PER_ROUND = 20
MIN_CAPACITY = 64  # every swarm up to 64 agents shares one capacity bucket, so one set of compiled kernels
ADAM_LEARNING_RATE = 0.05
LAYOUT = {"sizes": [FEATURES, HIDDEN, OUTPUTS], "hidden": "sigmoid_symmetric", "output": "sigmoid",
          "algorithm": "adam", "error_function": "linear"}


@dataclass(slots=True)
class Buffer:
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
    outcomes: int = 0  # finished-subtask experiences ever (the held-out rule counts these)
    held: int = 0  # held-out experiences ever
    hx: np.ndarray | None = None  # (HOLDOUT, FEATURES), a ring
    hy: np.ndarray | None = None
    steps: int = 0  # single-example gradient steps (feedback)
    edited: bool = False  # weights changed outside training rounds (blend, transfer) since the last save
    learning_rate: float | None = None  # None: the population's default

    def allocate(self) -> tuple[np.ndarray, np.ndarray]:
        if self.x is None or self.y is None:
            import numpy as np

            self.x = np.zeros((SAMPLES, FEATURES), np.float32)
            self.y = np.zeros((SAMPLES, OUTPUTS), np.float32)
        return self.x, self.y

    def add(self, features: Sequence[float], target: Sequence[float], *, feedback: bool = False) -> bool:
        """Keep one experience; returns True when it was held out (never trained on)."""
        if not feedback:
            self.outcomes += 1
            if self.outcomes % HOLDOUT_EVERY == 0:
                self._hold_out(features, target)
                return True
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
        return False

    def _hold_out(self, features: Sequence[float], target: Sequence[float]) -> None:
        import numpy as np

        if self.hx is None or self.hy is None:
            self.hx = np.zeros((HOLDOUT, FEATURES), np.float32)
            self.hy = np.zeros((HOLDOUT, OUTPUTS), np.float32)
        self.hx[self.held % HOLDOUT] = features
        self.hy[self.held % HOLDOUT] = target
        self.held += 1
        if self.trained_on == self.seen:  # nothing new to train on
            self.trained_on += 1
        self.seen += 1

    def heldout_rows(self) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        if self.hx is None or self.hy is None:
            return np.zeros((0, FEATURES), np.float32), np.zeros((0, OUTPUTS), np.float32)
        n = min(self.held, HOLDOUT)
        return self.hx[:n].copy(), self.hy[:n].copy()

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


def snapshot(buffer: Buffer, leaves: list[np.ndarray]) -> BrainSnapshot:
    import numpy as np

    params = b"".join(leaf.astype(np.float32).tobytes() for leaf in leaves)
    x, y = buffer.allocate()
    meta = {"layout": LAYOUT, "leaf_sizes": [int(leaf.size) for leaf in leaves], "seen": buffer.seen,
            "per_type": list(buffer.per_type or [0] * len(TASK_TYPES)),
            "trained_on": buffer.trained_on, "rounds": buffer.rounds,
            "losses": [list(point) for point in buffer.losses or ()], "outcomes": buffer.outcomes,
            "held": buffer.held, "steps": buffer.steps}
    experiences = x.tobytes() + y.tobytes()
    if buffer.hx is not None and buffer.hy is not None:
        experiences += buffer.hx.tobytes() + buffer.hy.tobytes()
    return BrainSnapshot(params, experiences, meta)


def restore(buffer: Buffer, saved: BrainRecord) -> None:
    import numpy as np

    meta = saved.meta
    if meta.get("layout") != LAYOUT:
        log.warning("brain_layout_changed", agent_id=saved.agent_id, detail="the saved brain is ignored")
        return
    raw = np.frombuffer(saved.experiences, np.float32)
    trained, held = SAMPLES * (FEATURES + OUTPUTS), HOLDOUT * (FEATURES + OUTPUTS)
    if raw.size in (trained, trained + held):
        x, y = buffer.allocate()
        x[:] = raw[: SAMPLES * FEATURES].reshape(SAMPLES, FEATURES)
        y[:] = raw[SAMPLES * FEATURES:trained].reshape(SAMPLES, OUTPUTS)
    if raw.size == trained + held:
        buffer.hx = raw[trained:trained + HOLDOUT * FEATURES].reshape(HOLDOUT, FEATURES).copy()
        buffer.hy = raw[trained + HOLDOUT * FEATURES:].reshape(HOLDOUT, OUTPUTS).copy()
        buffer.held = int(meta.get("held", 0))
    buffer.seen = buffer.saved_at = int(meta.get("seen", 0))
    buffer.outcomes = int(meta.get("outcomes", buffer.seen))
    buffer.steps = int(meta.get("steps", 0))
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
