"""Training epochs exactly as FANN runs them (FANN spec §2.4), fused K at a time.

Pure functions over one network (`layout` and `spec` static, everything else traced) that vmap
over a leading network axis: `init_train_state`, `train_epoch`, `train_epochs`, `evaluate_batch`.
`train_epochs` runs up to `window` epochs in one `lax.while_loop`; once the stop test passes
(FANN spec §2.4.6) the network's weights freeze, so a population can stop agent by agent.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from swarm_mcp.errors import InvalidArgument

from ._activations import TRAINABLE, Activation
from ._backprop import epoch_slopes, error_totals, layer_errors, output_error
from ._datafile import Batch
from ._forward import forward_batch, layer_input, trace_batch
from ._network import Layer, Layout, Params
from ._optimizers import Optimizer, StepInfo, optimizer_for
from ._settings import Hyper, StopFunction, TrainSpec

__all__ = (
    "EpochLog",
    "TrainState",
    "check_trainable",
    "evaluate_batch",
    "init_train_state",
    "stop_test",
    "train_epoch",
    "train_epochs",
)


class TrainState(NamedTuple):
    """Optimizer state plus the stop flag; a pytree that stacks like the params."""

    opt: Any  # the rule's state (RpropState, QuickpropState, ...)
    stopped: jax.Array  # bool: the stop test passed; later epochs change nothing


class EpochLog(NamedTuple):
    """Per-epoch results of one `train_epochs` call (length `window`)."""

    mse: jax.Array  # (window,) f32; NaN where no epoch ran
    bit_fail: jax.Array  # (window,) int32; -1 where no epoch ran
    epochs: jax.Array  # int32: how many epochs ran


def check_trainable(layout: Layout) -> None:
    """Raise InvalidArgument when the layout uses FANN_THRESHOLD, which FANN cannot train."""
    for layer in range(1, layout.num_layers):
        bad = set(layout.activation_ids(layer)) - TRAINABLE
        if bad:
            raise InvalidArgument(
                f"layer {layer} uses {Activation(min(bad)).name}, which FANN cannot train; "
                "choose a differentiable activation (any id but 1)"
            )


def init_train_state(
    layout: Layout, spec: TrainSpec, params: Params, hyper: Hyper, key: jax.Array | None = None
) -> TrainState:
    """Fresh training state, as FANN's `fann_clear_train_arrays` leaves it (FANN spec §2.4.3).

    `key` seeds SARPROP's noise (ignored by the other rules).
    """
    layers = _f32_layers(params)
    key = jax.random.key(0) if key is None else key
    return TrainState(optimizer_for(layout, spec).init(layers, hyper, key), jnp.bool_(False))


def _f32_layers(params: Params) -> tuple[Layer, ...]:
    return tuple(Layer(l.w.astype(jnp.float32), l.b.astype(jnp.float32)) for l in params.layers)


def _store(layout: Layout, params: Params, layers: tuple[Layer, ...]) -> Params:
    if params.masks is not None:
        layers = tuple(Layer(jnp.where(m, l.w, 0.0), l.b) for l, m in zip(layers, params.masks, strict=True))
    dtype = layout.dtype
    return params._replace(layers=tuple(Layer(l.w.astype(dtype), l.b.astype(dtype)) for l in layers))


def _batch_epoch(
    layout: Layout, spec: TrainSpec, opt: Optimizer, params: Params, state: Any, batch: Batch, hyper: Hyper
) -> tuple[Params, Any, jax.Array, jax.Array]:
    totals = epoch_slopes(layout, spec.error_function, params, batch.x, batch.y, batch.mask, hyper.bit_fail_limit)
    mse = totals.sq_sum / jnp.maximum(totals.count, 1.0)
    info = StepInfo(jnp.maximum(jnp.sum(batch.mask).astype(jnp.float32), 1.0), mse, params.masks)
    layers, state = opt.update(_f32_layers(params), totals.layers, state, hyper, info)
    return _store(layout, params, layers), state, mse, totals.bit_fail


def _incremental_epoch(
    layout: Layout, spec: TrainSpec, opt: Optimizer, params: Params, state: Any, batch: Batch, hyper: Hyper
) -> tuple[Params, Any, jax.Array, jax.Array]:
    """fann_train_epoch_incremental: fann_train on every sample in order (FANN spec §2.4.2).

    For sparse nets this uses each connection's real source value. FANN 2.2.0 does not: its
    incremental update reads `prev_neurons[i]` (the first neurons of the whole net) instead of
    `connections[i]`, a bug we do not reproduce (dense and shortcut nets are unaffected).
    """
    info = StepInfo(jnp.float32(1.0), jnp.float32(0.0), params.masks)

    def sample(carry: tuple[Params, Any, jax.Array, jax.Array], row: tuple[jax.Array, ...]) -> tuple[Any, None]:
        p, s, sq_sum, bits = carry
        x, y, valid = row
        mask = valid[None]
        trace = trace_batch(layout, p, x[None, :])
        err, sq, bf, _ = output_error(layout, spec.error_function, p, trace, y[None, :], mask, hyper.bit_fail_limit)
        errors = layer_errors(layout, p, trace, err)
        steps = []
        for layer in range(1, layout.num_layers):
            scaled = errors[layer - 1][0] * hyper.learning_rate  # FANN: tmp_error = err·lr, then ·value
            steps.append(Layer(scaled[:, None] * layer_input(layout, trace.values, layer)[0][None, :], scaled))
        if p.masks is not None:
            steps = [Layer(jnp.where(m, st.w, 0.0), st.b) for st, m in zip(steps, p.masks, strict=True)]
        layers, s2 = opt.update(_f32_layers(p), tuple(steps), s, hyper, info)
        p2 = _store(layout, p, layers)
        p, s = jax.tree.map(lambda new, old: jnp.where(valid, new, old), (p2, s2), (p, s))
        return (p, s, sq_sum + sq, bits + bf), None

    zero = (jnp.float32(0.0), jnp.int32(0))
    (params, state, sq_sum, bit_fail), _ = jax.lax.scan(sample, (params, state, *zero), (batch.x, batch.y, batch.mask))
    count = jnp.sum(batch.mask).astype(jnp.float32) * layout.num_output
    return params, state, sq_sum / jnp.maximum(count, 1.0), bit_fail


def train_epoch(
    layout: Layout, spec: TrainSpec, params: Params, state: TrainState, batch: Batch, hyper: Hyper
) -> tuple[Params, TrainState, jax.Array, jax.Array]:
    """One `fann_train_epoch` (FANN spec §2.4.6): returns (params, state, MSE, bit_fail).

    The MSE and bit-fail count are accumulated before (batch rules) or while (incremental) the
    weights change, as FANN reports them. Ignores `state.stopped`; see `train_epochs`.
    """
    opt = optimizer_for(layout, spec)
    run = _incremental_epoch if opt.per_sample else _batch_epoch
    params, opt_state, mse, bit_fail = run(layout, spec, opt, params, state.opt, batch, hyper)
    return params, TrainState(opt_state, state.stopped), mse, bit_fail


def stop_test(spec: TrainSpec, mse: jax.Array, bit_fail: jax.Array, desired_error: jax.Array) -> jax.Array:
    """fann_desired_error_reached: MSE <= desired_error, or bit_fail <= (unsigned) desired_error."""
    if spec.stop_function is StopFunction.BIT:
        return bit_fail.astype(jnp.float32) <= jnp.floor(desired_error)  # (unsigned) desired_error
    return mse <= desired_error


def train_epochs(
    layout: Layout,
    spec: TrainSpec,
    params: Params,
    state: TrainState,
    batch: Batch,
    hyper: Hyper,
    num_epochs: jax.Array | int,
    *,
    window: int,
) -> tuple[Params, TrainState, EpochLog]:
    """Run up to `num_epochs` (≤ `window`, traced) epochs in one fused loop.

    After each epoch the stop test (MSE ≤ desired_error, or bit_fail ≤ desired_error for
    StopFunction.BIT) is applied; once it passes, `state.stopped` is set and the weights are
    kept from that epoch on, as FANN's `fann_train_on_data` breaks out of its loop. Under
    vmap each network stops on its own. `window` (static) sizes the returned per-epoch arrays.
    """
    num_epochs = jnp.minimum(jnp.asarray(num_epochs, jnp.int32), window)
    log = EpochLog(jnp.full((window,), jnp.nan, jnp.float32), jnp.full((window,), -1, jnp.int32), jnp.int32(0))

    def active(carry: tuple[Params, TrainState, EpochLog]) -> jax.Array:
        _, st, lg = carry
        return (lg.epochs < num_epochs) & ~st.stopped

    def body(carry: tuple[Params, TrainState, EpochLog]) -> tuple[Params, TrainState, EpochLog]:
        p, st, lg = carry
        go = active(carry)
        p2, st2, mse, bit_fail = train_epoch(layout, spec, p, st, batch, hyper)
        p, opt = jax.tree.map(lambda new, old: jnp.where(go, new, old), (p2, st2.opt), (p, st.opt))
        stopped = st.stopped | (go & stop_test(spec, mse, bit_fail, hyper.desired_error))
        i = lg.epochs
        lg = EpochLog(
            lg.mse.at[i].set(jnp.where(go, mse, lg.mse[i]), mode="drop"),
            lg.bit_fail.at[i].set(jnp.where(go, bit_fail, lg.bit_fail[i]), mode="drop"),
            i + go.astype(jnp.int32),
        )
        return p, TrainState(opt, stopped), lg

    params, state, log = jax.lax.while_loop(active, body, (params, state, log))
    return params, state, log


def evaluate_batch(
    layout: Layout, params: Params, batch: Batch, bit_fail_limit: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """`fann_test_data`: (MSE, bit_fail) of the network on a batch, without training."""
    y = forward_batch(layout, params, batch.x)
    _, sq_sum, bit_fail, count = error_totals(layout, y, batch.y, batch.mask, bit_fail_limit)
    return sq_sum / jnp.maximum(count, 1.0), bit_fail
