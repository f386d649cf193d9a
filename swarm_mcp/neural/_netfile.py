"""FANN's `.net` text format (FANN spec §2.9): read FLO_2.1, FLO_2.0 and FIX_2.0; write FLO_2.1.

The writer reproduces `fann_save` byte for byte: keys in FANN's order, `%f` for parameters,
`%.20e` for fann_type values (exact for float32), one space after every tuple and list value,
and a final newline. A FIX_2.0 file (fixed point) loads as a float network: every fann_type
value is divided by 2^decimal_point.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._activations import Activation
from ._network import Layer, Layout, Network, NetworkType, Params, Scaling, check_params
from ._settings import Algorithm, CascadeParams, ErrorFunction, StopFunction, TrainParams

__all__ = ("format_net", "parse_net", "read_net", "write_net")

_VERSIONS = ("FANN_FLO_2.1", "FANN_FLO_2.0", "FANN_FIX_2.0")
_NEURON = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*,\s*([^)\s]+)\s*\)")
_CONNECTION = re.compile(r"\(\s*(\d+)\s*,\s*([^)\s]+)\s*\)")
_SCALE_KEYS = (
    "scale_mean_in",
    "scale_deviation_in",
    "scale_new_min_in",
    "scale_factor_in",
    "scale_mean_out",
    "scale_deviation_out",
    "scale_new_min_out",
    "scale_factor_out",
)


# ---------------------------------------------------------------------------------------- layout
def neuron_starts(layout: Layout) -> list[int]:
    """Global index of each layer's first neuron in FANN's neuron array (bias neurons included)."""
    starts, at = [], 0
    for i, size in enumerate(layout.sizes):
        starts.append(at)
        has_bias = i == 0 or layout.network_type is NetworkType.LAYER
        at += size + (1 if has_bias else 0)
    return starts


def column_sources(layout: Layout, layer: int) -> tuple[np.ndarray, int]:
    """Global neuron index of each weight column of `layer`, and the index of its bias neuron."""
    starts = neuron_starts(layout)
    if layout.network_type is NetworkType.SHORTCUT:
        cols = [starts[k] + np.arange(layout.sizes[k]) for k in range(layer)]
        return np.concatenate(cols), layout.sizes[0]
    return starts[layer - 1] + np.arange(layout.sizes[layer - 1]), starts[layer - 1] + layout.sizes[layer - 1]


def connection_order(layout: Layout, layer: int, mask_row: np.ndarray | None) -> list[int]:
    """FANN's order of one neuron's inputs as weight-column indices, with -1 for the bias.

    Dense layered: the previous layer, bias last. Shortcut: inputs, the input bias, then the
    hidden layers. Sparse: bias first (FANN spec §2.1), then the present columns ascending.
    """
    fan_in = layout.fan_in(layer)
    if mask_row is not None:
        return [-1, *np.flatnonzero(mask_row).tolist()]
    if layout.network_type is NetworkType.SHORTCUT:
        n_in = layout.sizes[0]
        return [*range(n_in), -1, *range(n_in, fan_in)]
    return [*range(fan_in), -1]


# ---------------------------------------------------------------------------------------- writer
def _e(value: float) -> str:
    return f"{float(np.float32(value)):.20e}"


def format_net(network: Network) -> str:
    """The `.net` text C FANN's `fann_save` writes for this network (FANN spec §2.9)."""
    layout, params, tp, cp = network.layout, network.params, network.training, network.cascade
    check_params(layout, params)
    if params.layers[0].w.ndim != 2:
        raise InvalidArgument("format_net takes one network; index a population's params first")
    algorithm = int(tp.algorithm)
    if algorithm > int(Algorithm.SARPROP):
        algorithm = int(Algorithm.RPROP)  # FANN has no Adam: record its default algorithm
    lines = [
        "FANN_FLO_2.1",
        f"num_layers={layout.num_layers}",
        f"learning_rate={tp.learning_rate:f}",
        f"connection_rate={layout.connection_rate:f}",
        f"network_type={int(layout.network_type)}",
        f"learning_momentum={tp.learning_momentum:f}",
        f"training_algorithm={algorithm}",
        f"train_error_function={int(tp.error_function)}",
        f"train_stop_function={int(tp.stop_function)}",
        f"cascade_output_change_fraction={cp.output_change_fraction:f}",
        f"quickprop_decay={tp.quickprop_decay:f}",
        f"quickprop_mu={tp.quickprop_mu:f}",
        f"rprop_increase_factor={tp.rprop_increase_factor:f}",
        f"rprop_decrease_factor={tp.rprop_decrease_factor:f}",
        f"rprop_delta_min={tp.rprop_delta_min:f}",
        f"rprop_delta_max={tp.rprop_delta_max:f}",
        f"rprop_delta_zero={tp.rprop_delta_zero:f}",
        f"cascade_output_stagnation_epochs={cp.output_stagnation_epochs}",
        f"cascade_candidate_change_fraction={cp.candidate_change_fraction:f}",
        f"cascade_candidate_stagnation_epochs={cp.candidate_stagnation_epochs}",
        f"cascade_max_out_epochs={cp.max_out_epochs}",
        f"cascade_min_out_epochs={cp.min_out_epochs}",
        f"cascade_max_cand_epochs={cp.max_cand_epochs}",
        f"cascade_min_cand_epochs={cp.min_cand_epochs}",
        f"cascade_num_candidate_groups={cp.num_candidate_groups}",
        f"bit_fail_limit={_e(tp.bit_fail_limit)}",
        f"cascade_candidate_limit={_e(cp.candidate_limit)}",
        f"cascade_weight_multiplier={_e(cp.weight_multiplier)}",
        f"cascade_activation_functions_count={len(cp.activation_functions)}",
        "cascade_activation_functions=" + "".join(f"{a} " for a in cp.activation_functions),
        f"cascade_activation_steepnesses_count={len(cp.activation_steepnesses)}",
        "cascade_activation_steepnesses=" + "".join(f"{_e(s)} " for s in cp.activation_steepnesses),
        "layer_sizes=" + "".join(f"{n} " for n in layout.fann_layer_sizes()),
    ]
    if params.scaling is None:
        lines.append("scale_included=0")
    else:
        lines.append("scale_included=1")
        for key, values in zip(_SCALE_KEYS, params.scaling, strict=True):
            lines.append(key + "=" + "".join(f"{float(v):f} " for v in np.asarray(values, np.float32)))
    neurons, connections = [], []
    bias_acts = network.bias_activations or ()
    neurons += [f"(0, 0, {_e(0.0)}) "] * layout.num_input
    neurons.append(f"(0, {bias_acts[0]}, {_e(0.0)}) ")
    for layer in range(1, layout.num_layers):
        w = np.asarray(params.layers[layer - 1].w, np.float32)
        b = np.asarray(params.layers[layer - 1].b, np.float32)
        steep = np.asarray(params.steepness[layer - 1], np.float32)
        mask = None if params.masks is None else np.asarray(params.masks[layer - 1], bool)
        sources, bias_source = column_sources(layout, layer)
        for j, act in enumerate(layout.activation_ids(layer)):
            order = connection_order(layout, layer, None if mask is None else mask[j])
            neurons.append(f"({len(order)}, {act}, {_e(steep[j])}) ")
            for col in order:
                if col < 0:
                    connections.append(f"({bias_source}, {_e(b[j])}) ")
                else:
                    connections.append(f"({sources[col]}, {_e(w[j, col])}) ")
        if layout.network_type is NetworkType.LAYER:
            neurons.append(f"(0, {bias_acts[layer]}, {_e(0.0)}) ")
    lines.append("neurons (num_inputs, activation_function, activation_steepness)=" + "".join(neurons))
    lines.append("connections (connected_to_neuron, weight)=" + "".join(connections))
    return "\n".join(lines) + "\n"


