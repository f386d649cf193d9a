"""Cascade2 training (FANN spec §2.6): grow a shortcut network one hidden neuron at a time.

`cascade_train_on_data` is C FANN's `fann_cascadetrain_on_data` loop over the steps in
`_cascade_steps`: train the outputs; stop once that phase's MSE (or bit fails) passes the stop
test; otherwise draw, train and install a candidate; after the last round train the outputs once
more. What it returns is judged like C FANN's user judges it: `fann_test_data` on the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from swarm_mcp.errors import InvalidArgument

from ._cascade_steps import (
    Candidates,
    cascade_initialize_candidates,
    cascade_install_candidate,
    cascade_network,
    cascade_start,
    cascade_train_candidates,
    cascade_train_outputs,
)
from ._datafile import Batch, TrainData
from ._driver import evaluate_data
from ._network import Network
from ._train import stop_test

__all__ = ("CascadeReport", "CascadeResult", "cascade_train_on_data")


class CascadeReport(NamedTuple):
    """What the cascade callback sees after a round's output training."""

    neurons: int  # hidden neurons added so far
    epochs: int  # total epochs so far (output and candidate training)
    mse: float  # MSE of the round's last output epoch (fann_get_MSE)
    bit_fail: int


class CascadeResult(NamedTuple):
    network: Network  # the grown shortcut network
    mse: float  # the grown network's MSE on the data (fann_test_data after the final output training)
    bit_fail: int  # its bit fails on the data
    neurons_added: int
    epochs: int  # total epochs, as FANN passes them to the callback
    reached: bool  # `mse` (or `bit_fail`) passes the stop test: the desired error was reached
    cancelled: bool  # the callback returned False


def cascade_train_on_data(
    network: Network,
    data: TrainData | Batch,
    *,
    max_neurons: int,
    desired_error: float = 0.0,
    neurons_between_reports: int = 0,
    callback: Callable[[CascadeReport], bool | None] | None = None,
    key: jax.Array,
    candidates: Iterable[Candidates] | None = None,
) -> CascadeResult:
    """`fann_cascadetrain_on_data`: add up to `max_neurons` hidden neurons (FANN spec §2.6).

    Starts from a SHORTCUT network (usually `create_shortcut((n_in, n_out))`) and uses its
    `cascade` settings (FANN's defaults: 80 candidates, output/candidate stagnation, weight
    multiplier 0.4). Each round trains the outputs and stops growing as soon as that phase's last
    epoch meets the desired error (C FANN's test); otherwise it trains the candidate pool and
    installs the best candidate as a new one-neuron layer before the outputs. The outputs are
    trained once more at the end, without a target. `reached` and `mse` describe the network
    returned, so they always agree, including when the neuron added last is the one that meets
    the target (C FANN's loop has no round left to notice it; its user sees it in fann_test_data).

    `key` draws each round's candidates and SARPROP's noise. `candidates` replaces the draws with
    given initial weights, one `Candidates` per round in order (to replay another run, such as C
    FANN's). The callback gets a `CascadeReport` after the output training of round 1, every
    `neurons_between_reports` rounds, the last round and the round that reaches the target;
    returning False stops growing (the outputs are still trained once more).

    Raises:
        InvalidArgument: not a dense shortcut network, an algorithm other than RPROP, Quickprop or
            SARPROP, mismatched data, an untrainable activation, or `candidates` running out.
    """
    if neurons_between_reports < 0:
        raise InvalidArgument("neurons_between_reports must be >= 0")
    noise_key, draw_key = jax.random.split(key)
    state = cascade_start(network, data, max_neurons=max_neurons, key=noise_key)
    spec, desired = network.training.spec(), jnp.float32(desired_error)
    given = iter(candidates) if candidates is not None else None
    total_epochs, cancelled = 0, False
    for round_ in range(1, max_neurons + 1):
        state, outputs = cascade_train_outputs(state, desired_error)
        total_epochs += int(outputs.epochs)
        reached = bool(stop_test(spec, outputs.mse, outputs.bit_fail, desired))
        if (
            neurons_between_reports
            and callback is not None
            and (round_ % neurons_between_reports == 0 or round_ == max_neurons or round_ == 1 or reached)
        ):
            report = CascadeReport(round_ - 1, total_epochs, float(outputs.mse), int(outputs.bit_fail))
            if callback(report) is False:
                cancelled = True
                break
        if reached:
            break
        if given is None:
            pool = cascade_initialize_candidates(state, jax.random.fold_in(draw_key, round_))
        else:
            pool = next(given, None)
            if pool is None:
                raise InvalidArgument(f"candidates ran out before round {round_}: give one Candidates per round")
        trained = cascade_train_candidates(state, pool)
        total_epochs += int(trained.epochs)
        state = cascade_install_candidate(state, Candidates(trained.w_in, trained.w_out), int(trained.best))
    state, outputs = cascade_train_outputs(state, 0.0)
    total_epochs += int(outputs.epochs)
    grown = cascade_network(state)
    mse, bit_fail = evaluate_data(grown, state.batch)
    reached = bool(stop_test(spec, jnp.float32(mse), jnp.int32(bit_fail), desired))
    return CascadeResult(grown, mse, bit_fail, len(state.hidden), total_epochs, reached, cancelled)
