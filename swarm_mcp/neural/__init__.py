"""FANN-compatible neural networks in JAX: pure functions over explicit pytrees.

A network is a static `Layout` (hashable: jit caches key on it) plus a `Params` pytree of
arrays. `forward` is single-example and vmappable; `Network` bundles layout, params and
FANN's settings for the host-side helpers (`.net` / `.data` files, scaling).
"""

from __future__ import annotations

from ._activations import Activation as Activation
from ._activations import activate as activate
from ._activations import derivative as derivative
from ._create import create_shortcut as create_shortcut
from ._create import create_sparse as create_sparse
from ._create import create_standard as create_standard
from ._create import init_params as init_params
from ._create import init_weights as init_weights
from ._create import randomize_weights as randomize_weights
from ._create import sparse_masks as sparse_masks
from ._datafile import Batch as Batch
from ._datafile import TrainData as TrainData
from ._datafile import format_data as format_data
from ._datafile import pad_data as pad_data
from ._datafile import parse_data as parse_data
from ._datafile import read_data as read_data
from ._datafile import write_data as write_data
from ._forward import forward as forward
from ._forward import forward_batch as forward_batch
from ._netfile import format_net as format_net
from ._netfile import parse_net as parse_net
from ._netfile import read_net as read_net
from ._netfile import write_net as write_net
from ._network import Layer as Layer
from ._network import Layout as Layout
from ._network import Network as Network
from ._network import NetworkType as NetworkType
from ._network import Params as Params
from ._network import Scaling as Scaling
from ._scaling import clear_scaling_params as clear_scaling_params
from ._scaling import descale_data as descale_data
from ._scaling import descale_input as descale_input
from ._scaling import descale_output as descale_output
from ._scaling import scale_data as scale_data
from ._scaling import scale_input as scale_input
from ._scaling import scale_output as scale_output
from ._scaling import set_scaling_params as set_scaling_params
from ._settings import Algorithm as Algorithm
from ._settings import CascadeParams as CascadeParams
from ._settings import ErrorFunction as ErrorFunction
from ._settings import Hyper as Hyper
from ._settings import StopFunction as StopFunction
from ._settings import TrainParams as TrainParams
from ._settings import TrainSpec as TrainSpec

__all__ = (
    # structure
    "Activation",
    "Layer",
    "Layout",
    "Network",
    "NetworkType",
    "Params",
    "Scaling",
    # creation and initialisation
    "create_shortcut",
    "create_sparse",
    "create_standard",
    "init_params",
    "init_weights",
    "randomize_weights",
    "sparse_masks",
    # forward pass
    "activate",
    "derivative",
    "forward",
    "forward_batch",
    # settings
    "Algorithm",
    "CascadeParams",
    "ErrorFunction",
    "Hyper",
    "StopFunction",
    "TrainParams",
    "TrainSpec",
    # data
    "Batch",
    "TrainData",
    "format_data",
    "pad_data",
    "parse_data",
    "read_data",
    "write_data",
    # scaling
    "clear_scaling_params",
    "descale_data",
    "descale_input",
    "descale_output",
    "scale_data",
    "scale_input",
    "scale_output",
    "set_scaling_params",
    # files
    "format_net",
    "parse_net",
    "read_net",
    "write_net",
)
