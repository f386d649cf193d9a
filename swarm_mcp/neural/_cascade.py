"""Cascade2 training (FANN spec §2.6): grow a shortcut network one hidden neuron at a time.

While cascading, every existing neuron's weights are frozen, so the values of all non-output
neurons on the data set are fixed: they are kept as a feature matrix `V (B, F)` with columns
in FANN's neuron order (inputs, the bias, hidden neurons). Output training is then one layer on
`V`, candidate training is a pool of neurons reading `V`, and installing a neuron appends one
column. `F` is sized for `max_neurons` up front (unused columns masked), so each phase compiles
once for the whole run instead of once per added neuron.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._activations import clip_sum
from ._backprop import derive_layer, error_totals, output_error, sample_dot, sample_sum
from ._datafile import Batch, TrainData, pad_data
from ._forward import Trace, activate_layer, trace_batch
from ._network import Layer, Layout, Network, NetworkType, Params
from ._optimizers import Optimizer, StepInfo, optimizer_for, sarprop_flat
from ._settings import Algorithm, CascadeParams, Hyper, StopFunction, TrainSpec
from ._train import check_trainable

__all__ = ("CascadeReport", "CascadeResult", "cascade_train_on_data")

_CASCADE_ALGORITHMS = (Algorithm.RPROP, Algorithm.QUICKPROP, Algorithm.SARPROP)


class CascadeReport(NamedTuple):
    """What the cascade callback sees after each round's output training."""

    neurons: int  # hidden neurons added so far
    epochs: int  # total epochs so far (output and candidate training)
    mse: float
    bit_fail: int


class CascadeResult(NamedTuple):
    network: Network  # the grown shortcut network
    mse: float  # MSE of the last output-training epoch
    bit_fail: int
    neurons_added: int
    epochs: int  # total epochs, as FANN passes them to the callback
    reached: bool  # the desired error was reached
    cancelled: bool  # the callback returned False


class _Limits(NamedTuple):
    """Cascade settings as traced scalars (FANN spec §2.1 defaults)."""

    output_change_fraction: jax.Array
    output_stagnation_epochs: jax.Array
    max_out_epochs: jax.Array
    min_out_epochs: jax.Array
    candidate_change_fraction: jax.Array
    candidate_stagnation_epochs: jax.Array
    max_cand_epochs: jax.Array
    min_cand_epochs: jax.Array
    candidate_limit: jax.Array


def _limits(cp: CascadeParams) -> _Limits:
    f, i = jnp.float32, jnp.int32
    return _Limits(
        f(cp.output_change_fraction),
        i(cp.output_stagnation_epochs),
        i(cp.max_out_epochs),
        i(cp.min_out_epochs),
        f(cp.candidate_change_fraction),
        i(cp.candidate_stagnation_epochs),
        i(cp.max_cand_epochs),
        i(cp.min_cand_epochs),
        f(cp.candidate_limit),
    )


class _Sarprop(NamedTuple):
    epoch: jax.Array  # FANN's ann->sarprop_epoch: advanced by output epochs only
    key: jax.Array


def _reached(spec: TrainSpec, mse: jax.Array, bit_fail: jax.Array, desired: jax.Array) -> jax.Array:
    if spec.stop_function is StopFunction.BIT:
        return bit_fail.astype(jnp.float32) <= jnp.floor(desired)
    return mse <= desired


def _update(
    spec: TrainSpec,
    opt: Optimizer,
    weights: tuple[jax.Array, ...],
    slopes: tuple[jax.Array, ...],
    state: Any,
    present: tuple[jax.Array, ...],
    hyper: Hyper,
    info: StepInfo,
    sarprop: _Sarprop,
) -> tuple[tuple[jax.Array, ...], Any, _Sarprop]:
    """One weight update over arrays whose row-major order is FANN's memory order."""
    if spec.algorithm is Algorithm.SARPROP:
        step, prev = state

        def flat(tree: tuple[jax.Array, ...]) -> jax.Array:
            return jnp.concatenate([a.reshape(-1) for a in tree])

        w, next_step, slope, key = sarprop_flat(
            flat(weights),
            flat(slopes),
            flat(step),
            flat(prev),
            flat(present),
            sarprop.epoch,
            sarprop.key,
            hyper,
            info.mse,
        )

        def unflat(vector: jax.Array) -> tuple[jax.Array, ...]:
            out, at = [], 0
            for a in weights:
                out.append(vector[at : at + a.size].reshape(a.shape))
                at += a.size
            return tuple(out)

        new, state, sarprop = unflat(w), (unflat(next_step), unflat(slope)), sarprop._replace(key=key)
    else:
        new, state = opt.update(weights, slopes, state, hyper, info)
    return tuple(jnp.where(p, n, 0.0) for n, p in zip(new, present, strict=True)), state, sarprop


