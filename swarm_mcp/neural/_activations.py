"""FANN's activation functions and the derivatives its training uses (FANN spec §2.2, §2.3).

Every function takes `z`, the steepness-scaled and clipped sum that FANN stores as `neuron.sum`,
and works elementwise on f32 arrays of any shape. The activation id is a Python int: it selects
code at trace time, so it belongs to the static layout, never to the traced parameters.
"""

from __future__ import annotations

from enum import IntEnum

import jax
import jax.numpy as jnp

from swarm_mcp.errors import InvalidArgument, format_choices

__all__ = (
    "SYMMETRIC",
    "TRAINABLE",
    "Activation",
    "activate",
    "clip_sum",
    "derivative",
    "parse_activation",
)


class Activation(IntEnum):
    """FANN's `fann_activationfunc_enum`; 18 and 19 exist only at FANN's git HEAD."""

    LINEAR = 0
    THRESHOLD = 1
    THRESHOLD_SYMMETRIC = 2
    SIGMOID = 3
    SIGMOID_STEPWISE = 4
    SIGMOID_SYMMETRIC = 5
    SIGMOID_SYMMETRIC_STEPWISE = 6
    GAUSSIAN = 7
    GAUSSIAN_SYMMETRIC = 8
    GAUSSIAN_STEPWISE = 9
    ELLIOT = 10
    ELLIOT_SYMMETRIC = 11
    LINEAR_PIECE = 12
    LINEAR_PIECE_SYMMETRIC = 13
    SIN_SYMMETRIC = 14
    COS_SYMMETRIC = 15
    SIN = 16
    COS = 17
    LINEAR_PIECE_RECT = 18
    LINEAR_PIECE_RECT_LEAKY = 19


# Outputs with these activations have their error halved (FANN spec §2.4.1, fann_update_MSE).
SYMMETRIC: frozenset[int] = frozenset({2, 5, 6, 8, 11, 13, 14, 15})
# FANN_THRESHOLD has no derivative: FANN refuses to train it (FANN spec §2.3).
TRAINABLE: frozenset[int] = frozenset(int(a) for a in Activation) - {int(Activation.THRESHOLD)}

# FANN spec §2.3: breakpoints and values of the two 6-point stepwise approximations.
_SIGMOID_STEPS = (
    (-2.64665246, -1.47221947, -0.549306154, 0.549306154, 1.47221935, 2.64665294),
    (0.005, 0.05, 0.25, 0.75, 0.95, 0.995),
    0.0,
    1.0,
)
_SYMMETRIC_STEPS = (
    (-2.64665294, -1.47221935, -0.549306154, 0.549306154, 1.47221935, 2.64665294),
    (-0.99, -0.9, -0.5, 0.5, 0.9, 0.99),
    -1.0,
    1.0,
)


def parse_activation(value: int | str | Activation) -> int:
    """An activation id from an int, an `Activation`, or a name like "SIGMOID" / "FANN_SIGMOID".

    Raises:
        InvalidArgument: the value names no FANN activation.
    """
    if isinstance(value, str):
        name = value.upper().removeprefix("FANN_")
        if name in Activation.__members__:
            return int(Activation[name])
    elif int(value) in {int(a) for a in Activation}:
        return int(value)
    raise InvalidArgument(
        f"unknown activation {value!r}; valid ids 0-19 or names {format_choices(Activation.__members__)}"
    )


def clip_sum(total: jax.Array, steepness: jax.Array) -> jax.Array:
    """`z = clip(steepness·sum, ±150/steepness)` exactly as fann_run compares (FANN spec §2.2)."""
    z = steepness * total
    limit = 150.0 / steepness
    return jnp.where(z > limit, limit, jnp.where(z < -limit, -limit, z))


def _stepwise(z: jax.Array, table: tuple[tuple[float, ...], tuple[float, ...], float, float]) -> jax.Array:
    v, r, low, high = table

    def line(i: int) -> jax.Array:
        return ((r[i + 1] - r[i]) * (z - v[i])) / (v[i + 1] - v[i]) + r[i]

    # fann_stepwise: below v1 the minimum, from v6 on the maximum, linear pieces in between.
    y = jnp.where(z < v[0], low, line(0))
    for i in range(1, 5):
        y = jnp.where(z < v[i], y, line(i))
    return jnp.where(z < v[5], y, high).astype(z.dtype)


def _sigmoid(x: jax.Array) -> jax.Array:
    # 1/(1+e^-x) via the small side e/(1+e): near saturation y = 1 - tiny keeps full precision
    # (C FANN evaluates in double and rounds once; XLA's logistic is off by up to 2 ulp there).
    e = jnp.exp(-jnp.abs(x))
    small = e / (1 + e)
    return jnp.where(x >= 0, 1 - small, small)


def _tanh(z: jax.Array) -> jax.Array:
    # XLA's f32 tanh is up to 5 ulp off; 1 - 2/(e^2a + 1) is within 1 ulp of C's double-then-round
    # result for |z| >= 0.55, which is where tiny MSEs (outputs near ±1) are decided.
    a = jnp.abs(z)
    large = 1 - 2 / (jnp.exp(2 * a) + 1)
    return jnp.where(a < 0.55, jnp.tanh(z), jnp.sign(z) * large)


