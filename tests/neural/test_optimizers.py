"""FANN's update rules one step at a time (FANN spec §2.4.2-2.4.4), on hand-made slopes."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from swarm_mcp.neural import Algorithm, Layer, Layout, StepInfo, TrainParams, optimizer_for

LAYOUT = Layout((3, 1), (3,))
INFO = StepInfo(jnp.float32(4.0), jnp.float32(0.25))


def one_layer(values: list[float]) -> tuple[Layer, ...]:
    return (Layer(jnp.asarray([values[:3]], jnp.float32), jnp.asarray(values[3:], jnp.float32)),)


def flat(layers: tuple[Layer, ...]) -> np.ndarray:
    return np.concatenate([np.asarray(layers[0].w).ravel(), np.asarray(layers[0].b)])


def step(params: TrainParams, weights: list[float], slopes: list[float], state=None):  # type: ignore[no-untyped-def]
    opt = optimizer_for(LAYOUT, params.spec())
    hyper = params.hyper()
    layers = one_layer(weights)
    if state is None:
        state = opt.init(layers, hyper, None)
    return opt.update(layers, one_layer(slopes), state, hyper, INFO)


def test_fann_rprop_first_step_is_0_12_and_zero_slopes_still_move_up() -> None:
    layers, state = step(TrainParams(), [0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 0.0, 3.0])
    np.testing.assert_allclose(flat(layers), [0.12, -0.12, 0.12, 0.12], rtol=1e-6)
    np.testing.assert_allclose(flat(state.step), [0.12] * 4, rtol=1e-6)


def test_fann_rprop_halves_the_step_on_a_sign_change_and_still_adds_it() -> None:
    layers, state = step(TrainParams(), [0.0] * 4, [1.0, 1.0, 1.0, 1.0])
    layers, state = step(TrainParams(), list(flat(layers)), [-1.0, 1.0, -1.0, 1.0], state)
    np.testing.assert_allclose(flat(state.step), [0.06, 0.144, 0.06, 0.144], rtol=1e-6)
    np.testing.assert_allclose(flat(state.prev_slope), [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(flat(layers), [0.18, 0.264, 0.18, 0.264], rtol=1e-6)


def test_textbook_rprop_leaves_weights_alone_on_zero_slopes() -> None:
    textbook = TrainParams(rprop_variant="textbook")
    layers, state = step(textbook, [0.0] * 4, [1.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(flat(layers), [0.12, 0.12, 0.0, 0.12], rtol=1e-6)
    layers, state = step(textbook, list(flat(layers)), [-1.0, 1.0, 0.0, 1.0], state)
    np.testing.assert_allclose(flat(layers), [0.12, 0.264, 0.0, 0.264], rtol=1e-6)


def test_rprop_clips_weights_at_1500() -> None:
    layers, _ = step(TrainParams(rprop_delta_zero=40.0), [1499.9, -1499.9, 0.0, 0.0], [1.0, -1.0, 0.0, 0.0])
    np.testing.assert_allclose(flat(layers)[:2], [1500.0, -1500.0])


def test_batch_adds_slope_times_learning_rate_over_n() -> None:
    layers, _ = step(TrainParams(algorithm=Algorithm.BATCH), [0.5, 0.0, 0.0, 0.0], [2.0, -4.0, 0.0, 1.0])
    np.testing.assert_allclose(flat(layers), [0.5 + 2 * 0.7 / 4, -4 * 0.7 / 4, 0.0, 0.7 / 4], rtol=1e-6)


def test_quickprop_starts_linear_with_decay_then_takes_the_max_step() -> None:
    params = TrainParams(algorithm=Algorithm.QUICKPROP)
    eps, decay, mu = 0.7 / 4, -0.0001, 1.75
    layers, state = step(params, [1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    slope0 = 1.0 + decay * 1.0
    assert flat(layers)[0] == pytest.approx(1.0 + eps * slope0, rel=1e-6)
    w1 = float(flat(layers)[0])
    layers, state = step(params, list(flat(layers)), [2.0, 0.0, 0.0, 0.0], state)
    slope1 = 2.0 + decay * w1
    expected = w1 + eps * slope1 + mu * (eps * slope0)  # slope grew: linear term plus mu·prev_step
    assert flat(layers)[0] == pytest.approx(expected, rel=1e-6)


def test_quickprop_uses_the_quadratic_estimate_when_the_slope_shrinks() -> None:
    params = TrainParams(algorithm=Algorithm.QUICKPROP, quickprop_decay=0.0)
    layers, state = step(params, [0.0] * 4, [1.0, 0.0, 0.0, 0.0])
    prev_step = float(flat(state.step)[0])
    layers, state = step(params, list(flat(layers)), [0.25, 0.0, 0.0, 0.0], state)
    expected = prev_step + (0.7 / 4) * 0.25 + prev_step * 0.25 / (1.0 - 0.25)
    assert flat(layers)[0] == pytest.approx(expected, rel=1e-6)


def test_incremental_adds_momentum_times_the_previous_delta() -> None:
    params = TrainParams(algorithm=Algorithm.INCREMENTAL, learning_momentum=0.4)
    layers, state = step(params, [0.0] * 4, [0.1, 0.0, 0.0, 0.0])
    layers, state = step(params, list(flat(layers)), [0.1, 0.0, 0.0, 0.0], state)
    np.testing.assert_allclose(flat(layers)[0], 0.1 + 0.1 + 0.4 * 0.1, rtol=1e-6)
