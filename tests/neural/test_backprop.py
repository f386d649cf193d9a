"""FANN's slopes are the negative gradient of ½Σdiff² wherever FANN neither clips nor transforms.

`jax.grad` serves here only as an independent check on the hand-written backward pass, on layered,
shortcut, sparse and per-neuron-activation networks. The FANN-specific departures (clipping,
halving, the tanh error transform) are pinned by the golden traces in test_train.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from swarm_mcp.neural import (
    ErrorFunction,
    Layer,
    Layout,
    NetworkType,
    Params,
    epoch_slopes,
    init_params,
    sparse_masks,
)

_slopes = jax.jit(epoch_slopes, static_argnums=(0, 1))

# Activations whose FANN derivative is the true derivative at steepness 1 and moderate sums.
SMOOTH = (3, 5, 7, 10, 16, 0)


def _naive_outputs(layout: Layout, params: Params, x: jax.Array) -> jax.Array:
    """A plain forward pass for jax.grad: per neuron, per layer, no clipping reached."""
    values = [x]
    for layer in range(1, layout.num_layers):
        w, b = params.layers[layer - 1]
        if params.masks is not None:
            w = jnp.where(params.masks[layer - 1], w, 0.0)
        inp = jnp.concatenate(values, axis=-1) if layout.network_type is NetworkType.SHORTCUT else values[-1]
        z = (inp @ w.T + b[None, :]) * params.steepness[layer - 1][None, :]
        acts = layout.activation_ids(layer)
        funcs = {
            0: lambda v: v,
            3: lambda v: 1 / (1 + jnp.exp(-2 * v)),
            5: jnp.tanh,
            7: lambda v: jnp.exp(-v * v),
            10: lambda v: (v / 2) / (1 + jnp.abs(v)) + 0.5,
            16: lambda v: jnp.sin(v) / 2 + 0.5,
        }
        values.append(jnp.stack([funcs[a](z[:, j]) for j, a in enumerate(acts)], axis=1))
    return values[-1]


CASES = {
    "layered-per-neuron": (Layout((4, 6, 3), (SMOOTH, 3)), False),
    "shortcut": (Layout((3, 4, 2, 2), ((3, 5, 10, 16), (7, 0), 3), NetworkType.SHORTCUT), False),
    "sparse": (Layout((6, 5, 2), ((3, 5, 10, 16, 0), 10), connection_rate=0.5), True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_slopes_are_the_negative_gradient_of_half_the_squared_error(case: str) -> None:
    layout, sparse = CASES[case]
    key_m, key_w, key_x, key_y = jax.random.split(jax.random.key(11), 4)
    masks = sparse_masks(layout, key_m) if sparse else None
    params = init_params(layout, key_w, steepness=1.0, weight_range=(-0.6, 0.6), masks=masks)
    x = jax.random.uniform(key_x, (40, layout.num_input), jnp.float32, -1.0, 1.0)
    y = jax.random.uniform(key_y, (40, layout.num_output), jnp.float32, 0.1, 0.9)
    mask = jnp.ones(40, bool)
    slopes = _slopes(layout, ErrorFunction.LINEAR, params, x, y, mask, jnp.float32(0.35))

    def loss(layers: tuple[Layer, ...]) -> jax.Array:
        out = _naive_outputs(layout, params._replace(layers=layers), x)
        return 0.5 * jnp.sum((y - out) ** 2)

    grads = jax.jit(jax.grad(loss))(params.layers)
    for ours, grad in zip(jax.tree.leaves(slopes.layers), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(np.asarray(ours), -np.asarray(grad), rtol=2e-4, atol=2e-6)
    out = _naive_outputs(layout, params, x)
    assert float(slopes.sq_sum) == pytest.approx(float(jnp.sum((y - out) ** 2)), rel=1e-5)
    if sparse:
        for s, m in zip(slopes.layers, params.masks, strict=True):
            assert not np.asarray(s.w)[~np.asarray(m)].any()


def test_symmetric_outputs_halve_the_error_and_tanh_error_saturates_at_17() -> None:
    layout = Layout((1, 1), (5,))
    params = Params((Layer(jnp.zeros((1, 1)), jnp.zeros(1)),), (jnp.ones(1),), None, None)
    x = jnp.zeros((2, 1), jnp.float32)
    y = jnp.asarray([[1.0], [-1.0]], jnp.float32)  # output 0: diff = ±1, halved to ±0.5
    lin = _slopes(layout, ErrorFunction.LINEAR, params, x, y, jnp.ones(2, bool), jnp.float32(0.35))
    assert float(lin.sq_sum) == pytest.approx(0.5)  # 2 × 0.5²
    assert int(lin.bit_fail) == 2
    one = jnp.asarray([[1.0]], jnp.float32)
    tanh = _slopes(layout, ErrorFunction.TANH, params, x[:1], one, jnp.ones(1, bool), jnp.float32(0.35))
    assert float(tanh.layers[0].b[0]) == pytest.approx(np.log(1.5 / 0.5), rel=1e-6)  # f'(0) = 1 at s=1
    saturated = Params((Layer(jnp.zeros((1, 1)), jnp.full((1,), -20.0)),), (jnp.ones(1),), None, None)
    far = _slopes(
        layout, ErrorFunction.TANH, saturated, x[:1], jnp.asarray([[3.0]]), jnp.ones(1, bool), jnp.float32(0.35)
    )
    assert float(far.layers[0].b[0]) == pytest.approx(17.0 * (1 - 0.98**2), rel=1e-5)


def test_the_tanh_error_is_c_fanns_double_precision_value_down_to_the_smallest_errors() -> None:
    """C computes ln((1+d)/(1-d)) in double; float32 lost every |d| < 3e-8 (and RPROP then moved by +step).

    A LINEAR output at steepness 1 has f' = 1, so the bias slopes are the transformed errors.
    """
    rng = np.random.default_rng(3)
    magnitude = 10.0 ** rng.uniform(-37, -1e-7, 500)  # normal floats: XLA flushes subnormals to 0
    d = np.concatenate([magnitude, -magnitude, rng.uniform(-0.9999999, 0.9999999, 200)]).astype(np.float32)
    layout = Layout((1, d.size), (0,))
    params = Params((Layer(jnp.zeros((d.size, 1)), jnp.zeros(d.size)),), (jnp.ones(d.size),), None, None)
    x, y, one = jnp.zeros((1, 1)), jnp.asarray(d)[None, :], jnp.ones(1, bool)
    slopes = _slopes(layout, ErrorFunction.TANH, params, x, y, one, jnp.float32(0.35))
    ours = np.asarray(slopes.layers[0].b)
    wide = d.astype(np.float64)
    c = np.log((1.0 + wide) / (1.0 - wide)).astype(np.float32)  # fann_compute_MSE's expression, in C's types
    np.testing.assert_array_equal(np.sign(ours), np.sign(c))  # zero exactly where C's is (|d| < 5.6e-17)
    exact = np.abs(d) >= 1e-7  # below, C's own double quotient rounds off most of the digits
    np.testing.assert_allclose(ours[exact], c[exact], rtol=4 * 2.0**-23)
