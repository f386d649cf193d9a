"""FANN's hand-written backward pass (FANN spec §2.4.1), batched over samples.

Not `jax.grad` of ½Σdiff²: FANN halves the error of symmetric outputs, optionally transforms it
with ln((1+d)/(1-d)) capped at ±17, and evaluates derivatives on clipped values (FANN spec §2.3).
A *slope* is Σ err_to · value_from: the negative gradient, so updates add it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._activations import SYMMETRIC, derivative
from ._forward import Trace, layer_input, layer_weights, trace_batch
from ._network import Layer, Layout, NetworkType, Params
from ._settings import ErrorFunction

__all__ = (
    "SAMPLE_CHUNK",
    "Slopes",
    "derive_layer",
    "epoch_slopes",
    "error_totals",
    "layer_errors",
    "output_error",
    "sample_dot",
    "sample_sum",
    "tanh_error",
)

# Sums over samples run in fixed chunks of this many rows: left to right inside a chunk, then a
# pairwise tree over the chunks. Every addition is spelled out (XLA never reassociates floats), so
# zero rows from masked padding leave every partial sum bit for bit unchanged: a data set padded
# for a population trains exactly like the unpadded one. A plain matmul or reduce over all rows
# lets XLA pick an order that depends on the row count.
SAMPLE_CHUNK = 32


def _chunks(a: jax.Array) -> jax.Array:
    rows = a.shape[0]
    k = -(-rows // SAMPLE_CHUNK)
    if k * SAMPLE_CHUNK != rows:
        a = jnp.concatenate([a, jnp.zeros((k * SAMPLE_CHUNK - rows, *a.shape[1:]), a.dtype)])
    return a.reshape(k, SAMPLE_CHUNK, *a.shape[1:])


def _tree_sum(parts: jax.Array) -> jax.Array:
    while parts.shape[0] > 1:
        if parts.shape[0] % 2:
            parts = jnp.concatenate([parts, jnp.zeros_like(parts[:1])])
        parts = parts[0::2] + parts[1::2]
    return parts[0]


def sample_dot(err: jax.Array, values: jax.Array) -> jax.Array:
    """Σ over samples of outer(err, value): `(B, n_out), (B, n_in) -> (n_out, n_in)`, padding-invariant."""
    e, v = _chunks(err), _chunks(values)
    acc = e[:, 0, :, None] * v[:, 0, None, :]
    for c in range(1, SAMPLE_CHUNK):
        acc = acc + e[:, c, :, None] * v[:, c, None, :]
    return _tree_sum(acc)


def sample_sum(a: jax.Array) -> jax.Array:
    """Σ over the leading (sample) axis, padding-invariant like `sample_dot`."""
    chunks = _chunks(a)
    acc = chunks[:, 0]
    for c in range(1, SAMPLE_CHUNK):
        acc = acc + chunks[:, c]
    return _tree_sum(acc)


class Slopes(NamedTuple):
    """An epoch's accumulated slopes and error totals for one network."""

    layers: tuple[Layer, ...]  # same tree as Params.layers, f32
    sq_sum: jax.Array  # f32 Σ diff² over valid samples and outputs (diff halved if symmetric)
    bit_fail: jax.Array  # int32 count of |diff| >= bit_fail_limit
    count: jax.Array  # f32 number of valid samples × outputs (FANN's num_MSE)


def _rowwise(values: np.ndarray, ndim: int) -> np.ndarray:
    return values.reshape((1,) * (ndim - 1) + (-1,))


def derive_layer(layout: Layout, layer: int, steepness: jax.Array, y: jax.Array, z: jax.Array) -> jax.Array:
    """f'(y) of every neuron of `layer` for arrays shaped (..., n_layer) (FANN spec §2.3)."""
    s = jnp.broadcast_to(steepness.reshape((1,) * (y.ndim - 1) + (-1,)), y.shape)
    entry = layout.activations[layer - 1]
    if not isinstance(entry, tuple):
        return derivative(entry, s, y, z)
    ids = _rowwise(np.asarray(entry), y.ndim)
    d = jnp.zeros_like(y)
    for act in sorted(set(entry)):
        d = jnp.where(ids == act, derivative(act, s, y, z), d)
    return d


def _output_diff(layout: Layout, y: jax.Array, target: jax.Array) -> jax.Array:
    diff = target - y
    symmetric = np.asarray([a in SYMMETRIC for a in layout.activation_ids(layout.num_layers - 1)])
    if symmetric.any():
        diff = jnp.where(_rowwise(symmetric, diff.ndim), diff / 2, diff)  # fann_update_MSE
    return diff


# Below this |d|, C's double quotient (1+d)/(1-d) rounds to exactly 1 and its error is exactly 0.
_TANH_ERROR_ZERO = 2.0**-54