def write_net(network: Network, path: str | PathLike[str]) -> None:
    """Save `network` as a FANN_FLO_2.1 `.net` file that C FANN's `fann_create_from_file` loads."""
    Path(path).write_bytes(format_net(network).encode("ascii"))


# ---------------------------------------------------------------------------------------- reader
class _Lines:
    def __init__(self, text: str, source: str) -> None:
        self._lines: Iterator[str] = iter(text.splitlines())
        self.source = source

    def fail(self, what: str) -> InvalidArgument:
        return InvalidArgument(f"{self.source}: {what}")

    def value(self, key: str, *, optional: bool = False) -> str | None:
        try:
            line = next(self._lines)
        except StopIteration:
            raise self.fail(f"file ends where {key}= was expected") from None
        if not line.startswith(key + "="):
            if optional:
                self._lines = _chain(line, self._lines)
                return None
            raise self.fail(f"expected {key}= but found {line[:60]!r}")
        return line[len(key) + 1 :]


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _number(lines: _Lines, text: str | None, key: str, kind: type = float) -> float:
    try:
        return kind(text.strip())  # type: ignore[union-attr]
    except (ValueError, AttributeError):
        raise lines.fail(f"{key} has a malformed value {text!r}") from None


def _numbers(lines: _Lines, text: str | None, key: str, count: int | None, kind: type = float) -> list:
    try:
        values = [kind(v) for v in (text or "").split()]
    except ValueError:
        raise lines.fail(f"{key} has a malformed value in {text!r}") from None
    if count is not None and len(values) != count:
        raise lines.fail(f"{key} should list {count} values, found {len(values)}")
    return values


