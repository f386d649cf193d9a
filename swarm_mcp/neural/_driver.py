"""Host-side drivers around the pure functions: run, test and `train_on_data` (FANN spec §2.4.6).

These take and return `Network` values and numpy arrays. The compiled functions are cached by
layout and spec, so repeated calls with new weights, data of the same shape or new
hyper-parameters do not recompile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._datafile import Batch, TrainData, pad_data
from ._forward import forward_batch
from ._network import Network, check_params
from ._train import TrainState, check_trainable, evaluate_batch, init_train_state, train_epochs

__all__ = ("Report", "TrainResult", "evaluate_data", "run", "train_on_data")

DEFAULT_WINDOW = 128

_forward_jit = jax.jit(forward_batch, static_argnums=0)
_test_jit = jax.jit(evaluate_batch, static_argnums=0)
_train_jit = jax.jit(train_epochs, static_argnames=("layout", "spec", "window"), donate_argnames=("params", "state"))


class Report(NamedTuple):
    """What a training callback sees at a report point."""

    epoch: int  # epochs done so far (1-based, as FANN counts)
    mse: float  # MSE of that epoch
    bit_fail: int  # bit fails of that epoch


class TrainResult(NamedTuple):
    network: Network  # the trained network
    state: TrainState  # optimizer state: pass back as `state=` to continue like FANN does
    mse: np.ndarray  # (epochs,) MSE of every epoch run
    bit_fail: np.ndarray  # (epochs,) bit fails of every epoch run
    reached: bool  # the stop test passed (desired error reached)
    cancelled: bool  # the callback returned False


def run(network: Network, inputs: np.ndarray | jax.Array) -> np.ndarray:
    """`fann_run` on `(n_in,)` or `(B, n_in)` inputs; returns float32 `(n_out,)` or `(B, n_out)`.

    No scaling is applied (as in FANN); see `scale_input` / `descale_output`.

    Raises:
        InvalidArgument: the input width does not match the network.
    """
    x = jnp.asarray(inputs, jnp.float32)
    if x.ndim not in (1, 2) or x.shape[-1] != network.layout.num_input:
        raise InvalidArgument(
            f"inputs must be (n_in,) or (B, n_in) with n_in={network.layout.num_input}, got {x.shape}"
        )
    y = _forward_jit(network.layout, network.params, x if x.ndim == 2 else x[None, :])
    return np.asarray(y if x.ndim == 2 else y[0])


def _as_batch(network: Network, data: TrainData | Batch) -> Batch:
    batch = pad_data(data) if isinstance(data, TrainData) else data
    n_in, n_out = batch.x.shape[-1], batch.y.shape[-1]
    if (n_in, n_out) != (network.layout.num_input, network.layout.num_output):
        raise InvalidArgument(
            f"data has {n_in} inputs / {n_out} outputs, the network {network.layout.num_input} / {network.layout.num_output}"
        )
    return batch


def evaluate_data(network: Network, data: TrainData | Batch) -> tuple[float, int]:
    """`fann_test_data`: (MSE, bit_fail) over the data set, weights unchanged.

    Raises:
        InvalidArgument: the data's widths do not match the network.
    """
    batch = _as_batch(network, data)
    mse, bit_fail = _test_jit(network.layout, network.params, batch, jnp.float32(network.training.bit_fail_limit))
    return float(mse), int(bit_fail)


def train_on_data(
    network: Network,
    data: TrainData | Batch,
    *,
    max_epochs: int,
    desired_error: float = 0.0,
    epochs_between_reports: int = 0,
    callback: Callable[[Report], bool | None] | None = None,
    state: TrainState | None = None,
    key: jax.Array | None = None,
    window: int = DEFAULT_WINDOW,
) -> TrainResult:
    """`fann_train_on_data`: train until `max_epochs` or the stop test passes (FANN spec §2.4.6).

    Runs `window` epochs per compiled call at most. With `epochs_between_reports > 0` and a
    `callback`, the callback gets a `Report` on epoch 1, every `epochs_between_reports`
    epochs, the last epoch and the epoch the desired error is reached; returning False stops
    training there (FANN's callback returning -1). `key` seeds SARPROP's noise; `state`
    continues an earlier run's optimizer state.

    Raises:
        InvalidArgument: negative epochs, mismatched data, or an untrainable activation.
    """
    if max_epochs < 0 or epochs_between_reports < 0 or window < 1:
        raise InvalidArgument("max_epochs and epochs_between_reports must be >= 0 and window >= 1")
    layout, spec = network.layout, network.training.spec()
    check_params(layout, network.params)
    check_trainable(layout)
    batch = _as_batch(network, data)
    hyper = network.training.hyper(desired_error)
    if state is None:
        state = init_train_state(layout, spec, network.params, hyper, key)
    state = state._replace(stopped=jnp.bool_(False))  # FANN keeps no stop flag between calls
    # the compiled loop consumes (donates) its inputs: never hand it the caller's arrays
    params, state = jax.tree.map(jnp.copy, (network.params, state))
    reporting = callback is not None and epochs_between_reports > 0
    mses: list[np.ndarray] = []
    bits: list[np.ndarray] = []
    done, reached, cancelled = 0, False, False
    while done < max_epochs:
        if reporting:
            target = 1 if done == 0 else min((done // epochs_between_reports + 1) * epochs_between_reports, max_epochs)
        else:
            target = max_epochs
        count = min(target - done, window)
        params, state, log = _train_jit(layout, spec, params, state, batch, hyper, count, window=window)
        ran = int(log.epochs)
        mses.append(np.asarray(log.mse[:ran]))
        bits.append(np.asarray(log.bit_fail[:ran]))
        done += ran
        reached = bool(state.stopped)
        if reporting and (done == target or reached):
            report = Report(done, float(mses[-1][-1]), int(bits[-1][-1]))
            verdict = callback(report)  # type: ignore[misc]
            if verdict is False or (isinstance(verdict, int) and not isinstance(verdict, bool) and verdict == -1):
                cancelled = True
                break
        if reached or ran == 0:
            break
    trained = network.replace(params=params)
    mse = np.concatenate(mses) if mses else np.zeros(0, np.float32)
    bit_fail = np.concatenate(bits) if bits else np.zeros(0, np.int32)
    return TrainResult(trained, state, mse, bit_fail, reached, cancelled)
