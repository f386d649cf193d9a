"""`neural_*`: FANN-compatible networks in JAX, as MCP tools.

This module imports no JAX: `tools/list` must stay JAX-free, so activation and algorithm names
are listed here (a test holds them equal to `swarm_mcp.neural`'s enums) and the service imports
JAX on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import NotRequired, TypedDict

from ..errors import InvalidArgument, format_choices
from ..neural_service import NeuralService, TrainReport, as_data, jsonable
from ..files import read_bounded
from ..paths import confine
from ._registry import ToolContext, ToolRegistry, wire_name

__all__ = ("ACTIVATIONS", "ALGORITHMS", "TRAIN_PARAMETERS", "register")

# FANN's activation ids 0-19, lower-cased names (id = position).
ACTIVATIONS = (
    "linear", "threshold", "threshold_symmetric", "sigmoid", "sigmoid_stepwise", "sigmoid_symmetric",
    "sigmoid_symmetric_stepwise", "gaussian", "gaussian_symmetric", "gaussian_stepwise", "elliot",
    "elliot_symmetric", "linear_piece", "linear_piece_symmetric", "sin_symmetric", "cos_symmetric", "sin", "cos",
    "linear_piece_rect", "linear_piece_rect_leaky",
)
_ALIASES = {"tanh": "sigmoid_symmetric", "relu": "linear_piece_rect", "leaky_relu": "linear_piece_rect_leaky"}
ALGORITHMS = ("incremental", "batch", "rprop", "quickprop", "sarprop", "adam", "adamw")
# Numeric TrainParams fields a caller may set through `params`.
TRAIN_PARAMETERS = (
    "learning_rate", "learning_momentum", "bit_fail_limit", "rprop_increase_factor", "rprop_decrease_factor",
    "rprop_delta_min", "rprop_delta_max", "rprop_delta_zero", "quickprop_decay", "quickprop_mu",
    "sarprop_weight_decay_shift", "sarprop_step_error_threshold_factor", "sarprop_step_error_shift",
    "sarprop_temperature", "adam_learning_rate", "adam_beta1", "adam_beta2", "adam_epsilon", "adamw_weight_decay",
)

ActivationName = Literal[
    "linear", "threshold", "threshold_symmetric", "sigmoid", "sigmoid_stepwise", "sigmoid_symmetric",
    "sigmoid_symmetric_stepwise", "gaussian", "gaussian_symmetric", "gaussian_stepwise", "elliot",
    "elliot_symmetric", "linear_piece", "linear_piece_symmetric", "sin_symmetric", "cos_symmetric", "sin", "cos",
    "linear_piece_rect", "linear_piece_rect_leaky", "tanh", "relu", "leaky_relu",
]
AlgorithmName = Literal["incremental", "batch", "rprop", "quickprop", "sarprop", "adam", "adamw", "cascade2"]
Matrix = list[list[float]]
_MAX_DATA_FILE_BYTES = 256 * 2**20  # a .data file is read whole, then parsed

NetworkId = Annotated[str, Field(description="A network id from neural_create, neural_load or neural_list.")]
Inputs = Annotated[Matrix | None, Field(description="Input rows, one list of numbers per sample.")]
Outputs = Annotated[Matrix | None, Field(description="Desired output rows, one per input row.")]
DataPath = Annotated[
    str | None, Field(description="A FANN .data file in the data dir's data/ folder, instead of inputs/outputs.")
]


class NetworkInfo(TypedDict):
    network_id: str
    layers: list[int]
    network_type: str
    connection_rate: float
    hidden_activation: str | None
    output_activation: str | None
    parameters: int
    storage_dtype: str
    scaling: bool
    algorithm: str
    epochs_trained: int
    created: float
    updated: float
    last_mse: NotRequired[float]
    last_bit_fail: NotRequired[int]
    loaded_from: NotRequired[str]
    seed: NotRequired[int]


class RunResult(TypedDict):
    network_id: str
    outputs: list[list[float]]


class TestReport(TypedDict):
    network_id: str
    mse: float
    bit_fail: int
    bit_fail_limit: float
    classification_error: float
    samples: int


class SavedFile(TypedDict):
    network_id: str
    path: str
    format: str
    bytes: int


class BrainTraining(TypedDict):
    agents: dict[str, Any]
    count: int
    epochs: int


class NetworkList(TypedDict):
    networks: list[dict[str, Any]]
    count: int


class NeuralStatus(TypedDict):
    runtime: dict[str, Any]
    host: dict[str, Any]
    brains: dict[str, Any]
    agent: NotRequired[dict[str, Any]]


def _service(ctx: ToolContext) -> NeuralService:
    return ctx.app.neural


def _activation(name: str) -> str:
    return _ALIASES.get(name, name).upper()


def _tool_path(ctx: ToolContext, text: str, folder: Path, what: str) -> Path:
    config = ctx.app.config
    return confine(text, folder, data_dir=config.data_dir, allowed=config.allow_external_paths, what=what)


def _data_source(ctx: ToolContext, inputs: Matrix | None, outputs: Matrix | None, data_path: str | None) -> Any:
    if data_path is not None:
        if inputs is not None or outputs is not None:
            raise InvalidArgument("give either inputs and outputs, or dataPath, not both")
        path = _tool_path(ctx, data_path, ctx.app.config.training_data_dir, "dataPath")
        if not path.is_file():
            raise InvalidArgument(f"no data file at {path}; put a FANN .data file in the data dir's data/ folder, or pass inputs and outputs")
        text = read_bounded(path, limit=_MAX_DATA_FILE_BYTES, what="training data file").decode(errors="replace")
        return lambda neural: neural.parse_data(text, source=str(path))
    if inputs is None or outputs is None:
        raise InvalidArgument("training data is missing: pass inputs and outputs (lists of rows), or dataPath")
    return as_data(inputs, outputs)


async def neural_create(
    ctx: ToolContext,
    layers: Annotated[list[int], Field(min_length=2, description="Neurons per layer, input first, output last, e.g. [2, 3, 1].")],
    hidden_activation: Annotated[ActivationName, Field(description="Activation of hidden layers (FANN default sigmoid_stepwise).")] = "sigmoid_stepwise",
    output_activation: Annotated[ActivationName, Field(description="Activation of the output layer.")] = "sigmoid_stepwise",
    hidden_steepness: Annotated[float, Field(gt=0, le=100, description="Steepness of hidden layers.")] = 0.5,
    output_steepness: Annotated[float, Field(gt=0, le=100, description="Steepness of the output layer.")] = 0.5,
    network_type: Annotated[Literal["layered", "sparse", "shortcut"], Field(description="layered (fully connected), sparse (connectionRate of the links), or shortcut (every layer sees all earlier ones; cascade2 grows these).")] = "layered",
    connection_rate: Annotated[float, Field(gt=0, le=1, description="Fraction of connections kept (sparse only).")] = 1.0,
    init: Annotated[Literal["uniform", "widrow_nguyen"], Field(description="Initial weights: uniform in initRange, or FANN's Widrow-Nguyen for inputs in inputRange.")] = "uniform",
    init_range: Annotated[list[float], Field(min_length=2, max_length=2, description="[low, high] for uniform init.")] = [-0.1, 0.1],  # noqa: B006
    input_range: Annotated[list[float], Field(min_length=2, max_length=2, description="[min, max] of the inputs, for widrow_nguyen.")] = [-1.0, 1.0],  # noqa: B006
    storage_dtype: Annotated[Literal["float32", "bfloat16"], Field(description="How weights are stored (compute is float32).")] = "float32",
    seed: Annotated[int | None, Field(ge=0, le=2**31 - 1, description="Random seed (recorded); default random.")] = None,
    network_id: Annotated[str | None, Field(description="Id to give the network; default generated.")] = None,
) -> NetworkInfo:
    """Create a FANN-compatible neural network and return its id.

    The network persists in the daemon's store. Layer sizes count neurons without bias, as
    FANN's create functions do. Train it with neural_train, use it with neural_run.
    """
    service = _service(ctx)
    if any(size < 1 for size in layers):
        raise InvalidArgument(f"every layer needs at least 1 neuron, got {layers}")
    service.check_layers(layers, shortcut=network_type == "shortcut")
    if network_type == "sparse" and connection_rate >= 1:
        raise InvalidArgument("a sparse network needs connectionRate below 1, e.g. 0.5; or use networkType 'layered'")
    if network_type != "sparse" and connection_rate < 1:
        raise InvalidArgument(f"connectionRate applies to sparse networks; set networkType 'sparse' (got {network_type!r})")
    low, high = init_range
    if not low < high:
        raise InvalidArgument(f"initRange must be [low, high] with low < high, got {init_range}")
    if init == "widrow_nguyen" and not input_range[0] < input_range[1]:
        raise InvalidArgument(f"inputRange must be [min, max] with min < max, got {input_range}")
    chosen_seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    new_id = service.new_id(network_id)

    def build(neural: Any) -> Any:
        import jax
        import numpy as np

        key = jax.random.key(chosen_seed)
        make_key, init_key = jax.random.split(key)
        options = dict(
            key=make_key, activation_hidden=_activation(hidden_activation), activation_output=_activation(output_activation),
            steepness_hidden=hidden_steepness, steepness_output=output_steepness, storage_dtype=storage_dtype,
        )
        if network_type == "sparse":
            network = neural.create_sparse(connection_rate, layers, **options)
        elif network_type == "shortcut":
            network = neural.create_shortcut(layers, **options)
        else:
            network = neural.create_standard(layers, **options)
        if init == "widrow_nguyen":
            corners = np.array([[input_range[0]] * layers[0], [input_range[1]] * layers[0]], np.float32)
            span = neural.TrainData(corners, np.zeros((2, layers[-1]), np.float32))
            return neural.init_weights(network, span, init_key)
        if (low, high) != (-0.1, 0.1):
            return neural.randomize_weights(network, init_key, low, high)
        return network

    summary = await service.create(new_id, build, seed=chosen_seed)
    return summary  # type: ignore[return-value]


async def neural_train(
    ctx: ToolContext,
    network_id: Annotated[str | None, Field(description="A network from neural_create/neural_load/neural_list; or use agentId.")] = None,
    inputs: Inputs = None,
    outputs: Outputs = None,
    data_path: DataPath = None,
    algorithm: Annotated[AlgorithmName | None, Field(description="Training algorithm; default the network's own (FANN default rprop). cascade2 grows a shortcut network neuron by neuron.")] = None,
    learning_rate: Annotated[float | None, Field(gt=0, description="Learning rate (incremental, batch, quickprop).")] = None,
    learning_momentum: Annotated[float | None, Field(ge=0, lt=1, description="Momentum (incremental).")] = None,
    params: Annotated[dict[str, float] | None, Field(description="Other FANN training parameters by name, e.g. {'rprop_delta_max': 20}.")] = None,
    rprop_variant: Annotated[Literal["fann", "textbook"] | None, Field(description="fann: FANN's RPROP rule (default); textbook: iRPROP- proper.")] = None,
    error_function: Annotated[Literal["tanh", "linear"] | None, Field(description="Error backpropagated (FANN default tanh).")] = None,
    stop_function: Annotated[Literal["mse", "bit"] | None, Field(description="Stop test: mse <= desiredError, or bit fails <= desiredError.")] = None,
    max_epochs: Annotated[int, Field(gt=0, le=10_000_000, description="Most epochs to train.")] = 1000,
    desired_error: Annotated[float, Field(ge=0, description="Stop once the stop test passes.")] = 0.001,
    epochs_between_reports: Annotated[int | None, Field(gt=0, description="History (and progress) every this many epochs; default about 20 reports.")] = None,
    max_neurons: Annotated[int, Field(gt=0, le=1000, description="cascade2 only: most hidden neurons to add.")] = 30,
    seed: Annotated[int, Field(ge=0, le=2**31 - 1, description="Seed for SARPROP noise and cascade candidates.")] = 0,
    agent_id: Annotated[str | None, Field(description="Train this agent's brain on its own experiences instead ('all': every agent).")] = None,
    iterations: Annotated[int | None, Field(gt=0, le=10_000, description="Epochs (agent brains: default 20; networks: same as maxEpochs).")] = None,
) -> TrainReport | BrainTraining:
    """Train a network on inline data (inputs/outputs) or a FANN .data file, exactly as FANN does;
    or, with agentId, train an agent's brain (or every agent's) on its experiences now.

    Returns the MSE history at each report, the final MSE and bit-fail count, the epochs run
    and the wall time (for brains: each agent's MSE per epoch). Sends progress notifications
    while training when the client asks for them; cancelling the call stops training at the
    next report and keeps what was learned.
    """
    if agent_id is not None:
        stray = sorted(wire_name(name) for name in ctx.provided - {"agent_id", "iterations"})
        if stray:
            raise InvalidArgument(f"with agentId, neural_train trains the agent's brain on its own experiences and "
                                  f"takes only iterations; drop {', '.join(stray)}")
        trained = await ctx.app.swarm.train_agents(agent_id, epochs=iterations or 20)
        return {"agents": trained, "count": len(trained), "epochs": iterations or 20}
    if network_id is None:
        raise InvalidArgument("neural_train needs networkId (a standalone network; neural_list shows them) or agentId "
                              "(an agent's brain, or 'all')")
    if iterations is not None:
        if "max_epochs" in ctx.provided and max_epochs != iterations:
            raise InvalidArgument("iterations and maxEpochs disagree; give one of them")
        max_epochs = iterations
    if params:
        unknown = sorted(set(params) - set(TRAIN_PARAMETERS))
        if unknown:
            raise InvalidArgument(f"unknown training parameter(s) {unknown}; valid: {format_choices(TRAIN_PARAMETERS)}")
    settings: dict[str, Any] = dict(params or {})
    if algorithm is not None and algorithm != "cascade2":
        settings["algorithm"] = algorithm
    for name, value in (("learning_rate", learning_rate), ("learning_momentum", learning_momentum),
                        ("rprop_variant", rprop_variant), ("error_function", error_function), ("stop_function", stop_function)):
        if value is not None:
            settings[name] = value
    reports = epochs_between_reports or max(1, max_epochs // 20)
    return await _service(ctx).train(
        network_id, _data_source(ctx, inputs, outputs, data_path), settings=settings, max_epochs=max_epochs,
        desired_error=desired_error, epochs_between_reports=reports,
        cascade_max_neurons=max_neurons if algorithm == "cascade2" else None, seed=seed,
        progress=ctx.report_progress if ctx.wants_progress else None,
    )


async def neural_run(
    ctx: ToolContext,
    network_id: NetworkId,
    inputs: Annotated[Matrix, Field(min_length=1, max_length=100_000, description="Input rows; one output row comes back per input row.")],
    apply_scaling: Annotated[bool, Field(description="If the network stores FANN scaling parameters, scale inputs and descale outputs.")] = True,
) -> RunResult:
    """Run a network on a batch of inputs and return its outputs (float32 values)."""
    outputs = await _service(ctx).run(network_id, inputs, apply_scaling=apply_scaling)
    return {"network_id": network_id, "outputs": jsonable(outputs)}


async def neural_test(
    ctx: ToolContext,
    network_id: NetworkId,
    inputs: Inputs = None,
    outputs: Outputs = None,
    data_path: DataPath = None,
) -> TestReport:
    """Measure a network on data without training it: MSE (as FANN computes it), bit-fail count
    and classification error (arg-max mismatch, or the wrong side of the activation's midpoint for
    one output)."""
    report = await _service(ctx).test(network_id, _data_source(ctx, inputs, outputs, data_path))
    return {"network_id": network_id, **report}  # type: ignore[typeddict-item]


def _format(path: str, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in (".net", ".json"):
        return suffix[1:]
    raise InvalidArgument(f"cannot tell the format of {path!r} from its extension; name it .net or .json, or pass format")


async def neural_save(
    ctx: ToolContext,
    network_id: NetworkId,
    path: Annotated[str, Field(description="File name under the data dir's networks/ folder, e.g. 'xor.net'.")],
    format: Annotated[Literal["net", "json"] | None, Field(description="net: FANN_FLO_2.1 (loads in C FANN); json: exact JSON export. Default from the extension.")] = None,  # noqa: A002
) -> SavedFile:
    """Save a network as a FANN .net file (C FANN can load it) or as JSON."""
    fmt = _format(path, format)
    target = _tool_path(ctx, path, ctx.app.config.networks_dir, "path")
    size = await _service(ctx).save_file(network_id, target, fmt)
    return {"network_id": network_id, "path": str(target), "format": fmt, "bytes": size}


async def neural_load(
    ctx: ToolContext,
    path: Annotated[str, Field(description="A .net (FANN_FLO_2.1/2.0, FANN_FIX_2.0) or .json file under the data dir's networks/ folder.")],
    format: Annotated[Literal["net", "json"] | None, Field(description="Default from the extension.")] = None,  # noqa: A002
    network_id: Annotated[str | None, Field(description="Id for the loaded network; default generated.")] = None,
) -> NetworkInfo:
    """Load a network from a FANN .net file or a JSON export; it gets a new id and persists."""
    fmt = _format(path, format)
    source = _tool_path(ctx, path, ctx.app.config.networks_dir, "path")
    service = _service(ctx)
    return await service.load_file(source, fmt, service.new_id(network_id))  # type: ignore[return-value]


async def neural_list(ctx: ToolContext) -> NetworkList:
    """List every network the daemon keeps (also those from before a restart), without loading any."""
    networks = await _service(ctx).list()
    return {"networks": networks, "count": len(networks)}


async def neural_status(
    ctx: ToolContext,
    agent_id: Annotated[str | None, Field(description="Also report this agent's brain.")] = None,
) -> NeuralStatus:
    """The neural runtime: whether JAX is loaded, backend and devices, device memory, compiled
    functions, networks loaded, compute time and workers; the agent brain populations (one per
    swarm that has learned); with agentId, that agent's brain. Never loads JAX just to answer."""
    service = _service(ctx)
    await service.list()
    runtime = service.status()
    host = await ctx.app.jax_probe.info()
    engine = ctx.app.swarm
    brains: dict[str, Any] = {"enabled": engine.brains is not None}
    if engine.brains is not None:
        brains.update(engine.brains.status())
    report: NeuralStatus = {"runtime": runtime, "host": host, "brains": brains}
    if agent_id is not None:
        agent = engine.agent(agent_id)
        report["agent"] = {"agent_id": agent.id, "swarm_id": agent.swarm_id, **(
            engine.brains.agent(agent.swarm_id, agent.id) if engine.brains is not None else {})}
    return report


def register(registry: ToolRegistry) -> None:
    registry.add(neural_create, title="Create a neural network", destructive=False, idempotent=False)
    registry.add(neural_train, title="Train a neural network", destructive=False, idempotent=False)
    registry.add(neural_run, title="Run a neural network", read_only=True)
    registry.add(neural_test, title="Test a neural network", read_only=True)
    registry.add(neural_save, title="Save a neural network to a file", destructive=False, idempotent=True)
    registry.add(neural_load, title="Load a neural network from a file", destructive=False, idempotent=False)
    registry.add(neural_list, title="List neural networks", read_only=True)
    registry.add(neural_status, title="Neural runtime status", read_only=True)
