"""Scaling stored with the network (FANN spec §2.7): C FANN's parameters, exact formulas, inverses."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from support import FANN_GOLDEN

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import (
    clear_scaling_params,
    descale_data,
    descale_input,
    descale_output,
    format_net,
    read_data,
    read_net,
    scale_data,
    scale_input,
    set_scaling_params,
)


@pytest.fixture(scope="module")
def scaling_data(data_dir: Path):  # type: ignore[no-untyped-def]
    return read_data(data_dir / "scaling.data")


def test_set_scaling_params_reproduces_c_fanns_scaled_net_byte_for_byte(golden_dir: Path, scaling_data) -> None:  # type: ignore[no-untyped-def]
    path = golden_dir / "nets" / "scaled_3-5-5-1.net"
    unscaled = read_net(path)
    unscaled = unscaled.replace(params=unscaled.params._replace(scaling=None))
    assert "scale_included=0" in format_net(unscaled)
    ours = set_scaling_params(unscaled, scaling_data, -1, 1, -1, 1)
    assert format_net(ours) == path.read_text()


def test_scaling_maps_mean_plus_minus_one_deviation_onto_the_new_range(scaling_data) -> None:  # type: ignore[no-untyped-def]
    net = read_net(FANN_GOLDEN / "nets" / "scaled_3-5-5-1.net")
    s = net.params.scaling
    assert s is not None
    x = jnp.stack([s.mean_in - s.deviation_in, s.mean_in + s.deviation_in])
    np.testing.assert_allclose(np.asarray(scale_input(s, x)), [[-1, -1, -1], [1, 1, 1]], atol=1e-4)
    scaled = scale_data(net, scaling_data)
    params = [np.asarray(a, np.float64) for a in s]
    expected = ((scaling_data.inputs - params[0]) / params[1] + 1) * params[3] + params[2]
    np.testing.assert_allclose(scaled.inputs, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(scaled.inputs).max() > 1.5  # mean ± 1 deviation maps to ±1; nothing is clipped
    back = descale_data(net, scaled)
    np.testing.assert_allclose(back.inputs, scaling_data.inputs, rtol=1e-5)
    np.testing.assert_allclose(back.outputs, scaling_data.outputs, rtol=1e-5)
    y = jnp.asarray(scaled.outputs[:5])
    np.testing.assert_allclose(np.asarray(descale_output(s, y)), scaling_data.outputs[:5], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(descale_input(s, scale_input(s, x))), np.asarray(x), rtol=1e-5)


def test_a_custom_output_range_sets_factor_and_new_min(scaling_data) -> None:  # type: ignore[no-untyped-def]
    net = read_net(FANN_GOLDEN / "nets" / "scaled_3-5-5-1.net")
    out = set_scaling_params(net, scaling_data, 0.0, 1.0, -0.5, 0.5)
    s = out.params.scaling
    np.testing.assert_allclose(np.asarray(s.factor_in), [0.5] * 3)
    np.testing.assert_allclose(np.asarray(s.new_min_out), [-0.5])


def test_cleared_scaling_is_the_identity(scaling_data) -> None:  # type: ignore[no-untyped-def]
    net = clear_scaling_params(
        read_net(FANN_GOLDEN / "nets" / "scaled_3-5-5-1.net")
    )
    np.testing.assert_allclose(scale_data(net, scaling_data).inputs, scaling_data.inputs, rtol=1e-6)


def test_scaling_without_parameters_is_an_error(golden_dir: Path, scaling_data) -> None:  # type: ignore[no-untyped-def]
    net = read_net(golden_dir / "nets" / "xor_float.net")
    with pytest.raises(InvalidArgument, match="set_scaling_params"):
        scale_data(net, scaling_data)
    with pytest.raises(InvalidArgument, match="3 inputs / 1 outputs, the network 2 / 1"):
        set_scaling_params(net, scaling_data)
