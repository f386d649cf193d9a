"""FANN's weight-update rules as `(init, update)` pairs of pure functions (FANN spec §2.4.2-2.4.5).

`update(layers, slopes, state, hyper, info)` consumes an epoch's slopes (Σ err·value, the
negative gradient) and returns new f32 layers and state. Hyper-parameters arrive as traced
scalars (`Hyper`), so changing them never recompiles. Incremental training uses the same shape
of pair, called once per sample with that sample's slopes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._network import Layer, Layout, NetworkType
from ._settings import Algorithm, Hyper, TrainSpec

__all__ = (
    "AdamState",
    "MomentumState",
    "Optimizer",
    "QuickpropState",
    "RpropState",
    "SarpropState",
    "StepInfo",
    "optimizer_for",
    "sarprop_flat",
)

Layers = tuple[Layer, ...]


class StepInfo(NamedTuple):
    """Per-epoch facts some rules need."""

    num_data: jax.Array  # f32: valid samples in the epoch (FANN's num_data)
    mse: jax.Array  # f32: the epoch's MSE, as fann_get_MSE returns it before the update
    masks: tuple[jax.Array, ...] | None = None  # sparse connection masks (Params.masks)


class Optimizer(NamedTuple):
    init: Callable[[Layers, Hyper, jax.Array], Any]
    update: Callable[[Layers, Layers, Any, Hyper, StepInfo], tuple[Layers, Any]]
    per_sample: bool = False  # True: FANN_TRAIN_INCREMENTAL, update after every sample


def _map(fn: Callable[..., Any], *trees: Any) -> Any:
    return jax.tree.map(fn, *trees)


# -------------------------------------------------------------------------- incremental (§2.4.2)
class MomentumState(NamedTuple):
    prev_delta: Layers  # FANN's prev_weights_deltas


def _incremental_init(layers: Layers, hyper: Hyper, key: jax.Array) -> MomentumState:
    return MomentumState(_map(jnp.zeros_like, layers))


def _incremental_update(
    layers: Layers, slopes: Layers, state: MomentumState, hyper: Hyper, info: StepInfo
) -> tuple[Layers, MomentumState]:
    # `slopes` are already err·lr·value here (see _train): Δw = that + momentum·Δw_prev
    delta = _map(lambda s, p: s + hyper.learning_momentum * p, slopes, state.prev_delta)
    return _map(jnp.add, layers, delta), MomentumState(delta)


# -------------------------------------------------------------------------------- batch (§2.4.2)
def _batch_init(layers: Layers, hyper: Hyper, key: jax.Array) -> tuple[()]:
    return ()


def _batch_update(
    layers: Layers, slopes: Layers, state: tuple[()], hyper: Hyper, info: StepInfo
) -> tuple[Layers, tuple[()]]:
    epsilon = hyper.learning_rate / info.num_data
    return _map(lambda w, s: w + s * epsilon, layers, slopes), state


# -------------------------------------------------------------------------------- RPROP (§2.4.3)
class RpropState(NamedTuple):
    step: Layers  # FANN's prev_steps
    prev_slope: Layers  # FANN's prev_train_slopes


def _rprop_init(layers: Layers, hyper: Hyper, key: jax.Array) -> RpropState:
    return RpropState(_map(lambda w: jnp.full_like(w, hyper.rprop_delta_zero), layers), _map(jnp.zeros_like, layers))


def _rprop_move(
    w: jax.Array, slope: jax.Array, step: jax.Array, prev: jax.Array, hyper: Hyper
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """FANN's iRPROP- step for one layer: (weight moved by ±step, clipped to ±1500; the new step;
    the slope to remember, zeroed after a sign change). A zero slope moves by +step."""
    prev_step = jnp.maximum(step, 0.0001)
    grow = prev * slope >= 0
    next_step = jnp.where(
        grow,
        jnp.minimum(prev_step * hyper.rprop_increase_factor, hyper.rprop_delta_max),
        jnp.maximum(prev_step * hyper.rprop_decrease_factor, hyper.rprop_delta_min),
    )
    slope = jnp.where(grow, slope, 0.0)
    moved = jnp.where(slope < 0, jnp.maximum(w - next_step, -1500.0), jnp.minimum(w + next_step, 1500.0))
    return moved, next_step, slope


def _rprop_fann_update(
    layers: Layers, slopes: Layers, state: RpropState, hyper: Hyper, info: StepInfo
) -> tuple[Layers, RpropState]:
    """fann_update_weights_irpropm: moves by +step when the slope is 0 (FANN spec §2.4.3)."""

    def one(w: jax.Array, slope: jax.Array, step: jax.Array, prev: jax.Array) -> tuple[jax.Array, ...]:
        return _rprop_move(w, slope, step, prev, hyper)

    out = _map(one, layers, slopes, state.step, state.prev_slope)
    return _unzip3(layers, out, RpropState)


def _rprop_textbook_update(
    layers: Layers, slopes: Layers, state: RpropState, hyper: Hyper, info: StepInfo
) -> tuple[Layers, RpropState]:
    """iRPROP- as published: FANN's step arithmetic, but a zero slope (which includes the epoch
    after a sign change) leaves the weight alone instead of adding +step (FANN spec §2.4.3)."""

    def one(w: jax.Array, slope: jax.Array, step: jax.Array, prev: jax.Array) -> tuple[jax.Array, ...]:
        moved, next_step, slope = _rprop_move(w, slope, step, prev, hyper)
        return jnp.where(slope == 0, w, moved), next_step, slope

    out = _map(one, layers, slopes, state.step, state.prev_slope)
    return _unzip3(layers, out, RpropState)


def _unzip3(layers: Layers, out: Any, kind: type) -> tuple[Layers, Any]:
    outer = jax.tree.structure(layers)
    inner = jax.tree.structure((0, 0, 0))
    w, a, b = jax.tree.transpose(outer, inner, out)
    return w, kind(a, b)


# ---------------------------------------------------------------------------- Quickprop (§2.4.4)
class QuickpropState(NamedTuple):
    step: Layers  # FANN's prev_steps (signed)
    prev_slope: Layers


def _zeros2_init(kind: type) -> Callable[[Layers, Hyper, jax.Array], Any]:
    def init(layers: Layers, hyper: Hyper, key: jax.Array) -> Any:
        return kind(_map(jnp.zeros_like, layers), _map(jnp.zeros_like, layers))

    return init


def _quickprop_update(
    layers: Layers, slopes: Layers, state: QuickpropState, hyper: Hyper, info: StepInfo
) -> tuple[Layers, QuickpropState]:
    epsilon = hyper.learning_rate / info.num_data
    mu = hyper.quickprop_mu
    shrink = mu / (1 + mu)

    def one(w: jax.Array, slope: jax.Array, prev_step: jax.Array, prev_slope: jax.Array) -> tuple[jax.Array, ...]:
        slope = slope + hyper.quickprop_decay * w
        quad = prev_step * slope / (prev_slope - slope)
        up = jnp.where(slope > 0, epsilon * slope, 0.0) + jnp.where(slope > shrink * prev_slope, mu * prev_step, quad)
        down = jnp.where(slope < 0, epsilon * slope, 0.0) + jnp.where(slope < shrink * prev_slope, mu * prev_step, quad)
        next_step = jnp.where(prev_step > 0.001, up, jnp.where(prev_step < -0.001, down, epsilon * slope))
        w = jnp.clip(w + next_step, -1500.0, 1500.0)
        return w, next_step, slope

    out = _map(one, layers, slopes, state.step, state.prev_slope)
    return _unzip3(layers, out, QuickpropState)


# ------------------------------------------------------------------------------ SARPROP (§2.4.5)
class SarpropState(NamedTuple):
    step: Layers
    prev_slope: Layers
    epoch: jax.Array  # int32: FANN's sarprop_epoch, the annealing clock
    key: jax.Array  # PRNG key: SARPROP's noise (FANN calls libc rand())


def fann_order(layout: Layout, layer: int, masked: bool) -> np.ndarray:
    """Column permutation of `concat([b[:, None], w], 1)` giving FANN's connection order.

    Dense layered: sources then bias; shortcut: inputs, bias, hidden; sparse: bias first
    (FANN spec §2.9; absent sparse connections are skipped by the caller).
    """
    fan_in = layout.fan_in(layer)
    if masked:
        return np.arange(fan_in + 1)
    if layout.network_type is NetworkType.SHORTCUT:
        n_in = layout.sizes[0]
        return np.concatenate([1 + np.arange(n_in), [0], 1 + np.arange(n_in, fan_in)])
    return np.concatenate([1 + np.arange(fan_in), [0]])


def sarprop_flat(
    w: jax.Array,
    slopes: jax.Array,
    prev_steps: jax.Array,
    prev_slopes: jax.Array,
    present: jax.Array,
    epoch: jax.Array,
    key: jax.Array,
    hyper: Hyper,
    mse: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """fann_update_weights_sarprop over weights flattened in FANN's memory order (FANN spec §2.4.5).

    `present` marks real connections (absent sparse ones neither move nor pass a step on).
    Returns (weights, next steps, stored slopes, next key).
    """
    key, noise_key = jax.random.split(key)
    t = hyper.sarprop_temperature
    clock = epoch.astype(jnp.float32)
    prev_step = jnp.maximum(prev_steps, 0.000001)
    slope = -slopes - w * jnp.exp2(-t * clock + hyper.sarprop_weight_decay_shift)
    same = prev_slopes * slope
    grow = same > 0
    shrink = same < 0
    grown = jnp.minimum(prev_step * hyper.rprop_increase_factor, hyper.rprop_delta_max)
    noise = jax.random.uniform(noise_key, w.shape, jnp.float32)
    shrunk = jnp.where(
        prev_step < hyper.sarprop_step_error_threshold_factor * mse,
        prev_step * hyper.rprop_decrease_factor
        + noise * jnp.sqrt(mse) * jnp.exp2(-t * clock + hyper.sarprop_step_error_shift),
        jnp.maximum(prev_step * hyper.rprop_decrease_factor, 0.000001),
    )
    # FANN's `next_step` is one C variable that keeps the last value it was given: a weight taking
    # the same_sign == 0 branch stores the step of the previous weight that set one (0 at first).
    assigned = (grow | shrink) & present
    value = jnp.where(grow, grown, shrunk)
    last = jax.lax.cummax(jnp.where(assigned, jnp.arange(w.shape[0]), -1), axis=0)
    next_step = jnp.where(assigned, value, jnp.where(last >= 0, value[jnp.maximum(last, 0)], 0.0))
    move = jnp.where(grow, grown, jnp.where(shrink, 0.0, prev_step))
    w = w + jnp.where(slope < 0, move, -move)
    return w, next_step, jnp.where(shrink, 0.0, slope), key


def _sarprop_update_factory(layout: Layout) -> Callable[..., tuple[Layers, SarpropState]]:
    def update(
        layers: Layers, slopes: Layers, state: SarpropState, hyper: Hyper, info: StepInfo
    ) -> tuple[Layers, SarpropState]:
        # FANN walks all weights in memory order, and its step bookkeeping depends on that order.
        def flat(tree: Layers, layer_masks: Any) -> tuple[jax.Array, jax.Array]:
            parts, present = [], []
            for i, lay in enumerate(tree):
                cols = fann_order(layout, i + 1, layer_masks is not None)
                full = jnp.concatenate([lay.b[:, None], lay.w], axis=1)[:, cols]
                parts.append(full.reshape(-1))
                if layer_masks is None:
                    present.append(jnp.ones(full.size, bool))
                else:
                    m = jnp.concatenate([jnp.ones((lay.w.shape[0], 1), bool), layer_masks[i]], axis=1)[:, cols]
                    present.append(m.reshape(-1))
            return jnp.concatenate(parts), jnp.concatenate(present)

        def unflat(vector: jax.Array) -> Layers:
            out, at = [], 0
            for i, lay in enumerate(layers):
                n, fan_in = lay.w.shape
                cols = fann_order(layout, i + 1, masks is not None)
                block = vector[at : at + n * (fan_in + 1)].reshape(n, fan_in + 1)
                at += n * (fan_in + 1)
                full = block[:, np.argsort(cols)]
                out.append(Layer(full[:, 1:], full[:, 0]))
            return tuple(out)

        masks = info.masks
        w, present = flat(layers, masks)
        w, next_step, slope, key = sarprop_flat(
            w,
            flat(slopes, masks)[0],
            flat(state.step, masks)[0],
            flat(state.prev_slope, masks)[0],
            present,
            state.epoch,
            state.key,
            hyper,
            info.mse,
        )
        new_state = SarpropState(unflat(next_step), unflat(slope), state.epoch + 1, key)
        return unflat(w), new_state

    return update


def _sarprop_init(layers: Layers, hyper: Hyper, key: jax.Array) -> SarpropState:
    return SarpropState(_map(jnp.zeros_like, layers), _map(jnp.zeros_like, layers), jnp.int32(0), key)


# ----------------------------------------------------------------------------- Adam / AdamW
class AdamState(NamedTuple):
    m: Layers
    v: Layers
    count: jax.Array  # int32 number of updates so far


def _adam_init(layers: Layers, hyper: Hyper, key: jax.Array) -> AdamState:
    return AdamState(_map(jnp.zeros_like, layers), _map(jnp.zeros_like, layers), jnp.int32(0))


def _adam_factory(decoupled_decay: bool) -> Callable[..., tuple[Layers, AdamState]]:
    def update(
        layers: Layers, slopes: Layers, state: AdamState, hyper: Hyper, info: StepInfo
    ) -> tuple[Layers, AdamState]:
        # The gradient of the mean FANN error is -slope/N: the same slopes FANN's rules use.
        b1, b2 = hyper.adam_beta1, hyper.adam_beta2
        count = state.count + 1
        t = count.astype(jnp.float32)
        grads = _map(lambda s: -s / info.num_data, slopes)
        m = _map(lambda m, g: b1 * m + (1 - b1) * g, state.m, grads)
        v = _map(lambda v, g: b2 * v + (1 - b2) * g * g, state.v, grads)
        scale = hyper.adam_learning_rate * jnp.sqrt(1 - b2**t) / (1 - b1**t)
        eps = hyper.adam_epsilon * jnp.sqrt(1 - b2**t)

        def step(w: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            if decoupled_decay:
                w = w - hyper.adam_learning_rate * hyper.adamw_weight_decay * w
            return w - scale * m / (jnp.sqrt(v) + eps)

        return _map(step, layers, m, v), AdamState(m, v, count)

    return update


_RPROP = Optimizer(_rprop_init, _rprop_fann_update)
_RPROP_TEXTBOOK = Optimizer(_rprop_init, _rprop_textbook_update)
_INCREMENTAL = Optimizer(_incremental_init, _incremental_update, per_sample=True)
_BATCH = Optimizer(_batch_init, _batch_update)
_QUICKPROP = Optimizer(_zeros2_init(QuickpropState), _quickprop_update)
_ADAM = Optimizer(_adam_init, _adam_factory(False))
_ADAMW = Optimizer(_adam_init, _adam_factory(True))


def optimizer_for(layout: Layout, spec: TrainSpec) -> Optimizer:
    """The update rule `spec` selects. SARPROP's rule depends on the layout (FANN's weight order)."""
    if spec.algorithm is Algorithm.RPROP:
        return _RPROP if spec.rprop_variant == "fann" else _RPROP_TEXTBOOK
    if spec.algorithm is Algorithm.SARPROP:
        return Optimizer(_sarprop_init, _sarprop_update_factory(layout))
    return {
        Algorithm.INCREMENTAL: _INCREMENTAL,
        Algorithm.BATCH: _BATCH,
        Algorithm.QUICKPROP: _QUICKPROP,
        Algorithm.ADAM: _ADAM,
        Algorithm.ADAMW: _ADAMW,
    }[spec.algorithm]
