"""FANN's activations: C's own outputs (activations.tsv), derivatives with FANN's clipping and quirks."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fann_reference import activation as reference_activation
from fann_reference import neuron_output

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import Activation, Layer, Layout, Params, activate, derivative, forward_batch


@pytest.fixture(scope="module")
def c_activations(golden_dir: Path) -> dict[tuple[int, float], tuple[np.ndarray, np.ndarray]]:
    """activations.tsv grouped by (act_id, steepness): (x, y) as C FANN computed them."""
    groups: dict[tuple[int, float], list[tuple[float, float]]] = defaultdict(list)
    with open(golden_dir / "activations.tsv") as f:
        next(f)
        for line in f:
            act, _, steep, x, y = line.split("\t")
            groups[(int(act), float(steep))].append((float(x), float(y)))
    return {k: (np.array(v)[:, 0], np.array(v)[:, 1]) for k, v in groups.items()}


_forward_jit = jax.jit(forward_batch, static_argnums=0)


def one_neuron_net(act: int, steepness: float) -> tuple[Layout, Params]:
    """The C driver's net: one input, one output, weight 1, bias weight 0."""
    layout = Layout((1, 1), (act,))
    params = Params(
        (Layer(jnp.ones((1, 1), jnp.float32), jnp.zeros((1,), jnp.float32)),),
        (jnp.full((1,), steepness, jnp.float32),),
        None,
        None,
    )
    return layout, params


def test_activations_tsv_covers_every_fann_2_2_activation(c_activations: dict) -> None:
    assert {act for act, _ in c_activations} == set(range(18))
    assert {s for _, s in c_activations} == {0.25, 0.5, 1.0}


def test_forward_reproduces_c_fann_activation_outputs_within_1e_6(c_activations: dict) -> None:
    worst = 0.0
    for (act, steep), (x, y) in sorted(c_activations.items()):
        layout, params = one_neuron_net(act, steep)
        ours = np.asarray(_forward_jit(layout, params, jnp.asarray(x[:, None], jnp.float32)))[:, 0]
        err = np.abs(ours - y)
        worst = max(worst, float(err.max()))
        assert err.max() <= 1e-6, (Activation(act).name, steep, x[err.argmax()], ours[err.argmax()], y[err.argmax()])
    assert worst > 0.0  # the comparison is real: f32 and C differ somewhere in the last bits


def test_linear_output_is_clipped_to_150_over_steepness(c_activations: dict) -> None:
    x, y = c_activations[(0, 1.0)]
    assert y[x == 1000.0] == pytest.approx(150.0)
    layout, params = one_neuron_net(0, 0.5)
    out = np.asarray(_forward_jit(layout, params, jnp.asarray([[1000.0], [-1000.0]], jnp.float32)))[:, 0]
    np.testing.assert_array_equal(out, [300.0, -300.0])


def test_float64_reference_agrees_with_c_activations(c_activations: dict) -> None:
    for (act, steep), (x, y) in c_activations.items():
        ref = np.array([neuron_output(act, steep, v) for v in x])
        np.testing.assert_allclose(ref, y, atol=1e-6, err_msg=f"{Activation(act).name} s={steep}")


@pytest.mark.parametrize("act", [18, 19])
def test_rectifiers_from_fann_head_match_the_reference(act: int) -> None:
    z = jnp.linspace(-5.0, 5.0, 41, dtype=jnp.float32)
    ref = np.array([reference_activation(act, float(v)) for v in np.asarray(z)])
    np.testing.assert_allclose(np.asarray(activate(act, z)), ref, atol=1e-6)


def _numeric_slope(act: int, s: float, total: np.ndarray) -> np.ndarray:
    h = 1e-3
    up = np.array([neuron_output(act, s, t + h) for t in total])
    down = np.array([neuron_output(act, s, t - h) for t in total])
    return (up - down) / (2 * h)


