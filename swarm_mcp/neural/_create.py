"""Creating networks and initialising weights (FANN spec §2.1).

`init_params(layout, key)` is the pure, vmappable core (weights U[-0.1, 0.1] as FANN's create
functions draw them); `create_standard` / `create_sparse` / `create_shortcut` wrap it into a
`Network` with FANN's default settings. `init_weights` is FANN's Widrow-Nguyen variant.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._activations import Activation
from ._datafile import TrainData
from ._network import Layer, Layout, Network, NetworkType, Params
from ._settings import CascadeParams, TrainParams

__all__ = (
    "create_shortcut",
    "create_sparse",
    "create_standard",
    "init_params",
    "init_weights",
    "randomize_weights",
    "sparse_masks",
)


def sparse_masks(layout: Layout, key: jax.Array) -> tuple[np.ndarray, ...]:
    """Random connection masks the way `fann_create_sparse` draws them (FANN spec §2.1).

    Per layer pair: `max(max(n_in, n_out), round(rate·n_in·n_out))` non-bias connections, split
    evenly over the output neurons; every input neuron first gets one random output neuron with
    room, then the remaining slots take random distinct inputs. Host-side numpy (the structure is
    static per network); the draw is reproducible from `key`.
    """
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    masks = []
    for layer in range(1, layout.num_layers):
        n_in, n_out = layout.fan_in(layer), layout.sizes[layer]
        total = max(max(n_in, n_out), int(0.5 + layout.connection_rate * n_in * n_out)) + n_out
        per, allocated = [], 0
        for j in range(n_out):  # FANN's split of `total` (biases included) over the neurons
            count = total // n_out
            allocated += count
            if allocated < (total * (j + 1)) // n_out:
                count, allocated = count + 1, allocated + 1
            per.append(min(count - 1, n_in))
        mask = np.zeros((n_out, n_in), bool)
        for i in range(n_in):
            room = [j for j in range(n_out) if mask[j].sum() < per[j]]
            if room:
                mask[rng.choice(room), i] = True
        for j in range(n_out):
            free = np.flatnonzero(~mask[j])
            need = per[j] - int(mask[j].sum())
            if need > 0:
                mask[j, rng.choice(free, need, replace=False)] = True
        masks.append(mask)
    return tuple(masks)


def init_params(
    layout: Layout,
    key: jax.Array,
    *,
    steepness: float | Sequence[float] = 0.5,
    weight_range: tuple[float, float] = (-0.1, 0.1),
    masks: Sequence[jax.Array | np.ndarray] | None = None,
) -> Params:
    """Fresh params: weights and biases U[weight_range] (FANN's `fann_rand`), steepness per layer.

    Pure and vmappable over `key` for dense layouts: `jax.vmap(partial(init_params, layout))(keys)`.
    Sparse layouts need `masks` (one `(n_out, fan_in)` bool array per layer; see `sparse_masks`).

    Raises:
        InvalidArgument: masks missing for a sparse layout, or given for a dense one.
    """
    if layout.sparse != (masks is not None):
        raise InvalidArgument("pass masks exactly when the layout is sparse (connection_rate < 1); see sparse_masks")
    n = layout.num_layers - 1
    steeps = [float(steepness)] * n if isinstance(steepness, (int, float)) else [float(s) for s in steepness]
    if len(steeps) != n:
        raise InvalidArgument(f"steepness needs one value per non-input layer ({n}), got {len(steeps)}")
    low, high = weight_range
    keys = jax.random.split(key, n)
    layers, steep_arrays = [], []
    for layer, k in enumerate(keys, start=1):
        shape = (layout.sizes[layer], layout.fan_in(layer) + 1)
        wb = jax.random.uniform(k, shape, jnp.float32, low, high)
        w, b = wb[:, :-1], wb[:, -1]
        if masks is not None:
            w = jnp.where(jnp.asarray(masks[layer - 1]), w, 0.0)
        layers.append(Layer(w.astype(layout.dtype), b.astype(layout.dtype)))
        steep_arrays.append(jnp.full((layout.sizes[layer],), steeps[layer - 1], jnp.float32))
    stored_masks = None if masks is None else tuple(jnp.asarray(m, bool) for m in masks)
    return Params(tuple(layers), tuple(steep_arrays), stored_masks, None)


def _create(
    layout: Layout,
    key: jax.Array,
    steepness_hidden: float,
    steepness_output: float,
    training: TrainParams | None,
) -> Network:
    mask_key, weight_key = jax.random.split(key)
    masks = sparse_masks(layout, mask_key) if layout.sparse else None
    steeps = [steepness_hidden] * (layout.num_layers - 2) + [steepness_output]
    params = init_params(layout, weight_key, steepness=steeps, masks=masks)
    return Network(layout, params, training or TrainParams(), CascadeParams())


def create_standard(
    sizes: Sequence[int],
    *,
    key: jax.Array,
    activation_hidden: int | str = Activation.SIGMOID_STEPWISE,
    activation_output: int | str = Activation.SIGMOID_STEPWISE,
    steepness_hidden: float = 0.5,
    steepness_output: float = 0.5,
    storage_dtype: str = "float32",
    training: TrainParams | None = None,
) -> Network:
    """`fann_create_standard`: a layered, fully connected network with FANN's defaults.

    `sizes` counts neurons without bias, e.g. (2, 3, 1). Weights U[-0.1, 0.1] from `key`.

    Raises:
        InvalidArgument: bad sizes, activation or storage dtype.
    """
    layout = _layout(sizes, activation_hidden, activation_output, NetworkType.LAYER, 1.0, storage_dtype)
    return _create(layout, key, steepness_hidden, steepness_output, training)


def create_sparse(
    connection_rate: float,
    sizes: Sequence[int],
    *,
    key: jax.Array,
    activation_hidden: int | str = Activation.SIGMOID_STEPWISE,
    activation_output: int | str = Activation.SIGMOID_STEPWISE,
    steepness_hidden: float = 0.5,
    steepness_output: float = 0.5,
    storage_dtype: str = "float32",
    training: TrainParams | None = None,
) -> Network:
    """`fann_create_sparse`: layered with a fraction of the connections (rate ≥ 1 = standard).

    Raises:
        InvalidArgument: bad rate, sizes, activation or storage dtype.
    """
    rate = min(float(connection_rate), 1.0)
    layout = _layout(sizes, activation_hidden, activation_output, NetworkType.LAYER, rate, storage_dtype)
    return _create(layout, key, steepness_hidden, steepness_output, training)


def create_shortcut(
    sizes: Sequence[int],
    *,
    key: jax.Array,
    activation_hidden: int | str = Activation.SIGMOID_STEPWISE,
    activation_output: int | str = Activation.SIGMOID_STEPWISE,
    steepness_hidden: float = 0.5,
    steepness_output: float = 0.5,
    storage_dtype: str = "float32",
    training: TrainParams | None = None,
) -> Network:
    """`fann_create_shortcut`: every layer sees all earlier layers; only the input has a bias.

    Raises:
        InvalidArgument: bad sizes, activation or storage dtype.
    """
    layout = _layout(sizes, activation_hidden, activation_output, NetworkType.SHORTCUT, 1.0, storage_dtype)
    return _create(layout, key, steepness_hidden, steepness_output, training)


def _layout(
    sizes: Sequence[int], hidden: int | str, output: int | str, kind: NetworkType, rate: float, dtype: str
) -> Layout:
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise InvalidArgument(f"a network needs at least an input and an output layer, got sizes {sizes!r}")
    return Layout(sizes, (hidden,) * (len(sizes) - 2) + (output,), kind, rate, dtype)


def randomize_weights(network: Network, key: jax.Array, low: float = -0.1, high: float = 0.1) -> Network:
    """`fann_randomize_weights`: every existing connection U[low, high]; structure kept."""
    params = network.params
    keys = jax.random.split(key, len(params.layers))
    layers = []
    for layer, k in zip(params.layers, keys, strict=True):
        wb = jax.random.uniform(k, (layer.w.shape[0], layer.w.shape[1] + 1), jnp.float32, low, high)
        layers.append((wb[:, :-1], wb[:, -1]))
    return network.replace(params=_with_layers(network, layers))


def _with_layers(network: Network, layers: list[tuple[jax.Array, jax.Array]]) -> Params:
    params, dtype = network.params, network.layout.dtype
    out = []
    for i, (w, b) in enumerate(layers):
        if params.masks is not None:
            w = jnp.where(params.masks[i], w, 0.0)
        out.append(Layer(w.astype(dtype), b.astype(dtype)))
    return params._replace(layers=tuple(out))


def init_weights(network: Network, data: TrainData, key: jax.Array) -> Network:
    """`fann_init_weights`, FANN's Widrow-Nguyen variant (FANN spec §2.1).

    scale = (0.7·H)^(1/n_in) / (max_input − min_input) with H = FANN's hidden-neuron count
    (total neurons minus inputs, outputs and one per layer); non-bias weights U[0, scale],
    bias weights U[−scale, scale].

    Raises:
        InvalidArgument: the data's input width does not match, or all inputs are equal.
    """
    layout = network.layout
    if data.num_input != layout.num_input:
        raise InvalidArgument(f"data has {data.num_input} inputs, the network {layout.num_input}")
    low, high = float(data.inputs.min()), float(data.inputs.max())
    if high == low:
        raise InvalidArgument("init_weights needs inputs that vary (max_input == min_input)")
    total_neurons = sum(layout.fann_layer_sizes())
    hidden = total_neurons - (layout.num_input + layout.num_output + layout.num_layers)
    scale = float(np.float32((0.7 * hidden) ** (1.0 / layout.num_input) / (high - low)))
    keys = jax.random.split(key, len(network.params.layers))
    layers = []
    for layer, k in zip(network.params.layers, keys, strict=True):
        kw, kb = jax.random.split(k)
        layers.append(
            (
                jax.random.uniform(kw, layer.w.shape, jnp.float32, 0.0, scale),
                jax.random.uniform(kb, layer.b.shape, jnp.float32, -scale, scale),
            )
        )
    return network.replace(params=_with_layers(network, layers))
