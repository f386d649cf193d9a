"""Cascade2's two training phases (FANN spec §2.6) as compiled kernels over a fixed feature matrix.

While cascading, every existing neuron is frozen, so the values of all non-output neurons on the
data are fixed: a feature matrix `V (B, F)` with columns in FANN's neuron order (inputs, the bias,
hidden neurons). Output training is one layer on `V` (`fann_train_outputs`); candidate training
is a pool of neurons reading `V` (`fann_train_candidates`). `F` is sized for the whole run with
unused columns masked, so each kernel compiles once per run, not once per added neuron.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ._backprop import derive_layer, error_totals, output_error, sample_dot, sample_sum
from ._activations import clip_sum
from ._forward import Trace, activate_layer
from ._network import Layer, Layout, Params
from ._optimizers import Optimizer, StepInfo, optimizer_for, sarprop_flat
from ._settings import Algorithm, CascadeParams, Hyper, TrainSpec
from ._train import stop_test

__all__ = (
    "CandidatePhase",
    "CascadeLimits",
    "OutputPhase",
    "cascade_limits",
    "install_values",
    "output_trace",
    "train_candidates",
    "train_outputs",
)


class CascadeLimits(NamedTuple):
    """Cascade settings as traced scalars (FANN spec §2.1 defaults), so changing them never recompiles."""

    output_change_fraction: jax.Array
    output_stagnation_epochs: jax.Array
    max_out_epochs: jax.Array
    min_out_epochs: jax.Array
    candidate_change_fraction: jax.Array
    candidate_stagnation_epochs: jax.Array
    max_cand_epochs: jax.Array
    min_cand_epochs: jax.Array
    candidate_limit: jax.Array


def cascade_limits(cp: CascadeParams) -> CascadeLimits:
    f, i = jnp.float32, jnp.int32
    return CascadeLimits(
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


class OutputPhase(NamedTuple):
    """What `fann_train_outputs` leaves behind."""

    w: jax.Array  # (n_out, F) f32 output weights after the last epoch's update
    epochs: jax.Array  # int32 epochs run, as fann_train_outputs returns them
    mse: jax.Array  # f32 MSE of the last epoch, accumulated before its update (fann_get_MSE)
    bit_fail: jax.Array  # int32 bit fails of the last epoch
    sse: jax.Array  # f32 Σdiff² of the last epoch: FANN's MSE_value, where candidate scores start
    mse_log: jax.Array  # (max_out_epochs,) f32 every epoch's MSE; NaN past `epochs`
    sarprop_epoch: jax.Array  # int32 FANN's ann->sarprop_epoch: advanced by output epochs only
    key: jax.Array  # SARPROP's noise after the phase


class CandidatePhase(NamedTuple):
    """What `fann_train_candidates` leaves behind."""

    w_in: jax.Array  # (C, F) f32 input weights after the last epoch's update; unused columns 0
    w_out: jax.Array  # (C, n_out) f32 output weights after the last epoch's update
    best: jax.Array  # int32 the best candidate of the last epoch (the first of equal scores)
    epochs: jax.Array  # int32 epochs run
    scores: jax.Array  # (C,) f32 the last epoch's scores, from the weights before its update
    best_log: jax.Array  # (max_cand_epochs,) f32 every epoch's best score; NaN past `epochs`
    key: jax.Array


def _update(
    spec: TrainSpec,
    opt: Optimizer,
    weights: tuple[jax.Array, ...],
    slopes: tuple[jax.Array, ...],
    state: Any,
    present: tuple[jax.Array, ...],
    hyper: Hyper,
    info: StepInfo,
    sarprop_epoch: jax.Array,
    key: jax.Array,
) -> tuple[tuple[jax.Array, ...], Any, jax.Array]:
    """One weight update over arrays whose row-major order is FANN's memory order."""
    if spec.algorithm is Algorithm.SARPROP:
        step, prev = state

        def flat(tree: tuple[jax.Array, ...]) -> jax.Array:
            return jnp.concatenate([a.reshape(-1) for a in tree])

        w, next_step, slope, key = sarprop_flat(
            flat(weights), flat(slopes), flat(step), flat(prev), flat(present), sarprop_epoch, key, hyper, info.mse
        )

        def unflat(vector: jax.Array) -> tuple[jax.Array, ...]:
            out, at = [], 0
            for a in weights:
                out.append(vector[at : at + a.size].reshape(a.shape))
                at += a.size
            return tuple(out)

        new, state = unflat(w), (unflat(next_step), unflat(slope))
    else:
        new, state = opt.update(weights, slopes, state, hyper, info)
    return tuple(jnp.where(p, n, 0.0) for n, p in zip(new, present, strict=True)), state, key


