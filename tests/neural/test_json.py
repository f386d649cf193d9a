"""The JSON image of a network round-trips exactly: structure, every array bit, every setting."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import (
    Algorithm,
    Layout,
    Network,
    TrainData,
    create_sparse,
    create_standard,
    format_net,
    init_params,
    network_from_json,
    network_to_json,
    read_net,
    set_scaling_params,
)


def _assert_identical(a: Network, b: Network) -> None:
    assert a.layout == b.layout and a.training == b.training and a.cascade == b.cascade
    assert a.bias_activations == b.bias_activations
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(np.asarray(x).view(np.uint8), np.asarray(y).view(np.uint8))


def test_every_golden_network_round_trips_through_json(golden_dir: Path) -> None:
    for path in sorted(golden_dir.glob("*/*.net")):
        net = read_net(path)
        back = network_from_json(network_to_json(net))
        _assert_identical(back, net)
        assert format_net(back) == format_net(net)


def test_sparse_scaled_bfloat16_per_neuron_networks_round_trip() -> None:
    net = create_sparse(0.5, (4, 6, 2), key=jax.random.key(0), storage_dtype="bfloat16")
    rng = np.random.default_rng(0)
    net = set_scaling_params(net, TrainData(rng.random((9, 4)) * 100, rng.random((9, 2))))
    net = net.replace(training=net.training.replace(algorithm=Algorithm.ADAMW, adam_learning_rate=0.003))
    _assert_identical(network_from_json(network_to_json(net)), net)
    layout = Layout((3, 4, 1), ((3, 5, "ELLIOT", 16), 0))
    mixed = Network(layout, init_params(layout, jax.random.key(1), steepness=[0.3, 0.9]))
    _assert_identical(network_from_json(network_to_json(mixed)), mixed)


def test_the_image_is_plain_json_with_readable_settings() -> None:
    data = json.loads(network_to_json(create_standard((2, 2, 1), key=jax.random.key(0))))
    assert data["training"]["algorithm"] == "RPROP"
    assert data["layout"]["sizes"] == [2, 2, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "does not parse"), ("{}", "expected format"), ('{"format": "swarm_mcp.neural.network/1"}', "malformed")],
)
def test_broken_images_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        network_from_json(text)


def test_arrays_that_do_not_fit_the_layout_are_refused() -> None:
    data = json.loads(network_to_json(create_standard((2, 2, 1), key=jax.random.key(0))))
    data["layout"]["sizes"] = [3, 2, 1]
    with pytest.raises(InvalidArgument):
        network_from_json(json.dumps(data))
