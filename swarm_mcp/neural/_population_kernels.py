"""The compiled kernels behind `Population`: pure functions over a leading agent axis.

Each factory closes over the static configuration (layout, spec, window) and returns a function
of arrays only; `Population` compiles it once per capacity bucket (see `_compile`). Every leaf
of the population state has the agent axis first, `(capacity, ...)`. Row updates take `rows`
slot indices `(rows,)`; an index equal to the capacity marks a padding row, dropped on write,
so one executable serves any number of updated agents.

Storage layout: a population keeps each weight matrix input-major, `(capacity, fan_in, n_out)`
(`stored`), the transpose of `Layer.w`. The one-input-per-agent forward pass is a batch of
matrix-vector products bound by memory bandwidth, and XLA:CPU streams the input-major layout
about twice as fast (measured: 10k × 128-64-32-8, 17 ms against 33 ms on one core). Kernels
convert with `core` / `stored`; training materialises the core layout first
(`optimization_barrier`), so it runs exactly the computation a standalone network runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jax.sharding import Mesh, PartitionSpec

from ._compile import note_trace
from ._create import init_params
from ._datafile import Batch
from ._forward import forward_batch
from ._network import Layer, Layout, Params
from ._settings import Hyper, TrainSpec
from ._train import TrainState, evaluate_batch, init_train_state, train_epochs

__all__ = (
    "TrainLog",
    "agent_keys",
    "agent_map",
    "core",
    "evaluate_kernel",
    "extract_kernel",
    "forward_kernel",
    "gather_kernel",
    "init_kernel",
    "state_kernel",
    "stored",
    "train_kernel",
    "write_brains_kernel",
    "write_data_kernel",
    "write_hyper_kernel",
    "write_kernel",
)


class TrainLog(NamedTuple):
    """What one train call reports per agent (device arrays, fresh buffers)."""

    mse: jax.Array  # (cap, window) f32, NaN where no epoch ran
    bit_fail: jax.Array  # (cap, window) int32, -1 where no epoch ran
    epochs: jax.Array  # (cap,) int32 epochs run in this call
    stopped: jax.Array  # (cap,) bool: the stop test has passed


def stored(params: Params) -> Params:
    """Core params (`w` is `(..., n_out, fan_in)`) in the population's input-major storage."""
    return params._replace(layers=tuple(Layer(jnp.swapaxes(l.w, -1, -2), l.b) for l in params.layers))


def core(params: Params) -> Params:
    """Stored params back in the core layout that `forward_batch` and `train_epochs` take."""
    return stored(params)  # a transpose of the last two axes is its own inverse


def _write_rows(tree: Any, idx: jax.Array, rows: Any) -> Any:
    return jax.tree.map(lambda a, r: a.at[idx].set(r.astype(a.dtype), mode="drop"), tree, rows)