def parse_net(text: str, *, source: str = "<net>", storage_dtype: str = "float32") -> Network:
    """Parse `.net` text (FANN_FLO_2.1, FANN_FLO_2.0 or FANN_FIX_2.0; FANN spec §2.9).

    Raises:
        InvalidArgument: wrong version, a key out of order, malformed numbers, or connections
            that do not form a layered, sparse or shortcut FANN network.
    """
    head, _, body = text.partition("\n")
    version = head.strip()
    if version not in _VERSIONS:
        raise InvalidArgument(f"{source}: unsupported version {head[:20]!r}; readable: {', '.join(_VERSIONS)}")
    lines = _Lines(body, source)
    fixed = version.startswith("FANN_FIX")
    scale = 1.0
    if fixed:
        decimal_point = int(_number(lines, lines.value("decimal_point"), "decimal_point", int))
        scale = float(2**decimal_point)

    def fann_type(value: str | None, key: str) -> float:
        return _number(lines, value, key) / scale

    num_layers = int(_number(lines, lines.value("num_layers"), "num_layers", int))
    p: dict[str, object] = {}
    c: dict[str, object] = {}
    p["learning_rate"] = _number(lines, lines.value("learning_rate"), "learning_rate")
    connection_rate = _number(lines, lines.value("connection_rate"), "connection_rate")
    network_type = int(_number(lines, lines.value("network_type"), "network_type", int))
    p["learning_momentum"] = _number(lines, lines.value("learning_momentum"), "learning_momentum")
    algorithm = int(_number(lines, lines.value("training_algorithm"), "training_algorithm", int))
    if not 0 <= algorithm <= int(Algorithm.SARPROP):
        raise lines.fail(f"training_algorithm={algorithm} is not a FANN algorithm (0-4)")
    p["algorithm"] = Algorithm(algorithm)
    p["error_function"] = ErrorFunction(_clamp_enum(lines, "train_error_function", ErrorFunction))
    p["stop_function"] = StopFunction(_clamp_enum(lines, "train_stop_function", StopFunction))
    c["output_change_fraction"] = _number(lines, lines.value("cascade_output_change_fraction"), "")
    for key in (
        "quickprop_decay",
        "quickprop_mu",
        "rprop_increase_factor",
        "rprop_decrease_factor",
        "rprop_delta_min",
        "rprop_delta_max",
        "rprop_delta_zero",
    ):
        p[key] = _number(lines, lines.value(key), key)
    c["output_stagnation_epochs"] = _number(lines, lines.value("cascade_output_stagnation_epochs"), "", int)
    c["candidate_change_fraction"] = _number(lines, lines.value("cascade_candidate_change_fraction"), "")
    for key in (
        "candidate_stagnation_epochs",
        "max_out_epochs",
        "min_out_epochs",
        "max_cand_epochs",
        "min_cand_epochs",
        "num_candidate_groups",
    ):
        c[key] = _number(lines, lines.value("cascade_" + key), "cascade_" + key, int)
    p["bit_fail_limit"] = fann_type(lines.value("bit_fail_limit"), "bit_fail_limit")
    c["candidate_limit"] = fann_type(lines.value("cascade_candidate_limit"), "cascade_candidate_limit")
    c["weight_multiplier"] = fann_type(lines.value("cascade_weight_multiplier"), "cascade_weight_multiplier")
    n_acts = int(_number(lines, lines.value("cascade_activation_functions_count"), "", int))
    c["activation_functions"] = tuple(
        _numbers(lines, lines.value("cascade_activation_functions"), "cascade_activation_functions", n_acts, int)
    )
    n_steep = int(_number(lines, lines.value("cascade_activation_steepnesses_count"), "", int))
    steeps = _numbers(lines, lines.value("cascade_activation_steepnesses"), "cascade_activation_steepnesses", n_steep)
    c["activation_steepnesses"] = tuple(s / scale for s in steeps)
    layer_sizes = _numbers(lines, lines.value("layer_sizes"), "layer_sizes", num_layers, int)
    if network_type not in (0, 1):
        raise lines.fail(f"network_type must be 0 (LAYER) or 1 (SHORTCUT), got {network_type}")
    shortcut = network_type == int(NetworkType.SHORTCUT)
    sizes = [layer_sizes[0] - 1] + [n if shortcut else n - 1 for n in layer_sizes[1:]]
    if num_layers < 2 or any(n < 1 for n in sizes):
        raise lines.fail(f"layer_sizes {layer_sizes} do not describe a network (each layer needs a neuron)")
    n_in, n_out = sizes[0], sizes[-1]

    scaling = None
    included = None if fixed else lines.value("scale_included", optional=True)
    if included is not None and int(_number(lines, included, "scale_included", int)) == 1:
        columns = [n_in] * 4 + [n_out] * 4
        scaling = Scaling(
            *(jnp.asarray(_numbers(lines, lines.value(k), k, n), jnp.float32) for k, n in zip(_SCALE_KEYS, columns))
        )

    neuron_text = lines.value("neurons (num_inputs, activation_function, activation_steepness)")
    neurons = [(int(k), int(a), float(s) / scale) for k, a, s in _NEURON.findall(neuron_text or "")]
    if len(neurons) != sum(layer_sizes):
        raise lines.fail(f"layer_sizes sum to {sum(layer_sizes)} neurons but {len(neurons)} are listed")
    conn_text = lines.value("connections (connected_to_neuron, weight)")
    conns = [(int(src), float(w) / scale) for src, w in _CONNECTION.findall(conn_text or "")]
    if len(conns) != sum(k for k, _, _ in neurons):
        raise lines.fail(f"neurons declare {sum(k for k, _, _ in neurons)} connections, {len(conns)} are listed")

    probe = Layout(tuple(sizes), (0,) * (num_layers - 1), NetworkType(network_type), connection_rate)
    activations, layers, steepness, masks, bias_acts = _unpack(lines, probe, neurons, conns)
    layout = Layout(tuple(sizes), activations, NetworkType(network_type), connection_rate, storage_dtype)
    dtype = layout.dtype
    params = Params(
        tuple(Layer(jnp.asarray(w, dtype), jnp.asarray(b, dtype)) for w, b in layers),
        tuple(jnp.asarray(s, jnp.float32) for s in steepness),
        tuple(jnp.asarray(m) for m in masks) if layout.sparse else None,
        scaling,
    )
    training = TrainParams(**p)  # type: ignore[arg-type]
    cascade = CascadeParams(**c)  # type: ignore[arg-type]
    return Network(layout, params, training, cascade, tuple(bias_acts))


