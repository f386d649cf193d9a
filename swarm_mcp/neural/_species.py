"""Heterogeneous swarms: one `Population` ("species") per layout, driven together.

Agents of different layouts are never padded into one shape (an 8-16-4 padded to 128-64-32-8
costs 55× the FLOPs); each layout gets its own population with its own capacity bucket and
executables, and a group call runs the species one after another. One jit over the tuple of
species was measured against that (bench/neural.py, "species" rows; 3 layouts × 3,333 agents,
one epoch, 2-core CPU, two runs): from 0.79× to 1.22× as fast as separate calls depending on
the configuration and run, while it would compile again for every combination of species
capacities. It does not measurably help, so the calls stay separate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import jax
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._network import Layout
from ._population import Population, PopulationLog
from ._settings import TrainParams

__all__ = ("AgentRef", "PopulationGroup")


class AgentRef(NamedTuple):
    """Where an agent of a group lives: its species (layout) and slot."""

    layout: Layout
    slot: int


class PopulationGroup:
    """Populations keyed by layout, created on first use with the group's settings.

    Species `i` (in creation order) draws its agents from `jax.random.fold_in(key, i)`.
    """

    def __init__(
        self,
        *,
        key: jax.Array,
        training: TrainParams | None = None,
        desired_error: float = 0.0,
        samples: int = 32,
        window: int = 32,
        devices: int | Sequence[jax.Device] | None = None,
    ) -> None:
        self._key = key
        self._training = training
        self._desired_error = desired_error
        self._samples = samples
        self._window = window
        self._devices = devices
        self._species: dict[Layout, Population] = {}
        self._lock = threading.RLock()

    @property
    def species(self) -> dict[Layout, Population]:
        """The populations by layout (a new dict; the populations themselves are shared)."""
        return dict(self._species)

    @property
    def size(self) -> int:
        return sum(p.size for p in self._species.values())

    def population(self, layout: Layout, *, training: TrainParams | None = None) -> Population:
        """The species of `layout`, created empty on first use (`training` then overrides the group's)."""
        with self._lock:
            found = self._species.get(layout)
            if found is None:
                found = Population(
                    layout,
                    key=jax.random.fold_in(self._key, len(self._species)),
                    training=training or self._training,
                    desired_error=self._desired_error,
                    samples=self._samples,
                    window=self._window,
                    devices=self._devices,
                )
                self._species[layout] = found
            return found

    def add(self, layout: Layout, count: int = 1) -> list[AgentRef]:
        """Spawn `count` agents of `layout` (see `Population.add`)."""
        slots = self.population(layout).add(count)
        return [AgentRef(layout, int(s)) for s in slots]

    def remove(self, refs: Iterable[AgentRef]) -> None:
        """Remove agents (see `Population.remove`).

        Raises:
            InvalidArgument: a layout has no species here, or a slot holds no agent.
        """
        by_layout: dict[Layout, list[int]] = {}
        for ref in refs:
            by_layout.setdefault(ref.layout, []).append(ref.slot)
        for layout, slots in by_layout.items():
            self._get(layout).remove(slots)

    def train(self, epochs: int) -> dict[Layout, PopulationLog]:
        """Train every species' agents that have data for up to `epochs` epochs, species by species."""
        return {layout: pop.train(epochs) for layout, pop in self._species.items() if pop.size}

    def forward(self, inputs: Mapping[Layout, np.ndarray | jax.Array]) -> dict[Layout, jax.Array]:
        """Run the species given in `inputs` (each `(capacity, n_in)` or `(capacity, B, n_in)`).

        Raises:
            InvalidArgument: a layout has no species here, or an input shape is wrong.
        """
        return {layout: self._get(layout).forward(x) for layout, x in inputs.items()}

    def _get(self, layout: Layout) -> Population:
        found = self._species.get(layout)
        if found is None:
            known = ", ".join(str(l.sizes) for l in self._species) or "none"
            raise InvalidArgument(f"no species with layout {layout.sizes}; species here: {known}")
        return found