def agent_keys(key: jax.Array, serials: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-agent (mask key, weight key, training key) from the population key and spawn serials.

    `split(fold_in(key, serial))` is what `create_standard(..., key=fold_in(key, serial))` draws
    its masks and weights from, so a spawned agent equals that standalone network.
    """
    agent = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, serials)
    pair = jax.vmap(jax.random.split)(agent)
    return pair[:, 0], pair[:, 1], jax.vmap(jax.random.fold_in, in_axes=(0, None))(agent, 2)


def init_kernel(layout: Layout, spec: TrainSpec) -> Callable[..., tuple[Params, TrainState]]:
    """(key, serials (rows,), masks (rows, ...) | None, hyper (rows,), steep_hidden, steep_output)
    -> fresh (params, train state) rows, FANN's U[-0.1, 0.1] weights."""

    def init(
        key: jax.Array,
        serials: jax.Array,
        masks: tuple[jax.Array, ...] | None,
        hyper: Hyper,
        steep_hidden: jax.Array,
        steep_output: jax.Array,
    ) -> tuple[Params, TrainState]:
        note_trace()
        _, weight_keys, train_keys = agent_keys(key, serials)
        last = layout.num_layers - 1

        def one(k: jax.Array, m: tuple[jax.Array, ...] | None) -> Params:
            p = init_params(layout, k, masks=m)
            steeps = tuple(
                jnp.full((layout.sizes[l],), steep_output if l == last else steep_hidden, jnp.float32)
                for l in range(1, layout.num_layers)
            )
            return p._replace(steepness=steeps)

        params = jax.vmap(one)(weight_keys, masks)
        state = jax.vmap(partial(init_train_state, layout, spec))(params, hyper, train_keys)
        return stored(params), state

    return init


def state_kernel(layout: Layout, spec: TrainSpec) -> Callable[..., TrainState]:
    """(stored params rows, hyper rows, key, serials) -> fresh train-state rows for inserted networks."""

    def fresh(params: Params, hyper: Hyper, key: jax.Array, serials: jax.Array) -> TrainState:
        note_trace()
        _, _, train_keys = agent_keys(key, serials)
        return jax.vmap(partial(init_train_state, layout, spec))(core(params), hyper, train_keys)

    return fresh


def write_kernel() -> Callable[..., tuple[Params, TrainState, Hyper, Batch]]:
    """Donated: put whole agents (params, state, hyper rows) at `idx` and clear their data."""

    def write(
        params: Params,
        state: TrainState,
        hyper: Hyper,
        data: Batch,
        idx: jax.Array,
        params_rows: Params,
        state_rows: TrainState,
        hyper_rows: Hyper,
    ) -> tuple[Params, TrainState, Hyper, Batch]:
        note_trace()
        empty = jax.tree.map(lambda a: jnp.zeros((idx.shape[0], *a.shape[1:]), a.dtype), data)
        return (
            _write_rows(params, idx, params_rows),
            _write_rows(state, idx, state_rows),
            _write_rows(hyper, idx, hyper_rows),
            _write_rows(data, idx, empty),
        )

    return write


def write_brains_kernel() -> Callable[..., tuple[Params, TrainState]]:
    """Donated: replace the params and training state of the agents at `idx`, keeping the rest."""

    def write(
        params: Params, state: TrainState, idx: jax.Array, params_rows: Params, state_rows: TrainState
    ) -> tuple[Params, TrainState]:
        note_trace()
        return _write_rows(params, idx, params_rows), _write_rows(state, idx, state_rows)

    return write


def write_data_kernel() -> Callable[..., Batch]:
    """Donated: replace the data rows of the agents at `idx` (already padded to the sample count)."""

    def write(data: Batch, idx: jax.Array, rows: Batch) -> Batch:
        note_trace()
        return _write_rows(data, idx, rows)

    return write


def write_hyper_kernel() -> Callable[..., Hyper]:
    """Donated: replace the hyper-parameters of the agents at `idx`."""

    def write(hyper: Hyper, idx: jax.Array, rows: Hyper) -> Hyper:
        note_trace()
        return _write_rows(hyper, idx, rows)

    return write


def agent_map(
    per_agent: Callable[..., Any], mesh: Mesh, agent_args: int, shared_args: int, chunk: int
) -> Callable[..., Any]:
    """Apply a single-agent function to every agent: sharded over the mesh's "agents" axis, and
    on each device in chunks of `chunk` agents (`lax.map(..., batch_size=chunk)`).

    The first `agent_args` arguments have the agent axis first; the `shared_args` after them are
    the same for every agent. Chunking bounds the temporaries of one call to `chunk` agents'
    worth: XLA allocates them afresh on every call, and with glibc's malloc large fresh buffers
    are page-faulted in each time (measured: 10k × 8-16-4 one epoch, 53 ms unchunked, 30 ms in
    chunks of 500, bit for bit the same result). Agents never interact, so no device talks to
    another inside the map.
    """

    def local(*args: Any) -> Any:
        mine, shared = args[:agent_args], args[agent_args:]
        if chunk >= jax.tree.leaves(mine)[0].shape[0]:  # one chunk: a plain vmap, no slicing copies
            return jax.vmap(lambda *row: per_agent(*row, *shared))(*mine)
        return jax.lax.map(lambda row: per_agent(*row, *shared), mine, batch_size=chunk)

    specs = (PartitionSpec("agents"),) * agent_args + (PartitionSpec(),) * shared_args
    # check_vma=False: the core's loops start from constants (replicated) and carry per-agent
    # values (varying); with no collectives inside, the check has nothing to protect.
    return jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=PartitionSpec("agents"), check_vma=False)