def _clamp_enum(lines: _Lines, key: str, kind: type) -> int:
    value = int(_number(lines, lines.value(key), key, int))
    if value not in {int(m) for m in kind}:  # type: ignore[attr-defined]
        raise lines.fail(f"{key}={value} is not one of {[int(m) for m in kind]}")  # type: ignore[attr-defined]
    return value


def _unpack(
    lines: _Lines, layout: Layout, neurons: list[tuple[int, int, float]], conns: list[tuple[int, float]]
) -> tuple[list, list, list, list, list[int]]:
    starts = neuron_starts(layout)
    shortcut = layout.network_type is NetworkType.SHORTCUT
    # global neuron index -> (layer, position); position -1 marks a bias neuron
    where: list[tuple[int, int]] = []
    for i, size in enumerate(layout.sizes):
        where += [(i, j) for j in range(size)]
        if i == 0 or not shortcut:
            where.append((i, -1))
    activations, layers, steepness, masks = [], [], [], []
    bias_acts = [neurons[starts[0] + layout.sizes[0]][1]]
    offsets = np.cumsum([0, *layout.sizes])  # shortcut column offset of each earlier layer
    first_con = np.cumsum([0, *(k for k, _, _ in neurons)])
    for i, (k, _, _) in enumerate(neurons[: layout.sizes[0] + 1]):
        if k:
            raise lines.fail(f"input neuron {i} declares {k} connections; input and bias neurons have none")
    for layer in range(1, layout.num_layers):
        n, fan_in = layout.sizes[layer], layout.fan_in(layer)
        w = np.zeros((n, fan_in), np.float32)
        b = np.zeros(n, np.float32)
        mask = np.zeros((n, fan_in), bool)
        acts, steeps = [], []
        for j in range(n):
            index = starts[layer] + j
            k, act, steep = neurons[index]
            if act not in {int(a) for a in Activation}:
                raise lines.fail(f"neuron {index} has unknown activation id {act} (valid: 0-19)")
            acts.append(act)
            steeps.append(steep)
            has_bias = False
            for src, weight in conns[first_con[index] : first_con[index] + k]:
                if src >= len(where):
                    raise lines.fail(f"neuron {index} connects to neuron {src}, which does not exist")
                src_layer, pos = where[src]
                allowed = src_layer < layer if shortcut else src_layer == layer - 1
                if not allowed:
                    raise lines.fail(f"neuron {index} in layer {layer} connects to neuron {src} in layer {src_layer}")
                if pos < 0:
                    if has_bias or (shortcut and src_layer != 0):
                        raise lines.fail(f"neuron {index} has a second or misplaced bias connection")
                    has_bias, b[j] = True, weight
                    continue
                col = int(offsets[src_layer]) + pos if shortcut else pos
                if mask[j, col]:
                    raise lines.fail(f"neuron {index} connects twice to neuron {src}")
                mask[j, col], w[j, col] = True, weight
            if not has_bias:
                raise lines.fail(f"neuron {index} has no bias connection; every FANN neuron has one")
            if not layout.sparse and not mask[j].all():
                raise lines.fail(
                    f"neuron {index} lacks connections but connection_rate={layout.connection_rate:f} says fully connected"
                )
        if not shortcut:
            bias_index = starts[layer] + n
            if neurons[bias_index][0]:
                raise lines.fail(f"bias neuron {bias_index} declares connections")
            bias_acts.append(neurons[bias_index][1])
        activations.append(tuple(acts))
        layers.append((w, b))
        steepness.append(np.asarray(steeps, np.float32))
        masks.append(mask)
    return activations, layers, steepness, masks, bias_acts


def read_net(path: str | PathLike[str], *, storage_dtype: str = "float32") -> Network:
    """Load a `.net` file written by C FANN (FLO_2.1, FLO_2.0, FIX_2.0) or by `write_net`.

    Raises:
        InvalidArgument: the file is not a readable FANN network (the message says where).
        OSError: the file cannot be read.
    """
    text = Path(path).read_bytes().decode("ascii", errors="replace")
    return parse_net(text, source=str(path), storage_dtype=storage_dtype)