def _init_state(spec: TrainSpec, opt: Optimizer, weights: tuple[jax.Array, ...], hyper: Hyper) -> Any:
    if spec.algorithm is Algorithm.SARPROP:  # FANN clears prev_steps to 0 for everything but RPROP
        return (tuple(jnp.zeros_like(w) for w in weights), tuple(jnp.zeros_like(w) for w in weights))
    return opt.init(weights, hyper, jax.random.key(0))


# ------------------------------------------------------------------------------ output training
def _output_trace(out_layout: Layout, w: jax.Array, steep: jax.Array, v: jax.Array) -> Trace:
    z = clip_sum(v @ w.T, steep[None, :])
    return Trace((v, activate_layer(out_layout, 1, z)), (z,))


def _train_outputs(
    out_layout: Layout,
    spec: TrainSpec,
    w: jax.Array,
    steep: jax.Array,
    v: jax.Array,
    active: jax.Array,
    y: jax.Array,
    mask: jax.Array,
    hyper: Hyper,
    limits: _Limits,
    desired: jax.Array,
    sarprop: _Sarprop,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array, _Sarprop]:
    """fann_train_outputs: RPROP/Quickprop/SARPROP on the output weights until stagnation.

    Returns (weights, epochs, mse, bit_fail, Σdiff² of the last epoch, sarprop clock).
    """
    opt = optimizer_for(out_layout, spec)
    params = Params((Layer(w, jnp.zeros(w.shape[0])),), (steep,), None, None)
    present = (jnp.broadcast_to(active[None, :], w.shape),)
    num_data = jnp.maximum(jnp.sum(mask).astype(jnp.float32), 1.0)

    def epoch(w: jax.Array, state: Any, sar: _Sarprop) -> tuple[Any, ...]:
        trace = _output_trace(out_layout, w, steep, v)
        err, sq_sum, bit_fail, count = output_error(
            out_layout, spec.error_function, params, trace, y, mask, hyper.bit_fail_limit
        )
        mse = sq_sum / jnp.maximum(count, 1.0)
        info = StepInfo(num_data, mse)
        (w,), state, sar = _update(spec, opt, (w,), (sample_dot(err, v),), state, present, hyper, info, sar)
        if spec.algorithm is Algorithm.SARPROP:
            sar = sar._replace(epoch=sar.epoch + 1)
        return w, state, sar, mse, bit_fail, sq_sum

    state = _init_state(spec, opt, (w,), hyper)
    w, state, sarprop, first, bits, sq = epoch(w, state, sarprop)
    f32 = jnp.float32

    def body(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        w, state, sar, i, _, _, _, target, backslide, stagnation, _ = carry
        w, state, sar, mse, bits, sq = epoch(w, state, sar)
        improvement = first - mse
        moved = ((target >= 0) & ((improvement > target) | (improvement < backslide))) | (
            (target < 0) & ((improvement < target) | (improvement > backslide))
        )
        target = jnp.where(moved, improvement * (1 + limits.output_change_fraction), target)
        backslide = jnp.where(moved, improvement * (1 - limits.output_change_fraction), backslide)
        stagnation = jnp.where(moved, i + limits.output_stagnation_epochs, stagnation)
        stop = (
            _reached(spec, mse, bits, desired)
            | ((i >= stagnation) & (i >= limits.min_out_epochs))
            | (i + 1 >= limits.max_out_epochs)
        )
        return w, state, sar, i + 1, mse, bits, sq, target, backslide, stagnation, stop

    # carry: weights, state, clock, epochs done, mse, bit_fail, Σdiff², target, backslide, stagnation, stop
    stop = _reached(spec, first, bits, desired) | (limits.max_out_epochs <= 1)
    init = (w, state, sarprop, jnp.int32(1), first, bits, sq, f32(0.0), f32(-1.0e20), limits.max_out_epochs, stop)
    w, _, sarprop, epochs, mse, bits, sq, *_ = jax.lax.while_loop(lambda c: ~c[-1], body, init)
    return w, epochs, mse, bits, sq, sarprop


# --------------------------------------------------------------------------- candidate training
def _candidate_values(
    cand_layout: Layout, w_in: jax.Array, steep: jax.Array, v: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """fann_update_candidate_slopes' forward: clip the raw sum to ±150/s, then activate s·sum.

    Unlike fann_run, FANN clips before scaling here and hands the unscaled sum to the derivative.
    """
    total = v @ w_in.T
    limit = 150.0 / steep[None, :]
    clipped = jnp.where(total > limit, limit, jnp.where(total < -limit, -limit, total))
    a = activate_layer(cand_layout, 1, steep[None, :] * clipped)
    return a, derive_layer(cand_layout, 1, steep, a, clipped)


def _train_candidates(
    cand_layout: Layout,
    spec: TrainSpec,
    w_in: jax.Array,
    w_out: jax.Array,
    steep: jax.Array,
    v: jax.Array,
    active: jax.Array,
    residual: jax.Array,
    mask: jax.Array,
    sse: jax.Array,
    mse: jax.Array,
    hyper: Hyper,
    limits: _Limits,
    sarprop: _Sarprop,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, _Sarprop]:
    """fann_train_candidates: train the pool, return (w_in, w_out, best index, epochs, clock)."""
    opt = optimizer_for(cand_layout, spec)
    present = (jnp.broadcast_to(active[None, :], w_in.shape), jnp.ones_like(w_out, bool))
    num_data = jnp.maximum(jnp.sum(mask).astype(jnp.float32), 1.0)
    valid = mask[:, None, None]
    info = StepInfo(num_data, mse)

    def epoch(weights: tuple[jax.Array, jax.Array], state: Any, sar: _Sarprop) -> tuple[Any, ...]:
        w_in, w_out = weights
        a, derived = _candidate_values(cand_layout, w_in, steep, v)  # (B, C)
        diff = jnp.where(valid, a[:, :, None] * w_out[None, :, :] - residual[:, None, :], 0.0)  # (B, C, n_out)
        n_out = w_out.shape[1]
        out_slopes = -sample_sum(2.0 * diff * a[:, :, None])  # FANN: slope -= 2·diff·activation
        error = diff[:, :, 0] * w_out[None, :, 0]
        squares = diff[:, :, 0] * diff[:, :, 0]
        for j in range(1, n_out):
            error = error + diff[:, :, j] * w_out[None, :, j]
            squares = squares + diff[:, :, j] * diff[:, :, j]
        in_slopes = -sample_dot(error * derived, v)
        scores = sse - sample_sum(squares)
        weights, state, sar = _update(spec, opt, weights, (in_slopes, out_slopes), state, present, hyper, info, sar)
        return weights, state, sar, scores

    weights = (w_in, w_out)
    state = _init_state(spec, opt, weights, hyper)
    f32 = jnp.float32

    def body(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        weights, state, sar, i, _, target, backslide, stagnation, _ = carry
        weights, state, sar, scores = epoch(weights, state, sar)
        best = jnp.argmax(scores)  # first of equal scores, as FANN's strict '>' scan
        score = scores[best]
        over_limit = score / sse > limits.candidate_limit
        moved = (score > target) | (score < backslide)
        target = jnp.where(moved, score * (1 + limits.candidate_change_fraction), target)
        backslide = jnp.where(moved, score * (1 - limits.candidate_change_fraction), backslide)
        stagnation = jnp.where(moved, i + limits.candidate_stagnation_epochs, stagnation)
        stop = over_limit | ((i >= stagnation) & (i >= limits.min_cand_epochs)) | (i + 1 >= limits.max_cand_epochs)
        return weights, state, sar, i + 1, best.astype(jnp.int32), target, backslide, stagnation, stop

    init = (weights, state, sarprop, jnp.int32(0), jnp.int32(0), f32(0.0), f32(-1.0e20), limits.max_cand_epochs)
    carry = jax.lax.while_loop(lambda c: ~c[-1], body, (*init, limits.max_cand_epochs <= 0))
    (w_in, w_out), _, sarprop, epochs, best = carry[0], carry[1], carry[2], carry[3], carry[4]
    return w_in, w_out, best, epochs, sarprop


# --------------------------------------------------------------------------------- the driver
def _candidate_pool(cp: CascadeParams) -> tuple[tuple[int, ...], np.ndarray]:
    acts, steeps = [], []
    for act in cp.activation_functions:  # FANN's nesting: function, steepness, group
        for steep in cp.activation_steepnesses:
            for _ in range(cp.num_candidate_groups):
                acts.append(act)
                steeps.append(steep)
    return tuple(acts), np.asarray(steeps, np.float32)


def _initial_features(network: Network, x: jax.Array, capacity: int) -> tuple[jax.Array, int]:
    layout = network.layout
    trace = trace_batch(layout, network.params, x)
    ones = jnp.ones((x.shape[0], 1), jnp.float32)
    cols = [trace.values[0], ones, *trace.values[1:-1]]
    v = jnp.concatenate(cols, axis=1)
    used = v.shape[1]
    return jnp.concatenate([v, jnp.zeros((x.shape[0], capacity - used), jnp.float32)], axis=1), used


_train_outputs_jit = jax.jit(_train_outputs, static_argnums=(0, 1))
_train_candidates_jit = jax.jit(_train_candidates, static_argnums=(0, 1))


def cascade_train_on_data(
    network: Network,
    data: TrainData | Batch,
    *,
    max_neurons: int,
    desired_error: float = 0.0,
    neurons_between_reports: int = 0,
    callback: Callable[[CascadeReport], bool | None] | None = None,
    key: jax.Array,
) -> CascadeResult:
    """`fann_cascadetrain_on_data`: add up to `max_neurons` hidden neurons (FANN spec §2.6).

    Starts from a SHORTCUT network (usually `create_shortcut((n_in, n_out))`) and uses its
    `cascade` settings (FANN's defaults: 80 candidates, output/candidate stagnation, weight
    multiplier 0.4). Each round trains the outputs, trains the candidate pool, and installs the
    best candidate as a new one-neuron layer before the outputs; the outputs are trained once
    more at the end. `key` draws the candidates' weights (and SARPROP's noise). The callback gets
    a `CascadeReport` after each round's output training on report rounds; False stops growing.

    Raises:
        InvalidArgument: not a dense shortcut network, an algorithm other than RPROP, Quickprop or
            SARPROP, mismatched data, or an untrainable activation.
    """
    layout, tp, cp = network.layout, network.training, network.cascade
    if layout.network_type is not NetworkType.SHORTCUT or layout.sparse:
        raise InvalidArgument(
            "cascade training needs a dense shortcut network; start from create_shortcut((n_in, n_out))"
        )
    if tp.algorithm not in _CASCADE_ALGORITHMS:
        raise InvalidArgument(
            f"cascade training cannot use {tp.algorithm.name}; use RPROP, QUICKPROP or SARPROP (FANN_E_CANT_USE_TRAIN_ALG)"
        )
    if max_neurons < 0 or neurons_between_reports < 0:
        raise InvalidArgument("max_neurons and neurons_between_reports must be >= 0")
    acts, steeps = _candidate_pool(cp)
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
    spec, hyper, limits = tp.spec(), tp.hyper(desired_error), _limits(cp)
    desired = jnp.float32(desired_error)
    capacity = n_in + 1 + sum(layout.sizes[1:-1]) + max_neurons
    v, used = _initial_features(network, batch.x, capacity)
    out_acts = layout.activations[-1]
    out_layout = Layout((capacity, n_out), (out_acts,))
    cand_layout = Layout((capacity, len(acts)), (acts,))
    steep_out = network.params.steepness[-1]
    last = network.params.layers[-1]
    w = jnp.zeros((n_out, capacity), jnp.float32)
    w = w.at[:, :n_in].set(last.w[:, :n_in].astype(jnp.float32)).at[:, n_in].set(last.b.astype(jnp.float32))
    w = w.at[:, n_in + 1 : used].set(last.w[:, n_in:].astype(jnp.float32))
    sar = _Sarprop(jnp.int32(0), key)
    hidden: list[tuple[int, float, np.ndarray]] = []  # installed neurons: act, steepness, weights (V order)
    total_epochs, reached, cancelled = 0, False, False
    c_steep = jnp.asarray(steeps)

    def outputs(w: jax.Array, used: int, desired: jax.Array) -> tuple[Any, ...]:
        active = jnp.arange(capacity) < used
        return _train_outputs_jit(
            out_layout, spec, w, steep_out, v, active, batch.y, batch.mask, hyper, limits, desired, sar
        )

    for round_ in range(1, max_neurons + 1):
        w, epochs, mse, bits, sse, sar = outputs(w, used, desired)
        total_epochs += int(epochs)
        reached = bool(_reached(spec, mse, bits, desired))
        if (
            neurons_between_reports
            and callback is not None
            and (round_ % neurons_between_reports == 0 or round_ == max_neurons or round_ == 1 or reached)
        ):
            report = CascadeReport(round_ - 1, total_epochs, float(mse), int(bits))
            if callback(report) is False:
                cancelled = True
                break
        if reached:
            break
        key, draw = jax.random.split(sar.key)
        sar = sar._replace(key=key)
        active = jnp.arange(capacity) < used
        # FANN: sf = clip(2·(0.7·H)^(1/n_in), 0.5, 8) with H = neurons - inputs - outputs (bias counted)
        scale = float(np.clip(2.0 * (0.7 * (used - n_in)) ** (1.0 / n_in), 0.5, 8.0))
        k_in, k_bias, k_out = jax.random.split(draw, 3)
        w_in = jax.random.uniform(k_in, (len(acts), capacity), jnp.float32, 0.0, scale)
        w_in = w_in.at[:, n_in].set(jax.random.uniform(k_bias, (len(acts),), jnp.float32, -scale, scale))
        w_in = jnp.where(active[None, :], w_in, 0.0)
        w_out = jax.random.uniform(k_out, (len(acts), n_out), jnp.float32, 0.0, scale)
        trace = _output_trace(out_layout, w, steep_out, v)
        diff, _, _, _ = error_totals(out_layout, trace.values[-1], batch.y, batch.mask, hyper.bit_fail_limit)
        residual = jnp.where(batch.mask[:, None], diff, 0.0)
        w_in, w_out, best, epochs, sar = _train_candidates_jit(
            cand_layout, spec, w_in, w_out, c_steep, v, active, residual, batch.mask, sse, mse, hyper, limits, sar
        )
        total_epochs += int(epochs)
        best = int(best)
        chosen_in = w_in[best]
        # install: the new neuron's value is computed the way fann_run will compute it
        z = clip_sum(v @ chosen_in[:, None], c_steep[best][None, None])
        column = activate_layer(Layout((1, 1), (acts[best],)), 1, z)[:, 0]
        v = v.at[:, used].set(column)
        # FANN assigns the candidate's output weights to the outputs walking backwards (spec §2.6)
        w = w.at[:, used].set(w_out[best][::-1] * jnp.float32(cp.weight_multiplier))
        hidden.append((acts[best], float(steeps[best]), np.asarray(chosen_in[:used])))
        used += 1

    w, epochs, mse, bits, _, sar = outputs(w, used, jnp.float32(0.0))
    total_epochs += int(epochs)
    grown = _assemble(network, hidden, np.asarray(w[:, :used]))
    return CascadeResult(grown, float(mse), int(bits), len(hidden), total_epochs, reached, cancelled)


def _assemble(network: Network, hidden: list[tuple[int, float, np.ndarray]], w_out: np.ndarray) -> Network:
    """The shortcut network with one new one-neuron layer per installed candidate."""
    layout, params = network.layout, network.params
    n_in = layout.num_input
    dtype = layout.dtype

    def split(row_major: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.concatenate([row_major[..., :n_in], row_major[..., n_in + 1 :]], axis=-1)
        return w, row_major[..., n_in]

    layers = list(params.layers[:-1])
    steepness = list(params.steepness[:-1])
    activations = list(layout.activations[:-1])
    for act, steep, weights in hidden:
        w, b = split(weights[None, :])
        layers.append(Layer(jnp.asarray(w, dtype), jnp.asarray(b, dtype)))
        steepness.append(jnp.full((1,), steep, jnp.float32))
        activations.append(act)
    w, b = split(w_out)
    layers.append(Layer(jnp.asarray(w, dtype), jnp.asarray(b, dtype)))
    steepness.append(params.steepness[-1])
    activations.append(layout.activations[-1])
    sizes = (*layout.sizes[:-1], *([1] * len(hidden)), layout.num_output)
    grown = Layout(sizes, tuple(activations), NetworkType.SHORTCUT, 1.0, layout.storage_dtype)
    return network.replace(layout=grown, params=Params(tuple(layers), tuple(steepness), None, params.scaling))
