"""The daemon's standalone neural networks: ids, persistence, and compute off the event loop.

JAX comes from the daemon's shared `NeuralRuntime`, loaded the first time a network is needed.
numpy, like JAX, is imported on first use: starting the daemon and listing tools load neither.
Every network lives in the store (`store.networks`: a summary as metadata and
the exact JSON image as the blob), so it survives a restart; loaded networks are cached here.
Training, running and testing run in worker threads (at most `neural_workers` at once), one
operation per network at a time. Long training reports progress and stops at the next report
point when its call is cancelled, keeping (and saving) what it trained so far.
"""

from __future__ import annotations

import functools
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import NotRequired, TypedDict  # pydantic needs these on Python 3.11

import anyio
import anyio.from_thread
import orjson
import structlog

from .errors import InvalidArgument, LimitExceeded, NotFound
from .feed import EventFeed
from .files import read_bounded, write_privately
from .paths import ensure_private_dir
from .neural_runtime import NeuralRuntime

if TYPE_CHECKING:
    import numpy as np

    from .memory import TieredStore
    from .neural import Network, TrainData

__all__ = ("NeuralService", "TrainReport", "as_data", "jsonable", "parameter_count")

log = structlog.get_logger("swarm_mcp.neural")

T = TypeVar("T")
ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
_NET_FILE_BYTES_PER_PARAMETER = 64
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def as_data(inputs: Any, outputs: Any, *, n_in: int | None = None, n_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate inline training data into float32 `(N, n_in)`, `(N, n_out)` arrays.

    Raises:
        InvalidArgument: ragged rows, wrong widths, mismatched row counts, or non-finite values.
    """
    x = _matrix(inputs, "inputs", n_in)
    y = _matrix(outputs, "outputs", n_out)
    if x.shape[0] != y.shape[0]:
        raise InvalidArgument(f"inputs has {x.shape[0]} rows but outputs has {y.shape[0]}; give one output row per input row")
    return x, y


def _matrix(rows: Any, what: str, width: int | None) -> np.ndarray:
    import numpy as np

    try:
        with np.errstate(all="ignore"):  # overflow to inf is reported below, with its position
            array = np.asarray(rows, dtype=np.float32)
    except (ValueError, TypeError):
        raise InvalidArgument(f"{what} must be a list of rows of numbers, all rows the same length") from None
    if array.ndim != 2 or array.shape[0] == 0:
        raise InvalidArgument(f"{what} must be a non-empty list of rows (a 2-D array), got shape {array.shape}")
    if width is not None and array.shape[1] != width:
        raise InvalidArgument(f"{what} rows have {array.shape[1]} values; this network needs {width} per row")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, col = (int(v) for v in bad[0])
        raise InvalidArgument(
            f"{what}[{row}][{col}] is {array[row, col]} (NaN or infinite as float32); {len(bad)} such values in all. "
            "Clean or rescale the data"
        )
    return array


class TrainReport(TypedDict):
    """What one `train` call did (also the `neural_train` tool's result)."""

    network_id: str
    algorithm: str
    epochs_run: int
    final_mse: float
    bit_fail: int
    reached_desired_error: bool
    stopped_by: str  # desired_error, max_epochs, max_neurons or cancelled
    history: list[dict[str, Any]]
    wall_s: float
    samples: int
    neurons_added: NotRequired[int]


def _report(algorithm: str, epochs: int, mse: float, bit_fail: int, reached: bool, stopped_by: str,
            history: list[dict[str, Any]], started: float, samples: int) -> TrainReport:
    return {
        "network_id": "", "algorithm": algorithm, "epochs_run": epochs, "final_mse": mse, "bit_fail": bit_fail,
        "reached_desired_error": reached, "stopped_by": stopped_by, "history": history,
        "wall_s": round(time.perf_counter() - started, 6), "samples": samples,
    }


@dataclass
class _Slot:
    """One known network: its summary (always) and, once loaded, the network itself."""

    summary: dict[str, Any]
    version: int
    network: Network | None = None
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class NeuralService:
    """Standalone networks of the daemon (agent brains live in the swarm engine, on the same runtime)."""

    def __init__(self, store: TieredStore, runtime: NeuralRuntime, *, max_layer_size: int,
                 max_layers: int = 1024, max_parameters: int = 16 * 2**20, max_response_bytes: int = 32 * 2**20,
                 clock: Callable[[], float] = time.time, feed: EventFeed | None = None) -> None:
        self._store = store
        self._feed = feed  # where a finished training run is announced
        self.runtime = runtime
        self.max_layer_size = max_layer_size
        self.max_layers = max_layers
        self.max_parameters = max_parameters
        self.max_response_bytes = max_response_bytes
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._loaded_from_store = False

    def _neural(self) -> Any:
        return self.runtime.load()

    async def _offload(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.runtime.run(fn, *args)

    # -- the registry of networks ----------------------------------------------------------

    async def _ensure_listed(self) -> None:
        if self._loaded_from_store:
            return
        after = None
        while True:
            records = await self._store.networks.list(limit=500, after=after)
            for record in records:
                if record.id not in self._slots:
                    self._slots[record.id] = _Slot(dict(record.metadata), record.version)
            if len(records) < 500:
                break
            after = records[-1].id
        self._loaded_from_store = True

    async def _slot(self, network_id: str) -> _Slot:
        await self._ensure_listed()
        slot = self._slots.get(network_id)
        if slot is None:
            known = len(self._slots)
            raise NotFound(f"No network with id {network_id!r} ({known} exist); call neural_list for valid ids, "
                           "or neural_create / neural_load to make one")
        return slot

    async def _network(self, network_id: str, slot: _Slot) -> Network:
        if slot.network is None:
            record = await self._store.networks.get(network_id)
            if record is None:
                raise NotFound(f"Network {network_id!r} was deleted; call neural_list for valid ids")
            neural = await self._offload(self._neural)
            slot.network = await self._offload(neural.network_from_json, bytes(record.weights).decode())
        return slot.network

    async def _save(self, network_id: str, slot: _Slot, network: Network, **facts: Any) -> None:
        neural = self._neural()
        image = await self._offload(lambda: neural.network_to_json(network).encode())
        summary = {**slot.summary, **summarize(network), **facts, "updated": self._clock()}
        record = await self._store.networks.put(network_id, weights=image, metadata=summary, if_version=slot.version or None)
        slot.network, slot.summary, slot.version = network, summary, record.version

    def new_id(self, requested: str | None) -> str:
        if requested is None:
            return f"net-{secrets.token_hex(4)}"
        if not _ID.match(requested):
            raise InvalidArgument(f"network_id {requested!r} must be 1-64 characters of letters, digits, '_', '.', ':' or '-'")
        return requested

    async def add(self, network_id: str, network: Network, **facts: Any) -> dict[str, Any]:
        """Register and persist a new network under `network_id` (which must be free)."""
        await self._ensure_listed()
        if network_id in self._slots:
            raise InvalidArgument(f"a network with id {network_id!r} already exists; pick another id or omit it")
        self.check_layers(network.layout.sizes, shortcut=int(network.layout.network_type) == 1)
        slot = _Slot({"network_id": network_id, "created": self._clock(), "epochs_trained": 0}, 0)
        self._slots[network_id] = slot
        try:
            await self._save(network_id, slot, network, **facts)
        except BaseException:
            del self._slots[network_id]
            raise
        if self._feed is not None:
            self._feed.publish("network_created", {"network_id": network_id, "layers": slot.summary.get("layers")})
        return slot.summary

    def check_layers(self, sizes: Sequence[int], *, shortcut: bool = False) -> None:
        """Refuse a network over the configured limits, before anything is allocated.

        Raises:
            LimitExceeded: more layers than `neural_max_layers`, a layer larger than
                `neural_max_layer_size`, or more weights and biases than `neural_max_parameters`.
        """
        if len(sizes) > self.max_layers:
            raise LimitExceeded(
                f"a network of {len(sizes)} layers exceeds the limit of {self.max_layers} layers "
                "(setting neural_max_layers); use fewer layers"
            )
        too_big = [s for s in sizes if s > self.max_layer_size]
        if too_big:
            shown = list(sizes) if len(sizes) <= 12 else f"{list(sizes[:12])[:-1]}, …] ({len(sizes)} layers)"
            raise LimitExceeded(
                f"layer sizes {shown} exceed the limit of {self.max_layer_size} neurons per layer "
                "(setting neural_max_layer_size); use smaller layers"
            )
        count = parameter_count(sizes, shortcut=shortcut)
        if count > self.max_parameters:
            raise LimitExceeded(
                f"this network would have {count:,} weights and biases; the limit is {self.max_parameters:,} "
                "(setting neural_max_parameters). Use fewer or smaller layers"
            )

    def check_cascade(self, network: Network, max_neurons: int) -> None:
        """Refuse a cascade2 run that could grow `network` past the limits (each neuron is a layer).

        Raises:
            LimitExceeded: as `check_layers`, for the largest network the run may grow.
        """
        sizes = list(network.layout.sizes)
        try:
            self.check_layers([*sizes[:-1], *[1] * max_neurons, sizes[-1]], shortcut=True)
        except LimitExceeded as exc:
            raise LimitExceeded(f"cascade2 with maxNeurons {max_neurons} could exceed a limit: {exc}; lower maxNeurons") from None

    # -- operations ------------------------------------------------------------------------

    async def create(self, network_id: str, build: Callable[[Any], Network], **facts: Any) -> dict[str, Any]:
        """Build a network with `build(swarm_mcp.neural)` in a worker thread, then register it."""
        neural = await self._offload(self._neural)
        network = await self._offload(build, neural)
        return await self.add(network_id, network, **facts)

    async def list(self) -> list[dict[str, Any]]:
        await self._ensure_listed()
        return [slot.summary for _, slot in sorted(self._slots.items())]

    async def get(self, network_id: str) -> Network:
        slot = await self._slot(network_id)
        async with slot.lock:
            return await self._network(network_id, slot)

    async def run(self, network_id: str, inputs: Any, *, apply_scaling: bool) -> np.ndarray:
        """Outputs for each input row, refused before any work when they would not fit one response.

        Raises:
            LimitExceeded: rows × outputs would make a result over `max_response_bytes`.
        """
        slot = await self._slot(network_id)
        async with slot.lock:
            network = await self._network(network_id, slot)
            self._check_run_size(len(inputs), network.layout.num_output)
            x = _matrix(inputs, "inputs", network.layout.num_input)
            return await self._offload(_run, self._neural(), network, x, apply_scaling)

    def _check_run_size(self, rows: int, outputs: int) -> None:
        # A float32 takes at most 16 bytes as JSON; a result is sent twice (structured and as text).
        row_bytes = 2 * (16 * outputs + 2)
        if rows * row_bytes > self.max_response_bytes:
            most = max(1, self.max_response_bytes // row_bytes)
            raise LimitExceeded(
                f"{rows:,} rows of {outputs:,} outputs would make a result of up to {rows * row_bytes / 2**20:.1f} MiB, over "
                f"the {self.max_response_bytes / 2**20:.0f} MiB limit of one response (setting max_response_bytes). "
                f"Send at most {most:,} rows per neural_run call and page through the inputs"
            )

    async def test(self, network_id: str, data: tuple[np.ndarray, np.ndarray] | Callable[[Any], TrainData]) -> dict[str, Any]:
        slot = await self._slot(network_id)
        async with slot.lock:
            network = await self._network(network_id, slot)
            train = await self._data(data, network)
            return await self._offload(_test, self._neural(), network, train)

    async def _data(self, data: tuple[np.ndarray, np.ndarray] | Callable[[Any], TrainData], network: Network) -> TrainData:
        neural = await self._offload(self._neural)
        train = neural.TrainData(*data) if isinstance(data, tuple) else await self._offload(data, neural)
        layout = network.layout
        if (train.num_input, train.num_output) != (layout.num_input, layout.num_output):
            raise InvalidArgument(
                f"the data has {train.num_input} inputs and {train.num_output} outputs per sample; network "
                f"{list(layout.sizes)} needs {layout.num_input} inputs and {layout.num_output} outputs per sample"
            )
        _matrix(train.inputs, "inputs", None)
        _matrix(train.outputs, "outputs", None)
        return train

    async def train(
        self,
        network_id: str,
        data: tuple[np.ndarray, np.ndarray] | Callable[[Any], TrainData],
        *,
        settings: Mapping[str, Any],
        max_epochs: int,
        desired_error: float,
        epochs_between_reports: int,
        cascade_max_neurons: int | None,
        seed: int,
        progress: ProgressFn | None,
    ) -> TrainReport:
        """Train in a worker thread, reporting progress; cancellation stops at the next report and
        still saves the weights reached (so nothing trained is lost)."""
        slot = await self._slot(network_id)
        async with slot.lock:
            network = await self._network(network_id, slot)
            if cascade_max_neurons is not None:
                self.check_cascade(network, cascade_max_neurons)
            train_data = await self._data(data, network)
            neural = self._neural()
            try:
                configured = network.replace(training=network.training.replace(**settings))
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(f"invalid training settings: {exc}") from None
            stop = threading.Event()
            holder: dict[str, Any] = {}

            def report(epoch: int, total: int, mse: float, bit_fail: int) -> bool:
                if progress is not None:
                    anyio.from_thread.run(progress, float(epoch), float(total), f"epoch {epoch}: MSE {mse:.6g}, bit fail {bit_fail}")
                return not stop.is_set()

            job = functools.partial(
                _train, neural, configured, train_data, max_epochs, desired_error, epochs_between_reports,
                cascade_max_neurons, seed, report, holder,
            )
            try:
                await self.runtime.run_stoppable(job, stop)
            finally:
                if "network" in holder:
                    with anyio.CancelScope(shield=True):
                        outcome: TrainReport = holder["outcome"]
                        outcome["network_id"] = network_id
                        if stop.is_set() and outcome["stopped_by"] != "desired_error":
                            outcome["stopped_by"] = "cancelled"
                        await self._save(
                            network_id, slot, holder["network"],
                            epochs_trained=slot.summary.get("epochs_trained", 0) + outcome["epochs_run"],
                            last_mse=outcome["final_mse"], last_bit_fail=outcome["bit_fail"], algorithm=outcome["algorithm"],
                        )
                        log.info("network_trained", network_id=network_id, epochs=outcome["epochs_run"],
                                 mse=outcome["final_mse"], stopped_by=outcome["stopped_by"], seconds=outcome["wall_s"])
                        if self._feed is not None:
                            self._feed.publish("network_trained", {
                                "network_id": network_id, "epochs": outcome["epochs_run"], "mse": outcome["final_mse"],
                                "stopped_by": outcome["stopped_by"], "seconds": outcome["wall_s"]})
            return outcome

    async def summary(self, network_id: str) -> dict[str, Any]:
        """The network's summary (layers, activations, training so far) without loading it.

        Raises:
            NotFound: no such network.
        """
        return dict((await self._slot(network_id)).summary)

    async def json_text(self, network_id: str) -> str:
        """The network as its JSON document (what the store keeps), without loading JAX.

        Raises:
            NotFound: no such network.
        """
        await self._slot(network_id)
        record = await self._store.networks.get(network_id)  # saved after every change, so current
        if record is None:
            raise NotFound(f"Network {network_id!r} was deleted; call neural_list for valid ids")
        return bytes(record.weights).decode()

    async def net_text(self, network_id: str) -> str:
        """The network as FANN `.net` text (loads it, and JAX, in a worker thread).

        Raises:
            NotFound: no such network.
        """
        network = await self.get(network_id)
        neural = await self._offload(self._neural)
        return await self._offload(neural.format_net, network)

    async def save_file(self, network_id: str, path: Path, fmt: str) -> int:
        network = await self.get(network_id)
        neural = self._neural()
        text = await self._offload(neural.format_net if fmt == "net" else neural.network_to_json, network)
        data = text.encode()
        ensure_private_dir(path.parent)
        return await anyio.to_thread.run_sync(write_privately, path, data)

    async def load_file(self, path: Path, fmt: str, network_id: str) -> dict[str, Any]:
        try:
            # A .net file holds each weight as text (~20 bytes): a bigger file cannot fit neural_max_parameters.
            limit = _NET_FILE_BYTES_PER_PARAMETER * self.max_parameters + 2**20
            data = await anyio.to_thread.run_sync(lambda: read_bounded(path, limit=limit, what="network file"))
            text = data.decode()
        except NotFound:
            raise NotFound(f"no file at {path}; neural_save writes one, or copy a FANN .net file there") from None
        except UnicodeDecodeError:
            raise InvalidArgument(f"{path} is not a text file; expected a FANN .net file or a JSON network") from None
        neural = await self._offload(self._neural)
        parse = neural.parse_net if fmt == "net" else neural.network_from_json
        network = await self._offload(functools.partial(parse, text, source=str(path)) if fmt == "net" else functools.partial(parse, text))
        return await self.add(network_id, network, loaded_from=str(path))

    def status(self) -> dict[str, Any]:
        """Facts about the networks and the runtime; JAX facts only if JAX is loaded (asking never loads it)."""
        loaded = [slot.network for slot in self._slots.values() if slot.network is not None]
        return {
            **self.runtime.status(),
            "networks_known": len(self._slots) if self._loaded_from_store else None,
            "networks_loaded": len(loaded),
            "parameter_bytes_loaded": sum(_param_bytes(n) for n in loaded),
        }


def parameter_count(sizes: Sequence[int], *, shortcut: bool = False) -> int:
    """Weights and biases of a FANN network with these layer sizes (fully connected; a shortcut
    layer sees every earlier layer and only the input's bias)."""
    count, seen = 0, 0
    for before, size in zip(sizes[:-1], sizes[1:], strict=False):
        seen += before
        count += ((seen if shortcut else before) + 1) * size
    return count


# -- work done in worker threads (plain functions: numpy and JAX in, numpy and values out) ---------


def summarize(network: Network) -> dict[str, Any]:
    import numpy as np

    layout = network.layout
    acts = [layout.activation_ids(layer) for layer in range(1, layout.num_layers)]
    names = _activation_names()
    return {
        "layers": list(layout.sizes),
        "network_type": "shortcut" if int(layout.network_type) == 1 else ("sparse" if layout.sparse else "layered"),
        "connection_rate": layout.connection_rate,
        "hidden_activation": names.get(acts[0][0]) if len(acts) > 1 else None,
        "output_activation": names.get(acts[-1][0]),
        "parameters": int(sum(np.asarray(layer.w).size + np.asarray(layer.b).size for layer in network.params.layers)),
        "storage_dtype": layout.storage_dtype,
        "scaling": network.params.scaling is not None,
        "algorithm": network.training.algorithm.name.lower(),
    }


@functools.cache
def _activation_names() -> dict[int, str]:
    from .neural import Activation

    return {int(a): a.name.lower() for a in Activation}


def _param_bytes(network: Network) -> int:
    import numpy as np

    return int(sum(np.asarray(leaf).nbytes for layer in network.params.layers for leaf in layer))








def _run(neural: Any, network: Network, x: np.ndarray, apply_scaling: bool) -> np.ndarray:
    import numpy as np

    scaling = network.params.scaling
    if apply_scaling and scaling is not None:
        x = np.asarray(neural.scale_input(scaling, x))
    y = neural.run(network, x)
    if apply_scaling and scaling is not None:
        y = np.asarray(neural.descale_output(scaling, y))
    return np.asarray(y, np.float32)


def _test(neural: Any, network: Network, data: TrainData) -> dict[str, Any]:
    import numpy as np

    mse, bit_fail = neural.evaluate_data(network, data)
    outputs = np.asarray(neural.run(network, data.inputs))
    targets = np.asarray(data.outputs)
    if outputs.shape[1] > 1:
        wrong = np.argmax(outputs, axis=1) != np.argmax(targets, axis=1)
    else:
        symmetric = network.layout.activation_ids(network.layout.num_layers - 1)[0] in (2, 5, 6, 8, 11, 13, 14, 15)
        middle = 0.0 if symmetric else 0.5
        wrong = (outputs[:, 0] >= middle) != (targets[:, 0] >= middle)
    return {
        "mse": mse,
        "bit_fail": bit_fail,
        "bit_fail_limit": network.training.bit_fail_limit,
        "classification_error": float(np.mean(wrong)),
        "samples": int(targets.shape[0]),
    }


def _train(
    neural: Any, network: Network, data: TrainData, max_epochs: int, desired_error: float,
    epochs_between_reports: int, cascade_max_neurons: int | None, seed: int,
    report: Callable[[int, int, float, int], bool], holder: dict[str, Any],
) -> None:
    import jax

    started = time.perf_counter()
    history: list[dict[str, Any]] = []
    key = jax.random.key(seed)
    if cascade_max_neurons is not None:

        def on_round(r: Any) -> bool:
            history.append({"neurons": r.neurons, "epoch": r.epochs, "mse": r.mse, "bit_fail": r.bit_fail})
            return report(r.neurons, cascade_max_neurons, r.mse, r.bit_fail)

        result = neural.cascade_train_on_data(
            network, data, max_neurons=cascade_max_neurons, desired_error=desired_error,
            neurons_between_reports=1, callback=on_round, key=key,
        )
        holder["network"] = result.network
        holder["outcome"] = _report(
            "cascade2", result.epochs, result.mse, result.bit_fail, result.reached,
            "desired_error" if result.reached else ("cancelled" if result.cancelled else "max_neurons"),
            history, started, data.num_data,
        )
        holder["outcome"]["neurons_added"] = result.neurons_added
        return

    def on_report(r: Any) -> bool:
        history.append({"epoch": r.epoch, "mse": r.mse, "bit_fail": r.bit_fail})
        return report(r.epoch, max_epochs, r.mse, r.bit_fail)

    result = neural.train_on_data(
        network, data, max_epochs=max_epochs, desired_error=desired_error,
        epochs_between_reports=epochs_between_reports, callback=on_report, key=key,
    )
    epochs = int(result.mse.shape[0])
    final_mse = float(result.mse[-1]) if epochs else float("nan")
    final_bits = int(result.bit_fail[-1]) if epochs else 0
    holder["network"] = result.network
    holder["outcome"] = _report(
        network.training.algorithm.name.lower(), epochs, final_mse, final_bits, bool(result.reached),
        "desired_error" if result.reached else ("cancelled" if result.cancelled else "max_epochs"),
        history, started, data.num_data,
    )


def jsonable(array: np.ndarray) -> list[Any]:
    """Float32 results as JSON numbers (orjson renders float32 exactly)."""
    return orjson.loads(orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY))
