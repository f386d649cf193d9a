"""Scaling parameters stored with the network (FANN spec §2.7).

`set_scaling_params` computes per-column mean and population deviation on the host in float32
with FANN's sequential accumulation, so the stored values match C FANN's `.net` files.
`scale_input` / `descale_output` (and the two others) are pure jnp functions over the `Scaling`
pytree: x' = ((x − mean)/dev + 1)·factor + new_min, no clipping. Like FANN, `forward` does not
apply them; call them around it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._datafile import TrainData
from ._network import Network, Scaling

__all__ = (
    "clear_scaling_params",
    "descale_data",
    "descale_input",
    "descale_output",
    "scale_data",
    "scale_input",
    "scale_output",
    "set_scaling_params",
)


def _column_params(values: np.ndarray, new_min: float, new_max: float) -> tuple[np.ndarray, ...]:
    n = np.float32(values.shape[0])
    # FANN adds sample by sample in float; np.cumsum is sequential, unlike np.sum
    mean = np.cumsum(values, axis=0, dtype=np.float32)[-1] / n
    centred = values - mean[None, :]
    deviation = np.sqrt((np.cumsum(centred * centred, axis=0, dtype=np.float32)[-1] / n).astype(np.float64))
    factor = np.float32((np.float32(new_max) - np.float32(new_min)) / np.float32(2.0))
    width = values.shape[1]
    return (
        mean.astype(np.float32),
        deviation.astype(np.float32),
        np.full(width, new_min, np.float32),
        np.full(width, factor, np.float32),
    )


def set_scaling_params(
    network: Network,
    data: TrainData,
    new_input_min: float = -1.0,
    new_input_max: float = 1.0,
    new_output_min: float = -1.0,
    new_output_max: float = 1.0,
) -> Network:
    """`fann_set_scaling_params`: store per-column scaling computed from `data`.

    Raises:
        InvalidArgument: the data's widths differ from the network's or the data set is empty.
    """
    layout = network.layout
    if (data.num_input, data.num_output) != (layout.num_input, layout.num_output):
        raise InvalidArgument(
            f"data has {data.num_input} inputs / {data.num_output} outputs, "
            f"the network {layout.num_input} / {layout.num_output}"
        )
    if data.num_data == 0:
        raise InvalidArgument("set_scaling_params needs at least one record; use clear_scaling_params for identity")
    ins = _column_params(data.inputs, new_input_min, new_input_max)
    outs = _column_params(data.outputs, new_output_min, new_output_max)
    scaling = Scaling(*(jnp.asarray(a) for a in (*ins, *outs)))
    return network.replace(params=network.params._replace(scaling=scaling))


def clear_scaling_params(network: Network) -> Network:
    """`fann_clear_scaling_params`: identity scaling (mean 0, deviation 1, new_min −1, factor 1)."""
    n_in, n_out = network.layout.num_input, network.layout.num_output

    def block(n: int) -> list[jax.Array]:
        return [
            jnp.zeros(n, jnp.float32),
            jnp.ones(n, jnp.float32),
            jnp.full(n, -1.0, jnp.float32),
            jnp.ones(n, jnp.float32),
        ]

    return network.replace(params=network.params._replace(scaling=Scaling(*block(n_in), *block(n_out))))


def _scale(x: jax.Array, mean: jax.Array, dev: jax.Array, new_min: jax.Array, factor: jax.Array) -> jax.Array:
    shape = (1,) * (x.ndim - 1) + (-1,)
    mean, dev, new_min, factor = (a.reshape(shape) for a in (mean, dev, new_min, factor))
    scaled = ((x - mean) / dev - (-1.0)) * factor + new_min
    return jnp.where(dev != 0, scaled, x)  # FANN HEAD skips columns with zero deviation


def _descale(x: jax.Array, mean: jax.Array, dev: jax.Array, new_min: jax.Array, factor: jax.Array) -> jax.Array:
    shape = (1,) * (x.ndim - 1) + (-1,)
    mean, dev, new_min, factor = (a.reshape(shape) for a in (mean, dev, new_min, factor))
    return ((x - new_min) / factor + (-1.0)) * dev + mean


def scale_input(scaling: Scaling, x: jax.Array) -> jax.Array:
    """`fann_scale_input` for `(..., n_in)`."""
    return _scale(x, scaling.mean_in, scaling.deviation_in, scaling.new_min_in, scaling.factor_in)


def descale_input(scaling: Scaling, x: jax.Array) -> jax.Array:
    """`fann_descale_input` for `(..., n_in)`."""
    return _descale(x, scaling.mean_in, scaling.deviation_in, scaling.new_min_in, scaling.factor_in)


def scale_output(scaling: Scaling, y: jax.Array) -> jax.Array:
    """`fann_scale_output` for `(..., n_out)` (use on training targets)."""
    return _scale(y, scaling.mean_out, scaling.deviation_out, scaling.new_min_out, scaling.factor_out)


def descale_output(scaling: Scaling, y: jax.Array) -> jax.Array:
    """`fann_descale_output` for `(..., n_out)` (use on network outputs)."""
    return _descale(y, scaling.mean_out, scaling.deviation_out, scaling.new_min_out, scaling.factor_out)


def _need_scaling(network: Network) -> Scaling:
    if network.params.scaling is None:
        raise InvalidArgument("the network has no scaling parameters; call set_scaling_params first")
    return network.params.scaling


def scale_data(network: Network, data: TrainData) -> TrainData:
    """`fann_scale_train`: a copy of `data` scaled with the network's stored parameters.

    Raises:
        InvalidArgument: the network has no scaling parameters.
    """
    s = _need_scaling(network)
    return TrainData(
        np.asarray(scale_input(s, jnp.asarray(data.inputs))), np.asarray(scale_output(s, jnp.asarray(data.outputs)))
    )


def descale_data(network: Network, data: TrainData) -> TrainData:
    """`fann_descale_train`: undo `scale_data`.

    Raises:
        InvalidArgument: the network has no scaling parameters.
    """
    s = _need_scaling(network)
    return TrainData(
        np.asarray(descale_input(s, jnp.asarray(data.inputs))), np.asarray(descale_output(s, jnp.asarray(data.outputs)))
    )