def _init_state(spec: TrainSpec, opt: Optimizer, weights: tuple[jax.Array, ...], hyper: Hyper) -> Any:
    """fann_clear_train_arrays / initialize_candidate_weights: RPROP steps at delta_zero, else 0."""
    if spec.algorithm is Algorithm.SARPROP:
        return (tuple(jnp.zeros_like(w) for w in weights), tuple(jnp.zeros_like(w) for w in weights))
    return opt.init(weights, hyper, jax.random.key(0))


def feature_dot(v: jax.Array, w: jax.Array) -> jax.Array:
    """Every neuron's sum over the features: `(B, F), (K, F) -> (B, K)`, adding columns left to right.

    A matmul would let XLA pick a summation order by F, so the capacity left for later neurons
    (zero columns) would change the rounding of every sum, and with it a chaotic training run. In
    a fixed order the zero columns add exact zeros: a run does not depend on max_neurons.
    """

    def column(f: jax.Array, total: jax.Array) -> jax.Array:
        values = jax.lax.dynamic_index_in_dim(v, f, 1, keepdims=True)  # (B, 1)
        return total + values * jax.lax.dynamic_index_in_dim(w, f, 1, keepdims=False)[None, :]

    return jax.lax.fori_loop(0, v.shape[1], column, jnp.zeros((v.shape[0], w.shape[0]), jnp.float32))


def output_trace(out_layout: Layout, w: jax.Array, steep: jax.Array, v: jax.Array) -> Trace:
    """fann_run of the output layer on the feature matrix: `(n_out, F), (B, F) -> Trace`."""
    z = clip_sum(feature_dot(v, w), steep[None, :])
    return Trace((v, activate_layer(out_layout, 1, z)), (z,))