def tanh_error(diff: jax.Array) -> jax.Array:
    """FANN's TANH error function ln((1+d)/(1-d)) (FANN spec §2.5), for |d| <= 0.9999999.

    C evaluates it in double and rounds once, so small errors keep their size and sign down to
    |d| ~ 6e-17. In float32 the quotient rounds to 1 below |d| ~ 3e-8 (and is hundreds of ulps off
    well above): near convergence the error and every slope vanished, and RPROP, which moves a
    weight by +step on a zero slope, drove converged networks apart again. log1p(d) - log1p(-d) is
    within 3 ulps of C's value and zero exactly where C's is.
    """
    return jnp.where(jnp.abs(diff) < _TANH_ERROR_ZERO, 0.0, jnp.log1p(diff) - jnp.log1p(-diff))


def error_totals(
    layout: Layout, y: jax.Array, target: jax.Array, mask: jax.Array, bit_fail_limit: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """FANN's MSE bookkeeping for outputs `y (B, n_out)`: (diff, Σdiff², bit fails, count)."""
    diff = _output_diff(layout, y, target)
    valid = mask[:, None]
    per_output = sample_sum(jnp.where(valid, diff * diff, 0.0))
    sq_sum = per_output[0]
    for j in range(1, per_output.shape[0]):
        sq_sum = sq_sum + per_output[j]
    bit_fail = jnp.sum(jnp.where(valid & (jnp.abs(diff) >= bit_fail_limit), 1, 0)).astype(jnp.int32)
    count = jnp.sum(mask).astype(jnp.float32) * layout.num_output
    return diff, sq_sum, bit_fail, count


def output_error(
    layout: Layout,
    error_function: ErrorFunction,
    params: Params,
    trace: Trace,
    target: jax.Array,
    mask: jax.Array,
    bit_fail_limit: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """`fann_compute_MSE` for a batch: output errors `(B, n_out)` and (Σdiff², bit fails, count)."""
    y, z = trace.values[-1], trace.sums[-1]
    diff, sq_sum, bit_fail, count = error_totals(layout, y, target, mask, bit_fail_limit)
    if error_function is ErrorFunction.TANH:
        diff = jnp.where(diff < -0.9999999, -17.0, jnp.where(diff > 0.9999999, 17.0, tanh_error(diff)))
    last = layout.num_layers - 1
    err = derive_layer(layout, last, params.steepness[last - 1], y, z) * diff
    return jnp.where(mask[:, None], err, 0.0), sq_sum, bit_fail, count


def layer_errors(layout: Layout, params: Params, trace: Trace, err_out: jax.Array) -> tuple[jax.Array, ...]:
    """`fann_backpropagate_MSE`: the error of every non-input layer, output error last.

    Each hidden neuron gets f'(y)·Σ err_j·w_ji over every neuron that reads it (all later layers
    in shortcut nets).
    """
    n = layout.num_layers
    errors: list[jax.Array | None] = [None] * n
    errors[n - 1] = err_out
    incoming: list[jax.Array | None] = [None] * n
    shortcut = layout.network_type is NetworkType.SHORTCUT
    offsets = np.cumsum([0, *layout.sizes])
    for layer in range(n - 1, 1, -1):
        w = layer_weights(layout, params, layer).w
        err = errors[layer]
        if shortcut:
            # only the hidden columns need errors; the input layer's are never used
            back = err @ w[:, offsets[1] :]
            for k in range(1, layer):
                part = back[:, offsets[k] - offsets[1] : offsets[k + 1] - offsets[1]]
                incoming[k] = part if incoming[k] is None else incoming[k] + part
        else:
            incoming[layer - 1] = err @ w
        k = layer - 1
        errors[k] = derive_layer(layout, k, params.steepness[k - 1], trace.values[k], trace.sums[k - 1]) * incoming[k]
    return tuple(e for e in errors[1:])  # type: ignore[misc]


def layer_slopes(layout: Layout, params: Params, trace: Trace, errors: tuple[jax.Array, ...]) -> tuple[Layer, ...]:
    """Σ over the batch of err_to · value_from for every weight (bias value 1), masks applied."""
    slopes = []
    for layer in range(1, layout.num_layers):
        err = errors[layer - 1]
        sw = sample_dot(err, layer_input(layout, trace.values, layer))
        if params.masks is not None:
            sw = jnp.where(params.masks[layer - 1], sw, 0.0)
        slopes.append(Layer(sw, sample_sum(err)))
    return tuple(slopes)


def epoch_slopes(
    layout: Layout,
    error_function: ErrorFunction,
    params: Params,
    x: jax.Array,
    y: jax.Array,
    mask: jax.Array,
    bit_fail_limit: jax.Array,
) -> Slopes:
    """One batch epoch's slopes and MSE totals, computed before any weight changes (FANN spec §2.4.1)."""
    trace = trace_batch(layout, params, x)
    err, sq_sum, bit_fail, count = output_error(layout, error_function, params, trace, y, mask, bit_fail_limit)
    errors = layer_errors(layout, params, trace, err)
    return Slopes(layer_slopes(layout, params, trace, errors), sq_sum, bit_fail, count)
