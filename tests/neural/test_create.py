"""Creating networks: FANN's structures, default settings and weight initialisers (FANN spec §2.1)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import (
    Activation,
    Algorithm,
    Layout,
    NetworkType,
    TrainData,
    create_shortcut,
    create_sparse,
    create_standard,
    init_params,
    init_weights,
    randomize_weights,
)


def test_standard_networks_get_fanns_defaults() -> None:
    net = create_standard((2, 3, 1), key=jax.random.key(0))
    assert net.layout.activations == (Activation.SIGMOID_STEPWISE,) * 2
    assert net.layout.fann_layer_sizes() == (3, 4, 2)
    assert net.training.algorithm is Algorithm.RPROP and net.training.learning_rate == pytest.approx(0.7)
    assert net.training.bit_fail_limit == pytest.approx(0.35)
    assert net.cascade.activation_functions == (3, 5, 7, 8, 10, 11, 14, 15, 16, 17)
    for layer in net.params.layers:
        assert float(jnp.abs(layer.w).max()) <= 0.1 and float(jnp.abs(layer.b).max()) <= 0.1
    np.testing.assert_array_equal(np.asarray(net.params.steepness[0]), [0.5, 0.5, 0.5])


@pytest.mark.parametrize(("rate", "sizes", "expected"), [(0.5, (8, 16, 1), [64, 16]), (0.1, (10, 4, 3), [10, 4])])
def test_sparse_networks_have_fanns_connection_counts(rate: float, sizes: tuple[int, ...], expected: list[int]) -> None:
    net = create_sparse(rate, sizes, key=jax.random.key(1))
    masks = [np.asarray(m) for m in net.params.masks]  # type: ignore[union-attr]
    assert [int(m.sum()) for m in masks] == expected  # max(max(n_in, n_out), round(rate·n_in·n_out))
    for m in masks:
        assert m.any(axis=0).all()  # every input neuron feeds some neuron
        assert m.sum(axis=1).max() - m.sum(axis=1).min() <= 1  # split evenly
        assert m.any(axis=1).all()
    for layer, m in zip(net.params.layers, masks, strict=True):
        assert not np.asarray(layer.w)[~m].any()


def test_rate_one_sparse_is_a_standard_network() -> None:
    assert not create_sparse(1.0, (3, 4, 2), key=jax.random.key(0)).layout.sparse


def test_shortcut_layers_see_every_earlier_layer() -> None:
    net = create_shortcut((2, 3, 4, 1), key=jax.random.key(2))
    assert net.layout.network_type is NetworkType.SHORTCUT
    assert [tuple(l.w.shape) for l in net.params.layers] == [(3, 2), (4, 5), (1, 9)]
    assert net.layout.fann_layer_sizes() == (3, 3, 4, 1)


def test_init_params_is_pure_and_vmaps_over_keys() -> None:
    layout = Layout((8, 16, 4), (5, 3))
    keys = jax.random.split(jax.random.key(3), 5)
    population = jax.vmap(partial(init_params, layout))(keys)
    assert population.layers[0].w.shape == (5, 16, 8)
    again = init_params(layout, keys[2])
    np.testing.assert_array_equal(np.asarray(population.layers[1].w[2]), np.asarray(again.layers[1].w))


def test_widrow_nguyen_uses_fanns_scale_and_ranges() -> None:
    net = create_standard((2, 4, 3, 1), key=jax.random.key(0))
    data = TrainData(np.array([[-1.0, 0.5], [2.0, 3.0]]), np.zeros((2, 1)))
    out = init_weights(net, data, jax.random.key(5))
    hidden = 4 + 3  # FANN: total neurons - inputs - outputs - one per layer
    scale = (0.7 * hidden) ** (1 / 2) / (3.0 - -1.0)
    for layer in out.params.layers:
        w, b = np.asarray(layer.w), np.asarray(layer.b)
        assert w.min() >= 0.0 and w.max() <= scale + 1e-6  # non-bias weights U[0, scale]
        assert b.min() >= -scale - 1e-6 and b.max() <= scale + 1e-6
    assert any(float(np.asarray(l.b).min()) < 0 for l in out.params.layers)
    assert max(float(np.asarray(l.w).max()) for l in out.params.layers) > 0.8 * scale


def test_randomize_weights_keeps_sparse_structure() -> None:
    net = create_sparse(0.3, (6, 5, 2), key=jax.random.key(0))
    out = randomize_weights(net, jax.random.key(9), -2.0, 2.0)
    for layer, m in zip(out.params.layers, out.params.masks, strict=True):  # type: ignore[arg-type]
        w = np.asarray(layer.w)
        assert not w[~np.asarray(m)].any() and np.abs(w).max() > 1.0


def test_bfloat16_storage_keeps_weights_in_bfloat16() -> None:
    net = create_standard((3, 4, 2), key=jax.random.key(0), storage_dtype="bfloat16")
    assert {l.w.dtype for l in net.params.layers} == {jnp.dtype(jnp.bfloat16)}
    assert net.params.steepness[0].dtype == jnp.float32


def test_bad_layouts_say_what_is_valid() -> None:
    with pytest.raises(InvalidArgument, match="at least 2 layers"):
        Layout((3,), ())
    with pytest.raises(InvalidArgument, match="'float32', 'bfloat16'"):
        Layout((2, 1), (3,), storage_dtype="float16")
    with pytest.raises(InvalidArgument, match="2 activation ids"):
        Layout((2, 3, 1), ((3, 5), 3))
