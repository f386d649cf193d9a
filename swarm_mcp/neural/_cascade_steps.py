"""The steps of Cascade2 (FANN spec §2.6) on a network being grown, one function per FANN step.

`cascade_start` freezes a shortcut network into a `CascadeState`; then, as C FANN's
`fann_cascadetrain_on_data` calls them, `cascade_train_outputs` (fann_train_outputs),
`cascade_initialize_candidates` (fann_initialize_candidates: the only random draw),
`cascade_train_candidates` (fann_train_candidates) and `cascade_install_candidate`
(fann_install_candidate); `cascade_network` builds the grown network. Each step can start from
any state, C FANN's included, which is how the golden tests check them one at a time.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._cascade_phases import (
    CandidatePhase,
    OutputPhase,
    cascade_limits,
    install_values,
    train_candidates,
    train_outputs,
)
from ._datafile import Batch, TrainData, pad_data
from ._forward import trace_batch
from ._network import Layer, Layout, Network, NetworkType, Params
from ._settings import Algorithm, CascadeParams
from ._train import check_trainable

__all__ = (
    "CascadeState",
    "Candidates",
    "cascade_initialize_candidates",
    "cascade_install_candidate",
    "cascade_network",
    "cascade_start",
    "cascade_train_candidates",
    "cascade_train_outputs",
)

_CASCADE_ALGORITHMS = (Algorithm.RPROP, Algorithm.QUICKPROP, Algorithm.SARPROP)
_train_outputs_jit = jax.jit(train_outputs, static_argnames=("out_layout", "spec", "log_size"))
_train_candidates_jit = jax.jit(train_candidates, static_argnames=("cand_layout", "out_layout", "spec", "log_size"))
_install_values_jit = jax.jit(install_values, static_argnums=0)
# compiled once per shape: the column index is traced, so installing never recompiles by position
_put_column_jit = jax.jit(lambda a, j, column: a.at[:, j].set(column))


class Hidden(NamedTuple):
    """An installed neuron: its activation, steepness and input weights in feature order."""

    activation: int
    steepness: float
    weights: np.ndarray  # (k,) f32: inputs, bias, the hidden neurons before it


class Candidates(NamedTuple):
    """A candidate pool's weights, in FANN's order: C = #functions × #steepnesses × groups."""

    w_in: jax.Array  # (C, used) f32: from the inputs, the bias, then every hidden neuron
    w_out: jax.Array  # (C, n_out) f32: to each output


@dataclasses.dataclass(frozen=True, slots=True)
class CascadeState:
    """A shortcut network being grown: what C FANN's `struct fann` holds between cascade steps."""

    network: Network  # as given: its settings, and its layers before cascading
    batch: Batch
    features: jax.Array  # (B, F) f32 values of the inputs, the bias and the hidden neurons; F fixed per run
    used: int  # columns of `features` in use (FANN's total_neurons - num_output)
    w: jax.Array  # (n_out, F) f32 output weights, same column order; unused columns 0
    hidden: tuple[Hidden, ...]  # neurons installed so far
    sse: jax.Array  # f32 Σdiff² of the last output epoch (FANN's MSE_value)
    mse: jax.Array  # f32 MSE of the last output epoch (fann_get_MSE)
    sarprop_epoch: jax.Array  # int32 FANN's sarprop_epoch
    key: jax.Array  # SARPROP's noise

    @property
    def capacity(self) -> int:
        return int(self.features.shape[1])

    def replace(self, **changes: object) -> CascadeState:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _pool(cp: CascadeParams) -> tuple[tuple[int, ...], jax.Array]:
    acts, steeps = [], []
    for act in cp.activation_functions:  # FANN's nesting: function, steepness, group
        for steep in cp.activation_steepnesses:
            for _ in range(cp.num_candidate_groups):
                acts.append(act)
                steeps.append(steep)
    return tuple(acts), jnp.asarray(np.asarray(steeps, np.float32))


def _layouts(state: CascadeState) -> tuple[Layout, Layout]:
    layout, (acts, _) = state.network.layout, _pool(state.network.cascade)
    out = Layout((state.capacity, layout.num_output), (layout.activations[-1],))
    return out, Layout((state.capacity, len(acts)), (acts,))


def _active(state: CascadeState) -> jax.Array:
    return jnp.arange(state.capacity) < state.used


