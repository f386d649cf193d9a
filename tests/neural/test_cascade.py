"""Cascade2 (FANN spec §2.6): grows a shortcut network that learns, saves and reloads like any other."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import (
    Algorithm,
    CascadeReport,
    CascadeResult,
    NetworkType,
    TrainData,
    cascade_train_on_data,
    create_shortcut,
    create_standard,
    evaluate_data,
    format_net,
    network_from_json,
    network_to_json,
    read_data,
    read_net,
    run,
    write_net,
)


@pytest.fixture(scope="module")
def spiral(data_dir: Path) -> TrainData:
    return read_data(data_dir / "two-spiral.train")


@pytest.fixture(scope="module")
def grown(spiral: TrainData) -> tuple[CascadeResult, list[CascadeReport], float]:
    net = create_shortcut(
        (2, 1), key=jax.random.key(0), activation_hidden="SIGMOID_SYMMETRIC", activation_output="SIGMOID"
    )
    before, _ = evaluate_data(net, spiral)
    reports: list[CascadeReport] = []
    result = cascade_train_on_data(
        net, spiral, max_neurons=6, neurons_between_reports=2, callback=reports.append, key=jax.random.key(1)
    )
    return result, reports, before


def test_cascade_reduces_the_error_on_two_spiral(grown, spiral: TrainData) -> None:  # type: ignore[no-untyped-def]
    result, _, before = grown
    after, _ = evaluate_data(result.network, spiral)
    assert before > 0.24 and after < 0.9 * before  # C FANN: 0.218 after 5, 0.210 after 6 neurons
    assert result.mse == pytest.approx(after, rel=0.05)  # last output epoch, measured before its update
    assert result.neurons_added == 6 and not result.reached


def test_the_grown_network_is_shortcut_with_one_neuron_per_new_layer(grown) -> None:  # type: ignore[no-untyped-def]
    net = grown[0].network
    assert net.layout.network_type is NetworkType.SHORTCUT
    assert net.layout.sizes == (2, 1, 1, 1, 1, 1, 1, 1)
    cascade_acts = set(net.cascade.activation_functions)
    assert all(a in cascade_acts for a in net.layout.activations[:-1])
    assert net.layout.activations[-1] == 3
    assert [tuple(l.w.shape) for l in net.params.layers] == [(1, k) for k in range(2, 8)] + [(1, 8)]


def test_reports_come_on_round_1_every_n_rounds_and_the_last(grown) -> None:  # type: ignore[no-untyped-def]
    result, reports, _ = grown
    assert [r.neurons for r in reports] == [0, 1, 3, 5]
    epochs = [r.epochs for r in reports]
    assert epochs == sorted(epochs) and epochs[-1] < result.epochs
    assert reports[0].mse > reports[-1].mse


def test_the_grown_network_saves_and_reloads_with_identical_outputs(grown, spiral: TrainData, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    net = grown[0].network
    write_net(net, tmp_path / "cascade.net")
    back = read_net(tmp_path / "cascade.net")
    np.testing.assert_array_equal(run(back, spiral.inputs), run(net, spiral.inputs))
    assert format_net(back) == (tmp_path / "cascade.net").read_text()
    np.testing.assert_array_equal(run(network_from_json(network_to_json(net)), spiral.inputs), run(net, spiral.inputs))


def test_cascade_stops_when_the_desired_error_is_reached(data_dir: Path) -> None:
    parity = read_data(data_dir / "parity8.train")
    net = create_shortcut((8, 1), key=jax.random.key(0), activation_output="SIGMOID")
    net = net.replace(training=net.training.replace(algorithm=Algorithm.QUICKPROP))
    result = cascade_train_on_data(net, parity, max_neurons=6, desired_error=0.05, key=jax.random.key(3))
    assert result.reached and result.neurons_added < 6
    assert evaluate_data(result.network, parity)[0] <= 0.05


def test_a_callback_returning_false_stops_growing(spiral: TrainData) -> None:
    net = create_shortcut((2, 1), key=jax.random.key(0), activation_output="SIGMOID")
    result = cascade_train_on_data(
        net, spiral, max_neurons=6, neurons_between_reports=1, callback=lambda r: r.neurons < 2, key=jax.random.key(1)
    )
    assert result.cancelled and result.neurons_added == 2


def test_cascade_refuses_what_fann_refuses(spiral: TrainData) -> None:
    layered = create_standard((2, 3, 1), key=jax.random.key(0))
    with pytest.raises(InvalidArgument, match="shortcut"):
        cascade_train_on_data(layered, spiral, max_neurons=1, key=jax.random.key(0))
    shortcut = create_shortcut((2, 1), key=jax.random.key(0))
    batch = shortcut.replace(training=shortcut.training.replace(algorithm=Algorithm.BATCH))
    with pytest.raises(InvalidArgument, match="RPROP, QUICKPROP or SARPROP"):
        cascade_train_on_data(batch, spiral, max_neurons=1, key=jax.random.key(0))
