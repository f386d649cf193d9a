"""The forward pass, `fann_run` (FANN spec §2.2): per-layer sums, steepness, clip, activation.

`forward` is one example, `(n_in,) -> (n_out,)`; `forward_batch` runs `(B, n_in) -> (B, n_out)`
as one matmul per layer. Both are pure and vmappable over a leading network axis of the params.
Scaling is not applied: like FANN, call `scale_input` / `descale_output` around them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._activations import activate, clip_sum
from ._network import Layer, Layout, NetworkType, Params

__all__ = ("Trace", "forward", "forward_batch", "layer_input", "layer_weights", "trace_batch")


class Trace(NamedTuple):
    """Every neuron's value and scaled sum for a batch, as training needs them."""

    values: tuple[jax.Array, ...]  # (B, n_l) for every layer, inputs first
    sums: tuple[jax.Array, ...]  # (B, n_l) the clipped z of every non-input layer


def layer_weights(layout: Layout, params: Params, layer: int) -> Layer:
    """Layer `layer`'s (1-based) weights in f32 with absent sparse connections zeroed."""
    w = params.layers[layer - 1].w.astype(jnp.float32)
    b = params.layers[layer - 1].b.astype(jnp.float32)
    if params.masks is not None:
        w = jnp.where(params.masks[layer - 1], w, 0.0)
    return Layer(w, b)


def layer_input(layout: Layout, values: tuple[jax.Array, ...] | list[jax.Array], layer: int) -> jax.Array:
    """What layer `layer` sees: the previous layer, or all earlier layers for shortcut nets."""
    if layout.network_type is NetworkType.SHORTCUT:
        return values[0] if layer == 1 else jnp.concatenate(values[:layer], axis=-1)
    return values[layer - 1]


def activate_layer(layout: Layout, layer: int, z: jax.Array) -> jax.Array:
    """Apply layer `layer`'s activation(s) to z of shape (..., n_layer)."""
    entry = layout.activations[layer - 1]
    if not isinstance(entry, tuple):
        return activate(entry, z)
    ids = np.asarray(entry).reshape((1,) * (z.ndim - 1) + (-1,))
    y = jnp.zeros_like(z)
    for act in sorted(set(entry)):
        y = jnp.where(ids == act, activate(act, z), y)  # static per-neuron selection
    return y


def trace_batch(layout: Layout, params: Params, x: jax.Array) -> Trace:
    """Run a batch `(B, n_in)` and keep every layer's values and sums (FANN spec §2.2)."""
    values = [x.astype(jnp.float32)]
    sums = []
    for layer in range(1, layout.num_layers):
        w, b = layer_weights(layout, params, layer)
        total = layer_input(layout, values, layer) @ w.T + b[None, :]
        z = clip_sum(total, params.steepness[layer - 1][None, :])
        sums.append(z)
        values.append(activate_layer(layout, layer, z))
    return Trace(tuple(values), tuple(sums))


def forward_batch(layout: Layout, params: Params, x: jax.Array) -> jax.Array:
    """Outputs for a batch of inputs: `(B, n_in) -> (B, n_out)`."""
    return trace_batch(layout, params, x).values[-1]


def forward(layout: Layout, params: Params, x: jax.Array) -> jax.Array:
    """One network, one input: `(n_in,) -> (n_out,)` (FANN's `fann_run`). Batch with jax.vmap."""
    return forward_batch(layout, params, x[None, :])[0]