def activate(act: int, z: jax.Array, *, precise: bool = True) -> jax.Array:
    """y = f(z) for FANN activation id `act` (FANN spec §2.3, the `y = f(z)` column).

    `precise` (the default, used by every layer) evaluates SIGMOID and SIGMOID_SYMMETRIC within
    1 ulp of C FANN's double-then-round result near saturation; XLA's own versions are cheaper
    but up to 5 ulp off there, enough to flip a bit-fail count or move a 1e-8 MSE by 1e-4.
    """
    a = Activation(act)
    if a is Activation.LINEAR:
        return z
    if a is Activation.THRESHOLD:
        return jnp.where(z < 0, 0.0, 1.0).astype(z.dtype)
    if a is Activation.THRESHOLD_SYMMETRIC:
        return jnp.where(z < 0, -1.0, 1.0).astype(z.dtype)
    if a is Activation.SIGMOID:
        return _sigmoid(2 * z) if precise else jax.nn.sigmoid(2 * z)
    if a is Activation.SIGMOID_STEPWISE:
        return _stepwise(z, _SIGMOID_STEPS)
    if a is Activation.SIGMOID_SYMMETRIC:
        return _tanh(z) if precise else jnp.tanh(z)
    if a is Activation.SIGMOID_SYMMETRIC_STEPWISE:
        return _stepwise(z, _SYMMETRIC_STEPS)
    if a is Activation.GAUSSIAN:
        return jnp.exp(-(z * z))
    if a is Activation.GAUSSIAN_SYMMETRIC:
        return jnp.exp(-(z * z)) * 2 - 1
    if a is Activation.GAUSSIAN_STEPWISE:
        return jnp.zeros_like(z)  # not implemented in FANN: always 0
    if a is Activation.ELLIOT:
        return (z / 2) / (1 + jnp.abs(z)) + 0.5
    if a is Activation.ELLIOT_SYMMETRIC:
        return z / (1 + jnp.abs(z))
    if a is Activation.LINEAR_PIECE:
        return jnp.where(z < 0, 0.0, jnp.where(z > 1, 1.0, z)).astype(z.dtype)
    if a is Activation.LINEAR_PIECE_SYMMETRIC:
        return jnp.where(z < -1, -1.0, jnp.where(z > 1, 1.0, z)).astype(z.dtype)
    if a is Activation.SIN_SYMMETRIC:
        return jnp.sin(z)
    if a is Activation.COS_SYMMETRIC:
        return jnp.cos(z)
    if a is Activation.SIN:
        return jnp.sin(z) / 2 + 0.5
    if a is Activation.COS:
        return jnp.cos(z) / 2 + 0.5
    if a is Activation.LINEAR_PIECE_RECT:
        return jnp.maximum(z, 0.0)
    return jnp.where(z < 0, 0.01 * z, z)  # LINEAR_PIECE_RECT_LEAKY


def derivative(act: int, steepness: jax.Array, y: jax.Array, z: jax.Array) -> jax.Array:
    """FANN's `fann_activation_derived(act, s, y, z)`: d y / d sum as training uses it (FANN spec §2.3).

    Sigmoid-like functions clip `y` to [0.01, 0.99], symmetric ones to [-0.98, 0.98] first; the
    sin/cos derivatives apply the steepness twice, as FANN does. Operation order follows FANN's
    macros so f32 rounding matches.

    Raises:
        InvalidArgument: `act` is FANN_THRESHOLD, which FANN cannot train.
    """
    a = Activation(act)
    s = steepness
    if a in (Activation.LINEAR, Activation.LINEAR_PIECE, Activation.LINEAR_PIECE_SYMMETRIC):
        return jnp.broadcast_to(s, y.shape).astype(y.dtype)
    if a in (Activation.SIGMOID, Activation.SIGMOID_STEPWISE):
        y = jnp.clip(y, 0.01, 0.99)
        return 2 * s * y * (1 - y)
    if a in (Activation.SIGMOID_SYMMETRIC, Activation.SIGMOID_SYMMETRIC_STEPWISE):
        y = jnp.clip(y, -0.98, 0.98)
        return s * (1 - y * y)
    if a is Activation.GAUSSIAN:
        return -2 * z * y * s * s
    if a is Activation.GAUSSIAN_SYMMETRIC:
        return -2 * z * (y + 1) * s * s
    if a is Activation.ELLIOT:
        return s * 1 / (2 * (1 + jnp.abs(z)) * (1 + jnp.abs(z)))
    if a is Activation.ELLIOT_SYMMETRIC:
        return s * 1 / ((1 + jnp.abs(z)) * (1 + jnp.abs(z)))
    if a is Activation.SIN_SYMMETRIC:
        return s * jnp.cos(s * z)
    if a is Activation.COS_SYMMETRIC:
        return s * -jnp.sin(s * z)
    if a is Activation.SIN:
        return s * jnp.cos(s * z) / 2
    if a is Activation.COS:
        return s * -jnp.sin(s * z) / 2
    if a is Activation.LINEAR_PIECE_RECT:
        # FANN codes `y < 0 ? 0 : s`, but y >= 0 always: the derivative is s everywhere (FANN spec §2.3).
        return jnp.broadcast_to(s, y.shape).astype(y.dtype)
    if a is Activation.LINEAR_PIECE_RECT_LEAKY:
        return jnp.where(y < 0, 0.01 * s, s).astype(y.dtype)
    if a in (Activation.THRESHOLD_SYMMETRIC, Activation.GAUSSIAN_STEPWISE):
        return jnp.zeros_like(y)
    raise InvalidArgument(
        "FANN_THRESHOLD (id 1) has no derivative and cannot be trained; "
        f"use one of the trainable activation ids {format_choices(sorted(TRAINABLE))}"
    )