def cascade_start(network: Network, data: TrainData | Batch, *, max_neurons: int, key: jax.Array) -> CascadeState:
    """Freeze a dense SHORTCUT network for growing by up to `max_neurons`; `key` seeds SARPROP's noise.

    Raises:
        InvalidArgument: not a dense shortcut network, an algorithm other than RPROP, Quickprop or
            SARPROP, an empty candidate pool, mismatched data, or an untrainable activation.
    """
    layout, tp = network.layout, network.training
    if layout.network_type is not NetworkType.SHORTCUT or layout.sparse:
        raise InvalidArgument(
            "cascade training needs a dense shortcut network; start from create_shortcut((n_in, n_out))"
        )
    if tp.algorithm not in _CASCADE_ALGORITHMS:
        raise InvalidArgument(
            f"cascade training cannot use {tp.algorithm.name}; use RPROP, QUICKPROP or SARPROP (FANN_E_CANT_USE_TRAIN_ALG)"
        )
    if max_neurons < 0:
        raise InvalidArgument("max_neurons must be >= 0")
    acts, _ = _pool(network.cascade)
    if not acts:
        raise InvalidArgument("the cascade candidate pool is empty: set activation functions, steepnesses and groups")
    check_trainable(layout)
    check_trainable(Layout((1, len(acts)), (acts,)))
    batch = pad_data(data) if isinstance(data, TrainData) else data
    if batch.x.shape[-1] != layout.num_input or batch.y.shape[-1] != layout.num_output:
        raise InvalidArgument(
            f"data has {batch.x.shape[-1]} inputs / {batch.y.shape[-1]} outputs, "
            f"the network {layout.num_input} / {layout.num_output}"
        )
    n_in, n_out = layout.num_input, layout.num_output
    trace = trace_batch(layout, network.params, batch.x)
    v = jnp.concatenate([trace.values[0], jnp.ones((batch.x.shape[0], 1), jnp.float32), *trace.values[1:-1]], axis=1)
    used = int(v.shape[1])
    capacity = used + max_neurons
    v = jnp.concatenate([v, jnp.zeros((v.shape[0], capacity - used), jnp.float32)], axis=1)
    last = network.params.layers[-1]
    w = jnp.zeros((n_out, capacity), jnp.float32)
    w = w.at[:, :n_in].set(last.w[:, :n_in].astype(jnp.float32)).at[:, n_in].set(last.b.astype(jnp.float32))
    w = w.at[:, n_in + 1 : used].set(last.w[:, n_in:].astype(jnp.float32))
    nan = jnp.float32(jnp.nan)
    return CascadeState(network, batch, v, used, w, (), nan, nan, jnp.int32(0), key)


def cascade_train_outputs(state: CascadeState, desired_error: float) -> tuple[CascadeState, OutputPhase]:
    """fann_train_outputs: train the output weights (FANN spec §2.6 step 1); see `OutputPhase`."""
    network = state.network
    out_layout, _ = _layouts(state)
    phase = _train_outputs_jit(
        out_layout=out_layout,
        spec=network.training.spec(),
        w=state.w,
        steep=network.params.steepness[-1],
        v=state.features,
        active=_active(state),
        y=state.batch.y,
        mask=state.batch.mask,
        hyper=network.training.hyper(desired_error),
        limits=cascade_limits(network.cascade),
        log_size=max(network.cascade.max_out_epochs, 1),
        desired=jnp.float32(desired_error),
        sarprop_epoch=state.sarprop_epoch,
        key=state.key,
    )
    state = state.replace(w=phase.w, sse=phase.sse, mse=phase.mse, sarprop_epoch=phase.sarprop_epoch, key=phase.key)
    return state, phase


def _candidate_scale(num_input: int, used: int) -> float:
    """FANN's semi Widrow-Nguyen scale `clip(2·(0.7·H)^(1/n_in), 0.5, 8)`, H = used - n_in, in C's types."""
    hidden = np.float32(0.7) * np.float32(used - num_input)  # 0.7f * (float)num_hidden_neurons
    power = np.float32(1.0) / np.float32(num_input)  # 1.0f / (float)num_input
    scale = float(np.float32(2.0 * math.pow(float(hidden), float(power))))  # (float)(2.0 * pow(...))
    return min(max(scale, 0.5), 8.0)


def cascade_initialize_candidates(state: CascadeState, key: jax.Array) -> Candidates:
    """fann_initialize_candidates: every input and output weight U[0, scale), the bias U[-scale, scale)."""
    n_in, n_out = state.network.layout.num_input, state.network.layout.num_output
    acts, _ = _pool(state.network.cascade)
    scale = _candidate_scale(n_in, state.used)
    k_in, k_bias, k_out = jax.random.split(key, 3)
    w_in = jax.random.uniform(k_in, (len(acts), state.used), jnp.float32, 0.0, scale)
    w_in = w_in.at[:, n_in].set(jax.random.uniform(k_bias, (len(acts),), jnp.float32, -scale, scale))
    return Candidates(w_in, jax.random.uniform(k_out, (len(acts), n_out), jnp.float32, 0.0, scale))