def train_kernel(
    layout: Layout, spec: TrainSpec, window: int, mesh: Mesh, chunk: int
) -> Callable[..., tuple[Params, TrainState, TrainLog]]:
    """(params, state, hyper, data, epochs (cap,), restart) -> (params, state, log); donate the first two.

    Each agent runs `epochs[i]` (≤ window) epochs of `train_epochs`; an agent with 0 epochs is
    left bit for bit unchanged (dead slots, agents without data). `restart` clears the stop
    flags first, as every `fann_train_on_data` call starts afresh.
    """

    def one(
        params: Params, state: TrainState, hyper: Hyper, data: Batch, epochs: jax.Array, restart: jax.Array
    ) -> tuple[Params, TrainState, TrainLog]:
        state = state._replace(stopped=state.stopped & ~restart)
        params = jax.lax.optimization_barrier(core(params))
        params, state, log = train_epochs(layout, spec, params, state, data, hyper, epochs, window=window)
        return stored(params), state, TrainLog(log.mse, log.bit_fail, log.epochs, state.stopped)

    run = agent_map(one, mesh, 5, 1, chunk)

    def train(*args: Any) -> tuple[Params, TrainState, TrainLog]:
        note_trace()
        return run(*args)

    return train


def forward_kernel(layout: Layout, batched: bool, mesh: Mesh, chunk: int) -> Callable[..., jax.Array]:
    """(params, alive, x) -> outputs: x `(cap, n_in)` -> `(cap, n_out)` or, batched,
    `(cap, B, n_in)` -> `(cap, B, n_out)`; dead slots give zeros."""

    def one(params: Params, alive: jax.Array, x: jax.Array) -> jax.Array:
        params = core(params)  # XLA folds the transpose into the matmuls
        y = forward_batch(layout, params, x) if batched else forward_batch(layout, params, x[None, :])[0]
        return jnp.where(alive, y, 0.0)

    run = agent_map(one, mesh, 3, 0, chunk)

    def forward(*args: Any) -> jax.Array:
        note_trace()
        return run(*args)

    return forward


def evaluate_kernel(layout: Layout, shared: bool, mesh: Mesh, chunk: int) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """(params, hyper, alive, data) -> per-agent (MSE, bit_fail) as `fann_test_data` computes them;
    `data` is each agent's own (cap, S, ...) or, `shared`, one (S, ...) batch for all."""

    def one(params: Params, hyper: Hyper, alive: jax.Array, data: Batch) -> tuple[jax.Array, jax.Array]:
        params = jax.lax.optimization_barrier(core(params))
        mse, bit_fail = evaluate_batch(layout, params, data, hyper.bit_fail_limit)
        return jnp.where(alive, mse, jnp.nan), jnp.where(alive, bit_fail, -1)

    run = agent_map(one, mesh, 3 if shared else 4, 1 if shared else 0, chunk)

    def evaluate(*args: Any) -> tuple[jax.Array, jax.Array]:
        note_trace()
        return run(*args)

    return evaluate


def gather_kernel() -> Callable[..., Params]:
    """(params, idx (rows,)) -> those agents' core params, fresh arrays."""

    def gather(params: Params, idx: jax.Array) -> Params:
        note_trace()
        return jax.tree.map(lambda a: a[idx], core(params))

    return gather


def extract_kernel() -> Callable[..., tuple[Params, TrainState]]:
    """(params, state, slot) -> that agent's core (params, train state), fresh arrays."""

    def extract(params: Params, state: TrainState, slot: jax.Array) -> tuple[Params, TrainState]:
        note_trace()
        return jax.tree.map(lambda a: a[slot], (core(params), state))

    return extract