def train_outputs(
    out_layout: Layout,
    spec: TrainSpec,
    w: jax.Array,
    steep: jax.Array,
    v: jax.Array,
    active: jax.Array,
    y: jax.Array,
    mask: jax.Array,
    hyper: Hyper,
    limits: CascadeLimits,
    log_size: int,
    desired: jax.Array,
    sarprop_epoch: jax.Array,
    key: jax.Array,
) -> OutputPhase:
    """fann_train_outputs: RPROP/Quickprop/SARPROP on the output weights until stagnation.

    A fresh optimizer state (fann_clear_train_arrays), one epoch for the initial error, then up to
    max_out_epochs in all: stop once the stop test passes on an epoch's MSE (or bit fails), or,
    after min_out_epochs, once output_stagnation_epochs passed without the improvement since
    the first epoch moving by more than output_change_fraction.
    """
    opt = optimizer_for(out_layout, spec)
    params = Params((Layer(w, jnp.zeros(w.shape[0])),), (steep,), None, None)
    present = (jnp.broadcast_to(active[None, :], w.shape),)
    num_data = jnp.maximum(jnp.sum(mask).astype(jnp.float32), 1.0)

    def epoch(w: jax.Array, state: Any, sar_epoch: jax.Array, key: jax.Array) -> tuple[Any, ...]:
        trace = output_trace(out_layout, w, steep, v)
        err, sq_sum, bit_fail, count = output_error(
            out_layout, spec.error_function, params, trace, y, mask, hyper.bit_fail_limit
        )
        mse = sq_sum / jnp.maximum(count, 1.0)
        info = StepInfo(num_data, mse)
        (w,), state, key = _update(spec, opt, (w,), (sample_dot(err, v),), state, present, hyper, info, sar_epoch, key)
        if spec.algorithm is Algorithm.SARPROP:
            sar_epoch = sar_epoch + 1
        return w, state, sar_epoch, key, mse, bit_fail, sq_sum

    log = jnp.full((log_size,), jnp.nan, jnp.float32)
    state = _init_state(spec, opt, (w,), hyper)
    w, state, sarprop_epoch, key, first, bits, sq = epoch(w, state, sarprop_epoch, key)
    log = log.at[0].set(first, mode="drop")
    f32 = jnp.float32

    def body(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        w, state, sar_epoch, key, i, _, _, _, log, target, backslide, stagnation, _ = carry
        w, state, sar_epoch, key, mse, bits, sq = epoch(w, state, sar_epoch, key)
        log = log.at[i].set(mse, mode="drop")
        improvement = first - mse
        moved = ((target >= 0) & ((improvement > target) | (improvement < backslide))) | (
            (target < 0) & ((improvement < target) | (improvement > backslide))
        )
        target = jnp.where(moved, improvement * (1 + limits.output_change_fraction), target)
        backslide = jnp.where(moved, improvement * (1 - limits.output_change_fraction), backslide)
        stagnation = jnp.where(moved, i + limits.output_stagnation_epochs, stagnation)
        stop = (
            stop_test(spec, mse, bits, desired)
            | ((i >= stagnation) & (i >= limits.min_out_epochs))
            | (i + 1 >= limits.max_out_epochs)
        )
        return w, state, sar_epoch, key, i + 1, mse, bits, sq, log, target, backslide, stagnation, stop

    reached_first = stop_test(spec, first, bits, desired)
    init = (
        w, state, sarprop_epoch, key, jnp.int32(1), first, bits, sq, log,
        f32(0.0), f32(-1.0e20), limits.max_out_epochs, reached_first | (limits.max_out_epochs <= 1),
    )  # fmt: skip
    w, _, sarprop_epoch, key, epochs, mse, bits, sq, log, *_ = jax.lax.while_loop(lambda c: ~c[-1], body, init)
    # FANN returns max_epochs (0) when it is 0 and the first epoch missed the target
    epochs = jnp.where(~reached_first & (limits.max_out_epochs == 0), 0, epochs)
    return OutputPhase(w, epochs, mse, bits, sq, log, sarprop_epoch, key)


def candidate_values(
    cand_layout: Layout, w_in: jax.Array, steep: jax.Array, v: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """fann_update_candidate_slopes' forward: clip the raw sum to ±150/s, then activate s·sum.

    Unlike fann_run, FANN clips before scaling here and hands the unscaled sum to the derivative.
    Returns (activations, derivatives), both `(B, C)`.
    """
    total = feature_dot(v, w_in)
    limit = 150.0 / steep[None, :]
    clipped = jnp.where(total > limit, limit, jnp.where(total < -limit, -limit, total))
    a = activate_layer(cand_layout, 1, steep[None, :] * clipped)
    return a, derive_layer(cand_layout, 1, steep, a, clipped)


def train_candidates(
    cand_layout: Layout,
    out_layout: Layout,
    spec: TrainSpec,
    w_in: jax.Array,
    w_out: jax.Array,
    steep: jax.Array,
    w: jax.Array,
    steep_out: jax.Array,
    v: jax.Array,
    active: jax.Array,
    y: jax.Array,
    mask: jax.Array,
    sse: jax.Array,
    mse: jax.Array,
    hyper: Hyper,
    limits: CascadeLimits,
    log_size: int,
    sarprop_epoch: jax.Array,
    key: jax.Array,
) -> CandidatePhase:
    """fann_train_candidates: train the pool `(C, F), (C, n_out)` on the outputs' residual until stagnation.

    The residual is `y - output` (halved for symmetric outputs) with the output weights `w` as
    they are, after the output phase's last update. A candidate's score is
    `sse - Σ(activation·w_out - residual)²` over samples and outputs, where `sse` is the last output
    epoch's Σdiff²; both weight sets follow the training rule on the slopes of
    Σ(activation·w_out - residual)². Stops at max_cand_epochs, on stagnation of the best score
    (after min_cand_epochs), or when best/sse exceeds the candidate limit.
    """
    trace = output_trace(out_layout, w, steep_out, v)
    diff, _, _, _ = error_totals(out_layout, trace.values[-1], y, mask, hyper.bit_fail_limit)
    residual = jnp.where(mask[:, None], diff, 0.0)
    opt = optimizer_for(cand_layout, spec)
    present = (jnp.broadcast_to(active[None, :], w_in.shape), jnp.ones_like(w_out, bool))
    num_data = jnp.maximum(jnp.sum(mask).astype(jnp.float32), 1.0)
    valid = mask[:, None, None]
    info = StepInfo(num_data, mse)
    n_out = w_out.shape[1]

    def epoch(weights: tuple[jax.Array, jax.Array], state: Any, key: jax.Array) -> tuple[Any, ...]:
        w_in, w_out = weights
        a, derived = candidate_values(cand_layout, w_in, steep, v)  # (B, C)
        diff = jnp.where(valid, a[:, :, None] * w_out[None, :, :] - residual[:, None, :], 0.0)  # (B, C, n_out)
        out_slopes = -sample_sum(2.0 * diff * a[:, :, None])  # FANN: slope -= 2·diff·activation
        error = diff[:, :, 0] * w_out[None, :, 0]
        squares = diff[:, :, 0] * diff[:, :, 0]
        for j in range(1, n_out):
            error = error + diff[:, :, j] * w_out[None, :, j]
            squares = squares + diff[:, :, j] * diff[:, :, j]
        in_slopes = -sample_dot(error * derived, v)
        scores = sse - sample_sum(squares)
        weights, state, key = _update(
            spec, opt, weights, (in_slopes, out_slopes), state, present, hyper, info, sarprop_epoch, key
        )
        return weights, state, key, scores

    weights = (w_in, w_out)
    state = _init_state(spec, opt, weights, hyper)
    f32 = jnp.float32

    def body(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        weights, state, key, i, _, _, log, target, backslide, stagnation, _ = carry
        weights, state, key, scores = epoch(weights, state, key)
        best = jnp.argmax(scores)  # first of equal scores, as FANN's strict '>' scan
        score = scores[best]
        log = log.at[i].set(score, mode="drop")
        over_limit = score / sse > limits.candidate_limit
        moved = (score > target) | (score < backslide)
        target = jnp.where(moved, score * (1 + limits.candidate_change_fraction), target)
        backslide = jnp.where(moved, score * (1 - limits.candidate_change_fraction), backslide)
        stagnation = jnp.where(moved, i + limits.candidate_stagnation_epochs, stagnation)
        stop = over_limit | ((i >= stagnation) & (i >= limits.min_cand_epochs)) | (i + 1 >= limits.max_cand_epochs)
        return weights, state, key, i + 1, best.astype(jnp.int32), scores, log, target, backslide, stagnation, stop

    log = jnp.full((log_size,), jnp.nan, jnp.float32)
    scores = jnp.zeros(w_in.shape[0], jnp.float32)
    init = (
        weights, state, key, jnp.int32(0), jnp.int32(0), scores, log,
        f32(0.0), f32(-1.0e20), limits.max_cand_epochs, limits.max_cand_epochs <= 0,
    )  # fmt: skip
    (w_in, w_out), _, key, epochs, best, scores, log, *_ = jax.lax.while_loop(lambda c: ~c[-1], body, init)
    return CandidatePhase(w_in, w_out, best, epochs, scores, log, key)


def install_values(layout: Layout, v: jax.Array, w_in: jax.Array, steep: jax.Array) -> jax.Array:
    """An installed neuron's value on the data `(B,)`, the way fann_run computes it (FANN spec §2.2).

    `layout` is `Layout((1, 1), (activation,))`; `w_in (F,)` is zero past the features in use.
    """
    z = clip_sum(feature_dot(v, w_in[None, :]), steep[None, None])
    return activate_layer(layout, 1, z)[:, 0]