@pytest.mark.parametrize("act", [3, 5, 10, 11])
def test_derivative_is_d_output_d_sum_where_fann_does_not_clip(act: int) -> None:
    s = 0.75
    total = np.linspace(-1.2, 1.2, 25)
    z = jnp.asarray(s * total, jnp.float32)
    y = activate(act, z)
    ours = np.asarray(derivative(act, jnp.full(z.shape, s, jnp.float32), y, z))
    np.testing.assert_allclose(ours, _numeric_slope(act, s, total), rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("act", [7, 8])
def test_gaussian_derivatives_carry_one_steepness_too_many_like_fann(act: int) -> None:
    s = 0.75
    total = np.linspace(-1.2, 1.2, 25)
    z = jnp.asarray(s * total, jnp.float32)
    ours = np.asarray(derivative(act, jnp.full(z.shape, s, jnp.float32), activate(act, z), z))
    np.testing.assert_allclose(ours, s * _numeric_slope(act, s, total), rtol=2e-3, atol=2e-4)


def test_sigmoid_derivatives_clip_the_output_before_differentiating() -> None:
    s = jnp.full((2,), 0.5, jnp.float32)
    z = jnp.asarray([10.0, -10.0], jnp.float32)
    sig = derivative(Activation.SIGMOID, s, activate(Activation.SIGMOID, z), z)
    np.testing.assert_allclose(np.asarray(sig), [2 * 0.5 * 0.99 * 0.01, 2 * 0.5 * 0.01 * 0.99], rtol=1e-6)
    sym = derivative(Activation.SIGMOID_SYMMETRIC, s, activate(Activation.SIGMOID_SYMMETRIC, z), z)
    np.testing.assert_allclose(np.asarray(sym), [0.5 * (1 - 0.98**2)] * 2, rtol=1e-5)


def test_sin_and_cos_derivatives_apply_the_steepness_twice_like_fann() -> None:
    s, z = 0.5, 0.8
    sv, zv = jnp.asarray([s], jnp.float32), jnp.asarray([z], jnp.float32)
    y = activate(Activation.SIN_SYMMETRIC, zv)
    assert float(derivative(Activation.SIN_SYMMETRIC, sv, y, zv)[0]) == pytest.approx(s * np.cos(s * z), rel=1e-6)
    assert float(derivative(Activation.COS, sv, y, zv)[0]) == pytest.approx(-s * np.sin(s * z) / 2, rel=1e-6)


def test_relu_derivative_is_the_steepness_everywhere_as_fann_head_codes_it() -> None:
    s = jnp.full((3,), 0.5, jnp.float32)
    z = jnp.asarray([-2.0, 0.0, 2.0], jnp.float32)
    relu = derivative(Activation.LINEAR_PIECE_RECT, s, activate(Activation.LINEAR_PIECE_RECT, z), z)
    leaky = derivative(Activation.LINEAR_PIECE_RECT_LEAKY, s, activate(Activation.LINEAR_PIECE_RECT_LEAKY, z), z)
    np.testing.assert_allclose(np.asarray(relu), [0.5, 0.5, 0.5])
    np.testing.assert_allclose(np.asarray(leaky), [0.005, 0.5, 0.5])


def test_threshold_cannot_be_differentiated_and_says_which_ids_can() -> None:
    z = jnp.zeros((1,), jnp.float32)
    with pytest.raises(InvalidArgument, match="trainable activation ids"):
        derivative(Activation.THRESHOLD, z, z, z)


def test_unknown_activation_names_list_the_valid_ones() -> None:
    with pytest.raises(InvalidArgument, match="SIGMOID_SYMMETRIC"):
        Layout((2, 1), ("SOFTMAX",))
    assert Layout((2, 1), ("FANN_SIGMOID",)).activations == (3,)


@pytest.mark.parametrize("act", [Activation.SIGMOID, Activation.SIGMOID_SYMMETRIC])
def test_fast_sigmoids_agree_with_the_precise_ones_to_a_few_ulp(act: Activation) -> None:
    z = jnp.linspace(-9.0, 9.0, 4001, dtype=jnp.float32)
    fast, precise = activate(act, z, precise=False), activate(act, z)
    np.testing.assert_allclose(np.asarray(fast), np.asarray(precise), atol=5e-7)
    assert not np.array_equal(np.asarray(fast), np.asarray(precise))