def cascade_train_candidates(state: CascadeState, candidates: Candidates) -> CandidatePhase:
    """fann_train_candidates from the last output epoch's residual and Σdiff² (FANN spec §2.6 step 3).

    The residual `target - output` (halved for symmetric outputs) is taken with the output
    weights after the output phase's last update; scores start from `state.sse`.
    """
    network = state.network
    out_layout, cand_layout = _layouts(state)
    _, steeps = _pool(network.cascade)
    w_in = np.zeros((candidates.w_in.shape[0], state.capacity), np.float32)
    w_in[:, : state.used] = np.asarray(candidates.w_in, np.float32)
    return _train_candidates_jit(
        cand_layout=cand_layout,
        out_layout=out_layout,
        spec=network.training.spec(),
        w_in=jnp.asarray(w_in),
        w_out=jnp.asarray(candidates.w_out, jnp.float32),
        steep=steeps,
        w=state.w,
        steep_out=network.params.steepness[-1],
        v=state.features,
        active=_active(state),
        y=state.batch.y,
        mask=state.batch.mask,
        sse=state.sse,
        mse=state.mse,
        hyper=network.training.hyper(),
        limits=cascade_limits(network.cascade),
        log_size=max(network.cascade.max_cand_epochs, 1),
        sarprop_epoch=state.sarprop_epoch,
        key=state.key,
    )


def cascade_install_candidate(state: CascadeState, trained: Candidates, best: int) -> CascadeState:
    """fann_install_candidate: candidate `best` becomes a new one-neuron layer before the outputs.

    It reads every earlier neuron with its trained input weights (`trained.w_in[best, :used]`;
    a `CandidatePhase`'s `(C, F)` weights do); output j gets the candidate's output weight
    n_out-1-j times the weight multiplier, because FANN assigns them walking the outputs
    backwards (FANN spec §2.6 step 4).

    Raises:
        InvalidArgument: the state has no room left (`cascade_start`'s max_neurons are installed).
    """
    if state.used >= state.capacity:
        raise InvalidArgument(
            f"this cascade is full: cascade_start made room for {len(state.hidden)} neurons (max_neurons)"
        )
    network = state.network
    acts, steeps = _pool(network.cascade)
    chosen = np.zeros(state.capacity, np.float32)
    chosen[: state.used] = np.asarray(trained.w_in, np.float32)[best, : state.used]
    column = _install_values_jit(Layout((1, 1), (acts[best],)), state.features, jnp.asarray(chosen), steeps[best])
    outputs = np.asarray(trained.w_out, np.float32)[best, ::-1] * np.float32(network.cascade.weight_multiplier)
    neuron = Hidden(acts[best], float(steeps[best]), chosen[: state.used])
    return state.replace(
        features=_put_column_jit(state.features, state.used, column),
        w=_put_column_jit(state.w, state.used, jnp.asarray(outputs)),
        used=state.used + 1,
        hidden=(*state.hidden, neuron),
    )


def cascade_network(state: CascadeState) -> Network:
    """The grown shortcut network: the starting layers, one new layer per installed neuron, the outputs."""
    network = state.network
    layout, params = network.layout, network.params
    n_in, dtype = layout.num_input, layout.dtype

    def split(row_major: np.ndarray) -> tuple[jax.Array, jax.Array]:
        w = np.concatenate([row_major[..., :n_in], row_major[..., n_in + 1 :]], axis=-1)
        return jnp.asarray(w, dtype), jnp.asarray(row_major[..., n_in], dtype)

    layers = list(params.layers[:-1])
    steepness = list(params.steepness[:-1])
    activations = list(layout.activations[:-1])
    for neuron in state.hidden:
        layers.append(Layer(*split(neuron.weights[None, :])))
        steepness.append(jnp.full((1,), neuron.steepness, jnp.float32))
        activations.append(neuron.activation)
    layers.append(Layer(*split(np.asarray(state.w[:, : state.used]))))
    steepness.append(params.steepness[-1])
    activations.append(layout.activations[-1])
    sizes = (*layout.sizes[:-1], *([1] * len(state.hidden)), layout.num_output)
    grown = Layout(sizes, tuple(activations), NetworkType.SHORTCUT, 1.0, layout.storage_dtype)
    return network.replace(layout=grown, params=Params(tuple(layers), tuple(steepness), None, params.scaling))
