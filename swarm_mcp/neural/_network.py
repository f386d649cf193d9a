"""Network structure: a static, hashable `Layout` and an array pytree `Params` (FANN spec §2.1).

The layout holds everything that selects code or shapes (sizes, network type, activation ids,
connection rate, storage dtype); jit caches key on it. The params hold every array: weights,
biases, per-neuron steepness, the sparse connection masks and the stored scaling. A population
is the same layout with params stacked on a leading axis.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument, format_choices

from ._activations import Activation, parse_activation
from ._settings import CascadeParams, TrainParams

__all__ = (
    "STORAGE_DTYPES",
    "Layer",
    "Layout",
    "Network",
    "NetworkType",
    "Params",
    "Scaling",
    "default_bias_activations",
)

STORAGE_DTYPES = ("float32", "bfloat16")


class NetworkType(IntEnum):
    """FANN's `fann_nettype_enum`."""

    LAYER = 0
    SHORTCUT = 1


def _activation_entry(value: object, size: int, layer: int) -> int | tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != size:
            raise InvalidArgument(f"layer {layer} has {size} neurons but {len(value)} activation ids were given")
        ids = tuple(parse_activation(v) for v in value)
        return ids[0] if len(set(ids)) == 1 else ids
    return parse_activation(value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Layout:
    """The static shape of a network. Hashable: use it as a `static_argnums` of `jax.jit`.

    Attributes:
        sizes: neurons per layer without bias neurons, `(n_in, hidden..., n_out)`.
        activations: one entry per non-input layer: an activation id for the whole layer, or a
            tuple of ids, one per neuron (normalised: a tuple of equal ids becomes one id).
        network_type: LAYER (each layer sees the previous one) or SHORTCUT (each layer sees
            all earlier layers; FANN spec §2.1).
        connection_rate: below 1 the network is sparse and its params carry connection masks.
        storage_dtype: dtype of stored weights and biases ("float32" or "bfloat16"); compute is f32.

    Raises:
        InvalidArgument: sizes, activations, network type, rate or dtype out of range.
    """

    sizes: tuple[int, ...]
    activations: tuple[int | tuple[int, ...], ...]
    network_type: NetworkType = NetworkType.LAYER
    connection_rate: float = 1.0
    storage_dtype: str = "float32"

    def __post_init__(self) -> None:
        sizes = tuple(int(n) for n in self.sizes)
        if len(sizes) < 2 or any(n < 1 for n in sizes):
            raise InvalidArgument(f"sizes must list at least 2 layers of >= 1 neuron each, got {self.sizes!r}")
        object.__setattr__(self, "sizes", sizes)
        acts = self.activations
        if isinstance(acts, (int, str)):
            acts = (acts,) * (len(sizes) - 1)
        if len(acts) != len(sizes) - 1:
            raise InvalidArgument(
                f"{len(sizes) - 1} non-input layers need {len(sizes) - 1} activation entries, got {len(acts)}"
            )
        acts = tuple(_activation_entry(a, n, i + 1) for i, (a, n) in enumerate(zip(acts, sizes[1:], strict=True)))
        object.__setattr__(self, "activations", acts)
        try:
            object.__setattr__(self, "network_type", NetworkType(int(self.network_type)))
        except ValueError:
            raise InvalidArgument(
                f"unknown network_type {self.network_type!r}; valid: 0 (LAYER), 1 (SHORTCUT)"
            ) from None
        rate = float(np.float32(self.connection_rate))
        if not 0.0 < rate:
            raise InvalidArgument(f"connection_rate must be > 0 (1 = fully connected), got {self.connection_rate}")
        object.__setattr__(self, "connection_rate", rate)
        if self.storage_dtype not in STORAGE_DTYPES:
            raise InvalidArgument(
                f"unknown storage_dtype {self.storage_dtype!r}; valid: {format_choices(STORAGE_DTYPES)}"
            )

    @property
    def num_input(self) -> int:
        return self.sizes[0]

    @property
    def num_output(self) -> int:
        return self.sizes[-1]

    @property
    def num_layers(self) -> int:
        return len(self.sizes)

    @property
    def sparse(self) -> bool:
        return self.connection_rate < 1.0

    @property
    def per_neuron(self) -> bool:
        """True when some layer mixes activation functions."""
        return any(isinstance(a, tuple) for a in self.activations)

    @property
    def dtype(self) -> jnp.dtype:
        return jnp.dtype(self.storage_dtype)

    def fan_in(self, layer: int) -> int:
        """Number of non-bias inputs of each neuron in `layer` (1-based over non-input layers)."""
        if self.network_type is NetworkType.SHORTCUT:
            return sum(self.sizes[:layer])
        return self.sizes[layer - 1]

    def activation_ids(self, layer: int) -> tuple[int, ...]:
        """Per-neuron activation ids of `layer` (1-based)."""
        entry = self.activations[layer - 1]
        return entry if isinstance(entry, tuple) else (entry,) * self.sizes[layer]

    def fann_layer_sizes(self) -> tuple[int, ...]:
        """FANN's `layer_sizes` (FANN spec §2.9): bias neurons included."""
        if self.network_type is NetworkType.SHORTCUT:
            return (self.sizes[0] + 1, *self.sizes[1:])
        return tuple(n + 1 for n in self.sizes)

    def replace(self, **changes: object) -> Layout:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class Layer(NamedTuple):
    """The trainable arrays of one non-input layer."""

    w: jax.Array  # (n_out, fan_in) storage dtype: columns are the inputs, in FANN's neuron order
    b: jax.Array  # (n_out,) storage dtype: the bias neuron's weight


class Scaling(NamedTuple):
    """Per-column scaling stored with the network (FANN spec §2.7). All f32."""

    mean_in: jax.Array  # (n_in,)
    deviation_in: jax.Array  # (n_in,)
    new_min_in: jax.Array  # (n_in,)
    factor_in: jax.Array  # (n_in,)
    mean_out: jax.Array  # (n_out,)
    deviation_out: jax.Array  # (n_out,)
    new_min_out: jax.Array  # (n_out,)
    factor_out: jax.Array  # (n_out,)


class Params(NamedTuple):
    """Every array of one network; stack on a leading axis for a population."""

    layers: tuple[Layer, ...]  # one per non-input layer
    steepness: tuple[jax.Array, ...]  # (n_l,) f32 per non-input layer
    masks: tuple[jax.Array, ...] | None  # (n_out, fan_in) bool per layer when the layout is sparse
    scaling: Scaling | None  # present when scaling parameters were set


def default_bias_activations(layout: Layout) -> tuple[int, ...]:
    """The activation id FANN records on bias neurons after `fann_set_activation_function_*`.

    Bias neurons compute nothing; the id only matters to reproduce FANN's `.net` bytes.
    """
    if layout.network_type is NetworkType.SHORTCUT:
        return (int(Activation.LINEAR),)
    return (int(Activation.LINEAR), *(layout.activation_ids(l)[-1] for l in range(1, layout.num_layers)))


@dataclass(frozen=True, slots=True)
class Network:
    """A whole FANN network: layout, arrays and the settings a `.net` file stores.

    `bias_activations` has one id per bias neuron (every layer for LAYER nets, the input
    layer only for SHORTCUT nets); it affects only the bytes of saved files.
    """

    layout: Layout
    params: Params
    training: TrainParams = dataclasses.field(default_factory=TrainParams)
    cascade: CascadeParams = dataclasses.field(default_factory=CascadeParams)
    bias_activations: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.bias_activations is None:
            object.__setattr__(self, "bias_activations", default_bias_activations(self.layout))
        expected = 1 if self.layout.network_type is NetworkType.SHORTCUT else self.layout.num_layers
        if len(self.bias_activations) != expected:  # type: ignore[arg-type]
            raise InvalidArgument(f"bias_activations needs {expected} ids, got {self.bias_activations!r}")

    def replace(self, **changes: object) -> Network:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def check_params(layout: Layout, params: Params) -> None:
    """Raise InvalidArgument when `params` does not fit `layout` (shapes and presence of masks)."""
    n_layers = layout.num_layers - 1
    if len(params.layers) != n_layers or len(params.steepness) != n_layers:
        raise InvalidArgument(f"layout has {n_layers} non-input layers, params have {len(params.layers)}")
    if layout.sparse != (params.masks is not None):
        raise InvalidArgument(
            "sparse layouts (connection_rate < 1) need params.masks and dense layouts must not have them"
        )
    for l in range(1, layout.num_layers):
        want = (layout.sizes[l], layout.fan_in(l))
        got = tuple(params.layers[l - 1].w.shape[-2:])
        if got != want:
            raise InvalidArgument(f"layer {l} weights should have shape {want}, got {got}")
