"""FANN-compatible neural networks in JAX: pure functions over explicit pytrees.

A network is a static `Layout` (hashable: jit caches key on it) plus a `Params` pytree of
arrays. `forward` is single-example and vmappable; `train_epochs` fuses K training epochs
in one jit and vmaps over a leading network axis, so populations share one compiled call.
`Network` bundles layout, params and FANN's settings for the host-side helpers
(`train_on_data`, `run`, `.net` / `.data` / JSON files, scaling, cascade training, and
Cascade2's steps one at a time: `cascade_start`, `cascade_train_outputs`, ...).
`Population` keeps many networks of one layout on a leading agent axis in capacity buckets
(compiled once per bucket, donated updates, sharded over local devices); `PopulationGroup`
holds one population per layout. `compile_stats` and `configure_compilation_cache` expose
and persist their executables.
"""

from __future__ import annotations

from ._activations import Activation as Activation
from ._activations import activate as activate
from ._activations import derivative as derivative
from ._backprop import Slopes as Slopes
from ._backprop import epoch_slopes as epoch_slopes
from ._cascade import CascadeReport as CascadeReport
from ._cascade import CascadeResult as CascadeResult
from ._cascade import cascade_train_on_data as cascade_train_on_data
from ._cascade_phases import CandidatePhase as CandidatePhase
from ._cascade_phases import OutputPhase as OutputPhase
from ._cascade_steps import Candidates as Candidates
from ._cascade_steps import CascadeState as CascadeState
from ._cascade_steps import cascade_initialize_candidates as cascade_initialize_candidates
from ._cascade_steps import cascade_install_candidate as cascade_install_candidate
from ._cascade_steps import cascade_network as cascade_network
from ._cascade_steps import cascade_start as cascade_start
from ._cascade_steps import cascade_train_candidates as cascade_train_candidates
from ._cascade_steps import cascade_train_outputs as cascade_train_outputs
from ._compile import CompiledFunction as CompiledFunction
from ._compile import CompileStats as CompileStats
from ._compile import compile_stats as compile_stats
from ._compile import configure_compilation_cache as configure_compilation_cache
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
from ._driver import Report as Report
from ._driver import TrainResult as TrainResult
from ._driver import evaluate_data as evaluate_data
from ._driver import run as run
from ._driver import train_on_data as train_on_data
from ._forward import forward as forward
from ._forward import forward_batch as forward_batch
from ._json import network_from_dict as network_from_dict
from ._json import network_from_json as network_from_json
from ._json import network_to_dict as network_to_dict
from ._json import network_to_json as network_to_json
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
from ._optimizers import AdamState as AdamState
from ._optimizers import MomentumState as MomentumState
from ._optimizers import Optimizer as Optimizer
from ._optimizers import QuickpropState as QuickpropState
from ._optimizers import RpropState as RpropState
from ._optimizers import SarpropState as SarpropState
from ._optimizers import StepInfo as StepInfo
from ._optimizers import optimizer_for as optimizer_for
from ._population import Population as Population
from ._population import PopulationLog as PopulationLog
from ._population import capacity_for as capacity_for
from ._population import create_population as create_population
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
from ._species import AgentRef as AgentRef
from ._species import PopulationGroup as PopulationGroup
from ._train import EpochLog as EpochLog
from ._train import TrainState as TrainState
from ._train import evaluate_batch as evaluate_batch
from ._train import init_train_state as init_train_state
from ._train import train_epoch as train_epoch
from ._train import train_epochs as train_epochs

__all__ = (
    "Activation",
    "AdamState",
    "AgentRef",
    "Algorithm",
    "Batch",
    "CandidatePhase",
    "Candidates",
    "CascadeParams",
    "CascadeReport",
    "CascadeResult",
    "CascadeState",
    "CompileStats",
    "CompiledFunction",
    "EpochLog",
    "ErrorFunction",
    "Hyper",
    "Layer",
    "Layout",
    "MomentumState",
    "Network",
    "NetworkType",
    "Optimizer",
    "OutputPhase",
    "Params",
    "Population",
    "PopulationGroup",
    "PopulationLog",
    "QuickpropState",
    "Report",
    "RpropState",
    "SarpropState",
    "Scaling",
    "Slopes",
    "StepInfo",
    "StopFunction",
    "TrainData",
    "TrainParams",
    "TrainResult",
    "TrainSpec",
    "TrainState",
    "activate",
    "capacity_for",
    "cascade_initialize_candidates",
    "cascade_install_candidate",
    "cascade_network",
    "cascade_start",
    "cascade_train_candidates",
    "cascade_train_on_data",
    "cascade_train_outputs",
    "clear_scaling_params",
    "compile_stats",
    "configure_compilation_cache",
    "create_population",
    "create_shortcut",
    "create_sparse",
    "create_standard",
    "derivative",
    "descale_data",
    "descale_input",
    "descale_output",
    "epoch_slopes",
    "evaluate_batch",
    "evaluate_data",
    "format_data",
    "format_net",
    "forward",
    "forward_batch",
    "init_params",
    "init_train_state",
    "init_weights",
    "network_from_dict",
    "network_from_json",
    "network_to_dict",
    "network_to_json",
    "optimizer_for",
    "pad_data",
    "parse_data",
    "parse_net",
    "randomize_weights",
    "read_data",
    "read_net",
    "run",
    "scale_data",
    "scale_input",
    "scale_output",
    "set_scaling_params",
    "sparse_masks",
    "train_epoch",
    "train_epochs",
    "train_on_data",
    "write_data",
    "write_net",
)
