"""Brain computations that run in worker threads: making a population of brains, running each
slot's brain on its own rows, the one-example feedback step, applying the event loop's pending
changes to a population, and flattening weights. Nothing here touches host-side bookkeeping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._experience import ADAM_LEARNING_RATE, EPOCHS_PER_ROUND, FEATURES, LAYOUT, MIN_CAPACITY, SAMPLES, STEP_HALVINGS

if TYPE_CHECKING:
    import numpy as np

__all__ = ("apply_changes", "batch_for", "feedback_kernel", "flat_params", "forward_rows", "new_population")


def new_population(neural: Any, key: Any, size: int = 0) -> Any:
    """A population of brains: every swarm's and every trial's has the same layout, training,
    samples, window and capacity, so they share one set of compiled kernels."""
    import jax

    layout = neural.create_standard(LAYOUT["sizes"], key=jax.random.key(0), activation_hidden="SIGMOID_SYMMETRIC",
                                    activation_output="SIGMOID").layout
    training = neural.TrainParams(algorithm=neural.Algorithm.ADAM, error_function=neural.ErrorFunction.LINEAR,
                                  adam_learning_rate=ADAM_LEARNING_RATE)
    return neural.create_population(
        layout, 0, key=key, training=training, samples=SAMPLES, window=EPOCHS_PER_ROUND,
        capacity=neural.capacity_for(max(size, MIN_CAPACITY), len(jax.local_devices())),
    )


def forward_rows(population: Any, rows: Mapping[int, np.ndarray], batch: int) -> dict[int, np.ndarray]:
    """In a worker: each slot's brain on its own input rows, one forward pass: {slot: (n, OUTPUTS)}.
    `batch` (a power of two >= every n) fixes the compiled shape."""
    import numpy as np

    x = np.zeros((population.capacity, batch, FEATURES), np.float32)
    for slot, r in rows.items():
        x[slot, : len(r)] = r
    out = np.asarray(population.forward(x))
    return {slot: out[slot, : len(r)].copy() for slot, r in rows.items()}


def batch_for(n: int) -> int:
    return max(8, 1 << max(0, n - 1).bit_length())


_FEEDBACK_KERNELS: dict[Any, Any] = {}  # layout -> the compiled feedback step


def feedback_kernel(neural: Any, layout: Any) -> Any:
    """(params, x (n_in,), y (n_out,), rate) -> (params, prediction, loss before, loss after, step
    size): Adam's first update on one example, halved until the loss falls (see `Brains.step`)."""
    kernel = _FEEDBACK_KERNELS.get(layout)
    if kernel is not None:
        return kernel
    import jax
    import jax.numpy as jnp

    def step(params: Any, x: Any, y: Any, rate: Any) -> Any:
        def loss(p: Any) -> Any:
            return jnp.mean((neural.forward(layout, p, x) - y) ** 2)

        before, grads = jax.value_and_grad(loss)(params)
        direction = jax.tree.map(lambda g: -g / (jnp.abs(g) + 1e-8), grads.layers)

        def moved(size: Any) -> Any:
            return params._replace(layers=jax.tree.map(lambda w, d: w + size * d, params.layers, direction))

        sizes = rate * 0.5 ** jnp.arange(STEP_HALVINGS + 1, dtype=jnp.float32)
        lower = jax.vmap(lambda size: loss(moved(size)))(sizes) < before
        size = jnp.where(lower.any(), sizes[jnp.argmax(lower)], 0.0)
        new = moved(size)
        return new, neural.forward(layout, new, x), before, loss(new), size

    kernel = _FEEDBACK_KERNELS[layout] = jax.jit(step)
    return kernel


def apply_changes(neural: Any, pool: Any, adds: list[tuple[str, list[np.ndarray] | None]], removes: list[int],
                   data: list[tuple[str, np.ndarray, np.ndarray]], slots: dict[str, int],
                   rates: Sequence[tuple[str, float]] = ()) -> dict[str, int]:
    """In a worker: create the population if needed, add and remove agents, set their data and
    learning rates. Returns the slots of the agents added."""
    import jax
    import numpy as np

    if pool.population is None:
        key = jax.random.key(int.from_bytes(np.random.default_rng().bytes(4), "little"))
        pool.population = new_population(neural, key, len(adds))
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
    all_slots = {**slots, **added}
    if data:
        population.set_data([all_slots[a] for a, _, _ in data],
                            [neural.TrainData(x, y) for _, x, y in data])
    rated = [(all_slots[a], rate) for a, rate in rates if a in all_slots]
    if rated:
        population.set_hyper([s for s, _ in rated], adam_learning_rate=[r for _, r in rated])
    return added


def flat_params(params: Any, index: int) -> np.ndarray:
    """One network's weights (index `index` of a stacked pytree) as one vector."""
    import jax
    import numpy as np

    return np.concatenate([np.asarray(leaf[index], np.float32).ravel() for leaf in jax.tree.leaves(params)])
