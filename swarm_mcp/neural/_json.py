"""A JSON image of a whole network that round-trips exactly.

Layout, every array (weights, biases, steepness, masks, scaling), the bias-neuron ids, and
all training and cascade settings. Floats are written as the shortest decimal of the stored
float32 (or bfloat16) value, which parses back to the same bits.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

from ._network import Layer, Layout, Network, Params, Scaling, check_params
from ._settings import CascadeParams, TrainParams

__all__ = ("network_from_dict", "network_from_json", "network_to_dict", "network_to_json")

FORMAT = "swarm_mcp.neural.network/1"


def _floats(array: Any) -> Any:
    return np.asarray(array, np.float32).tolist()


def _settings(value: Any) -> dict[str, Any]:
    out = {}
    for field in dataclasses.fields(value):
        v = getattr(value, field.name)
        out[field.name] = v.name if hasattr(v, "name") else list(v) if isinstance(v, tuple) else v
    return out


def network_to_dict(network: Network) -> dict[str, Any]:
    """A JSON-ready dict of the whole network (see `network_to_json`)."""
    layout, params = network.layout, network.params
    check_params(layout, params)
    return {
        "format": FORMAT,
        "layout": {
            "sizes": list(layout.sizes),
            "activations": [list(a) if isinstance(a, tuple) else a for a in layout.activations],
            "network_type": layout.network_type.name,
            "connection_rate": layout.connection_rate,
            "storage_dtype": layout.storage_dtype,
        },
        "bias_activations": list(network.bias_activations or ()),
        "params": {
            "layers": [{"w": _floats(l.w), "b": _floats(l.b)} for l in params.layers],
            "steepness": [_floats(s) for s in params.steepness],
            "masks": None if params.masks is None else [np.asarray(m, bool).tolist() for m in params.masks],
            "scaling": None if params.scaling is None else {k: _floats(v) for k, v in params.scaling._asdict().items()},
        },
        "training": _settings(network.training),
        "cascade": _settings(network.cascade),
    }


def network_to_json(network: Network) -> str:
    """The network as a JSON string; `network_from_json` restores it bit for bit."""
    return json.dumps(network_to_dict(network), separators=(",", ":"))


def network_from_dict(data: dict[str, Any]) -> Network:
    """Rebuild a network from `network_to_dict` output.

    Raises:
        InvalidArgument: unknown format, missing keys, or arrays that do not fit the layout.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidArgument(f"not a network image: expected format {FORMAT!r}")
    try:
        lay = data["layout"]
        layout = Layout(
            tuple(lay["sizes"]),
            tuple(tuple(a) if isinstance(a, list) else a for a in lay["activations"]),
            _enum_value(lay["network_type"], {"LAYER": 0, "SHORTCUT": 1}),
            lay["connection_rate"],
            lay["storage_dtype"],
        )
        p = data["params"]
        dtype = layout.dtype
        params = Params(
            tuple(
                Layer(
                    jnp.asarray(np.asarray(l["w"], np.float32).reshape(n, -1), dtype),
                    jnp.asarray(np.asarray(l["b"], np.float32), dtype),
                )
                for l, n in zip(p["layers"], layout.sizes[1:], strict=True)
            ),
            tuple(jnp.asarray(np.asarray(s, np.float32)) for s in p["steepness"]),
            None
            if p["masks"] is None
            else tuple(
                jnp.asarray(np.asarray(m, bool).reshape(n, -1))
                for m, n in zip(p["masks"], layout.sizes[1:], strict=True)
            ),
            None
            if p["scaling"] is None
            else Scaling(**{k: jnp.asarray(np.asarray(v, np.float32)) for k, v in p["scaling"].items()}),
        )
        training = TrainParams(**_tuples(data["training"]))
        cascade = CascadeParams(**_tuples(data["cascade"]))
        network = Network(layout, params, training, cascade, tuple(data["bias_activations"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"malformed network image: {exc!r}") from None
    check_params(layout, params)
    return network


def network_from_json(text: str) -> Network:
    """Parse `network_to_json` output.

    Raises:
        InvalidArgument: not JSON, or not a network image.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"network JSON does not parse: {exc}") from None
    return network_from_dict(data)


def _enum_value(value: Any, names: dict[str, int]) -> int:
    if isinstance(value, str):
        if value not in names:
            raise ValueError(f"{value!r} is not one of {sorted(names)}")
        return names[value]
    return int(value)


def _tuples(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
