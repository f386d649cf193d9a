"""Populations: many networks of one layout, trained and run together in one compiled call.

A `Population` holds every agent's params, training state, hyper-parameters and padded data
stacked on a leading agent axis of `capacity` slots (a power of two per device, or a reserved
count), plus a host-side alive mask. Adding or removing agents within the capacity writes rows in place
(donated buffers) or flips mask bits and never recompiles; growing past the capacity moves the
arrays to the next bucket, the only time new executables are compiled. With several local
devices the agent axis is sharded across them (`NamedSharding(Mesh(devices, ("agents",)),
P("agents"))`); with one device the same code runs unsharded.

Ownership: a population owns its arrays and replaces them on every update (the old buffers are
donated to XLA and deleted). Nothing it returns aliases its state: outputs, logs and extracted
networks are fresh arrays the caller keeps. Calls on one population are serialised by a lock;
run them off the event loop (`anyio.to_thread.run_sync`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from swarm_mcp.errors import InvalidArgument, format_choices

from ._compile import compiled
from ._create import sparse_masks
from ._datafile import Batch, TrainData
from ._network import Layer, Layout, Network, Params, check_params
from ._population_kernels import (
    agent_keys,
    evaluate_kernel,
    extract_kernel,
    forward_kernel,
    gather_kernel,
    init_kernel,
    state_kernel,
    train_kernel,
    write_brains_kernel,
    write_data_kernel,
    write_hyper_kernel,
    write_kernel,
)
from ._settings import Hyper, TrainParams, TrainSpec
from ._train import TrainState, check_trainable

__all__ = ("Population", "PopulationLog", "capacity_for", "create_population")

ROWS = 64  # agents written per update call; fewer are padded with dropped rows
CHUNK_BYTES = 8 << 20  # temporaries per chunk of agents in train / forward / evaluate (see agent_map)

Slots = int | Sequence[int] | np.ndarray


class PopulationLog(NamedTuple):
    """Per-agent results of `Population.train`, host arrays indexed by slot."""

    mse: np.ndarray  # (capacity, epochs) f32: MSE of each epoch run, NaN after the agent stopped
    bit_fail: np.ndarray  # (capacity, epochs) int32: bit fails of each epoch run, -1 after it stopped
    epochs: np.ndarray  # (capacity,) int32: epochs each agent ran (0: dead, no data, not selected)
    reached: np.ndarray  # (capacity,) bool: the agent's stop test passed (its desired error)


def capacity_for(size: int, devices: int = 1) -> int:
    """The capacity bucket for `size` agents: `devices` × the next power of two of the per-device count."""
    per = max(1, -(-int(size) // devices))
    return devices * (1 << (per - 1).bit_length())


def _resolve_devices(devices: int | Sequence[jax.Device] | None) -> tuple[jax.Device, ...]:
    local = jax.local_devices()
    if devices is None:
        return tuple(local)
    if isinstance(devices, int):
        if not 1 <= devices <= len(local):
            raise InvalidArgument(f"devices must be between 1 and {len(local)} (local devices), got {devices}")
        return tuple(local[:devices])
    chosen = tuple(devices)
    if not chosen:
        raise InvalidArgument("devices must name at least one device")
    return chosen


def _is_key(leaf: Any) -> bool:
    return jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _blank(struct: jax.ShapeDtypeStruct) -> Any:
    if _is_key(struct):
        return jax.random.wrap_key_data(np.zeros((*struct.shape, 2), np.uint32))
    return np.zeros(struct.shape, struct.dtype)


def _pad_axis(leaf: jax.Array, axis: int, extra: int) -> Any:
    """`leaf` with `extra` zero entries appended along `axis` (a host round trip; growth is rare)."""
    if _is_key(leaf):
        data = np.asarray(jax.random.key_data(leaf))
        widths = [(0, 0)] * data.ndim
        widths[axis] = (0, extra)
        return jax.random.wrap_key_data(np.pad(data, widths))
    host = np.asarray(leaf)
    widths = [(0, 0)] * host.ndim
    widths[axis] = (0, extra)
    return np.pad(host, widths)


def _slot_array(slots: Slots) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(slots))
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise InvalidArgument(f"slots must be an int or a 1-D sequence of ints, got {slots!r}")
    arr = arr.astype(np.int64)
    if len(np.unique(arr)) != len(arr):
        raise InvalidArgument("slots must not repeat")
    return arr


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


class Population:
    """N networks of one `Layout` on a leading agent axis; see the module docstring.

    Build one with `create_population`. Slots are stable agent indices in `[0, capacity)`;
    arrays that cross the API are indexed by slot (dead slots included).
    """

    def __init__(
        self,
        layout: Layout,
        *,
        key: jax.Array,
        training: TrainParams | None = None,
        desired_error: float = 0.0,
        steepness_hidden: float = 0.5,
        steepness_output: float = 0.5,
        samples: int = 32,
        window: int = 32,
        devices: int | Sequence[jax.Device] | None = None,
        capacity: int | None = None,
    ) -> None:
        if samples < 1 or window < 1:
            raise InvalidArgument(f"samples and window must be >= 1, got samples={samples}, window={window}")
        self._lock = threading.RLock()
        self._layout = layout
        self._training = training or TrainParams()
        self._spec: TrainSpec = self._training.spec()
        self._default_hyper = self._training.hyper(desired_error)
        self._samples = int(samples)
        self._window = int(window)
        self._devices = _resolve_devices(devices)
        self._mesh = Mesh(np.array(self._devices), ("agents",))
        self._agents = NamedSharding(self._mesh, PartitionSpec("agents"))
        self._replicated = NamedSharding(self._mesh, PartitionSpec())
        self._key = jax.device_put(key, self._replicated)
        steepness = (np.float32(steepness_hidden), np.float32(steepness_output))
        self._steepness = tuple(jax.device_put(s, self._replicated) for s in steepness)
        self._capacity = 0
        self._alive = np.zeros(0, bool)
        self._counts = np.zeros(0, np.int32)
        self._serials = np.zeros(0, np.int64)
        self._hyper_host = np.zeros((0, len(Hyper._fields)), np.float32)
        self._next_serial = 0
        self._alive_device: jax.Array | None = None
        n_dev = len(self._devices)
        if capacity is not None and capacity < 0:
            raise InvalidArgument(f"capacity must be >= 0, got {capacity}")
        reserved = n_dev * max(1, -(-int(capacity) // n_dev)) if capacity is not None else capacity_for(0, n_dev)
        self._allocate(reserved)

    # ------------------------------------------------------------------------------- properties
    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def spec(self) -> TrainSpec:
        """The training algorithm and error/stop functions, shared by every agent (static)."""
        return self._spec

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def size(self) -> int:
        """Number of alive agents."""
        return int(self._alive.sum())

    @property
    def samples(self) -> int:
        """Rows every agent's training data is padded to."""
        return self._samples

    @property
    def window(self) -> int:
        """Most epochs one compiled train call runs (longer trainings take several calls)."""
        return self._window

    @property
    def devices(self) -> tuple[jax.Device, ...]:
        """Devices the agent axis is sharded over (one: unsharded)."""
        return self._devices

    @property
    def agent_sharding(self) -> NamedSharding:
        """How arrays with a leading agent axis are placed: `jax.device_put(x, pop.agent_sharding)`
        keeps per-agent inputs on the devices between calls."""
        return self._agents

    @property
    def alive(self) -> np.ndarray:
        """(capacity,) bool copy: which slots hold an agent."""
        return self._alive.copy()

    @property
    def slots(self) -> np.ndarray:
        """The alive slots, ascending."""
        return np.flatnonzero(self._alive)

    @property
    def data_counts(self) -> np.ndarray:
        """(capacity,) int32 copy: valid training samples per slot."""
        return self._counts.copy()

    # ------------------------------------------------------------------------------ internals
    def _run(
        self,
        kind: str,
        factory: Callable[[], Callable[..., Any]],
        shapes: Sequence[tuple[str, int]],
        args: Sequence[Any],
        placement: str,
        out: NamedSharding,
        donate: tuple[int, ...] = (),
        spec: TrainSpec | None = None,
    ) -> Any:
        """Compile (once per key) and call a kernel. `placement` has one letter per argument:
        A = agent-sharded (leading axis is the capacity), R = replicated."""
        shardings = tuple(self._agents if p == "A" else self._replicated for p in placement)
        placed = [
            a if isinstance(a, jax.Array) and a.sharding == s else jax.device_put(a, s)
            for a, s in zip(args, shardings, strict=True)
        ]

        def build() -> Any:
            return jax.jit(factory(), in_shardings=shardings, out_shardings=out, donate_argnums=donate)

        exe = compiled(kind, self._layout, spec, self._capacity, shapes, self._devices, build, placed)
        return exe(*placed)

    def _struct(self, rows: int) -> tuple[Params, TrainState]:
        layout = self._layout
        masks = None
        if layout.sparse:
            masks = tuple(
                jax.ShapeDtypeStruct((rows, layout.sizes[l], layout.fan_in(l)), jnp.bool_)
                for l in range(1, layout.num_layers)
            )
        scalar = jax.ShapeDtypeStruct((rows,), jnp.float32)
        return jax.eval_shape(
            init_kernel(layout, self._spec),
            self._key,
            jax.ShapeDtypeStruct((rows,), jnp.uint32),
            masks,
            Hyper(*(scalar for _ in Hyper._fields)),
            *self._steepness,
        )

    def _allocate(self, capacity: int) -> None:
        params, state = self._struct(capacity)
        hyper = Hyper(*(np.zeros(capacity, np.float32) for _ in Hyper._fields))
        n_in, n_out = self._layout.num_input, self._layout.num_output
        data = Batch(
            np.zeros((capacity, self._samples, n_in), np.float32),
            np.zeros((capacity, self._samples, n_out), np.float32),
            np.zeros((capacity, self._samples), bool),
        )
        self._params = jax.device_put(jax.tree.map(_blank, params), self._agents)
        self._state = jax.device_put(jax.tree.map(_blank, state), self._agents)
        self._hyper = jax.device_put(hyper, self._agents)
        self._data = jax.device_put(data, self._agents)
        self._capacity = capacity
        self._alive = np.zeros(capacity, bool)
        self._counts = np.zeros(capacity, np.int32)
        self._serials = np.full(capacity, -1, np.int64)
        self._hyper_host = np.zeros((capacity, len(Hyper._fields)), np.float32)
        self._alive_device = None

    def _grow(self, capacity: int) -> None:
        extra = capacity - self._capacity
        trees = (self._params, self._state, self._hyper, self._data)
        self._params, self._state, self._hyper, self._data = (
            jax.device_put(jax.tree.map(lambda a: _pad_axis(a, 0, extra), t), self._agents) for t in trees
        )
        self._capacity = capacity
        self._alive = np.concatenate([self._alive, np.zeros(extra, bool)])
        self._counts = np.concatenate([self._counts, np.zeros(extra, np.int32)])
        self._serials = np.concatenate([self._serials, np.full(extra, -1, np.int64)])
        self._hyper_host = np.concatenate([self._hyper_host, np.zeros((extra, len(Hyper._fields)), np.float32)])
        self._alive_device = None

    def _grow_samples(self, samples: int) -> None:
        extra = samples - self._samples
        self._data = jax.device_put(jax.tree.map(lambda a: _pad_axis(a, 1, extra), self._data), self._agents)
        self._samples = samples

    def _free_slots(self, count: int) -> np.ndarray:
        free = np.flatnonzero(~self._alive)
        if len(free) < count:
            self._grow(capacity_for(self.size + count, len(self._devices)))
            free = np.flatnonzero(~self._alive)
        return free[:count]

    def _weights(self) -> int:
        """Weights and biases of one agent."""
        return sum(self._layout.sizes[l] * (self._layout.fan_in(l) + 1) for l in range(1, self._layout.num_layers))

    def _chunk(self, floats_per_agent: int) -> int:
        """Agents per chunk of a per-agent kernel: about CHUNK_BYTES of temporaries per chunk,
        preferably a divisor of the agents per device (a remainder chunk costs a second code
        path and a concatenation: 10k × 8-16-4, 42 ms in chunks of 529 against 33 ms of 500)."""
        local = self._capacity // len(self._devices)
        target = max(1, min(local, CHUNK_BYTES // (4 * max(1, floats_per_agent))))
        divisor = next(d for d in range(target, 0, -1) if local % d == 0)
        return divisor if 4 * divisor >= target else target

    def _train_chunk(self) -> int:
        return self._chunk(3 * self._samples * sum(self._layout.sizes) + 6 * self._weights())

    def _rows(self) -> int:
        return min(ROWS, self._capacity)

    def _chunks(self, slots: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(positions into `slots`, padded idx) per update call."""
        rows = self._rows()
        out = []
        for start in range(0, len(slots), rows):
            pos = np.arange(start, min(start + rows, len(slots)))
            idx = np.full(rows, self._capacity, np.int32)
            idx[: len(pos)] = slots[pos]
            out.append((pos, idx))
        return out

    def _hyper_rows(self, values: np.ndarray) -> Hyper:
        return Hyper(*(np.ascontiguousarray(values[:, i]) for i in range(len(Hyper._fields))))

    def _mask_rows(self, serials: np.ndarray) -> tuple[np.ndarray, ...]:
        """FANN's random sparse connectivity per agent, drawn on the host (sparse layouts only)."""
        mask_keys, _, _ = agent_keys(self._key, jnp.asarray(serials, jnp.uint32))
        per_agent = [sparse_masks(self._layout, k) for k in mask_keys]
        return tuple(np.stack(layer) for layer in zip(*per_agent, strict=True))

    def _check_alive(self, slots: np.ndarray) -> None:
        bad = [int(s) for s in slots if not (0 <= s < self._capacity and self._alive[s])]
        if bad:
            raise InvalidArgument(
                f"slot(s) {bad} hold no agent; alive slots: {format_choices(self.slots.tolist(), limit=20) or 'none'}"
            )

    def _alive_array(self) -> jax.Array:
        if self._alive_device is None:
            self._alive_device = jax.device_put(self._alive, self._agents)
        return self._alive_device

    def _write_agents(
        self,
        slots: np.ndarray,
        serials: np.ndarray,
        hyper_values: np.ndarray,
        params_rows: Params | None = None,
        state_rows: TrainState | None = None,
    ) -> None:
        """Put new agents at `slots` (hyper rows per slot): fresh FANN params when `params_rows`
        is None, else those rows (one agent broadcast to the update width) and `state_rows` or a
        fresh training state."""
        layout, spec, rows = self._layout, self._spec, self._rows()
        shapes = (("rows", rows), ("samples", self._samples))
        for pos, idx in self._chunks(slots):
            ser = np.zeros(rows, np.uint32)
            ser[: len(pos)] = serials[pos]
            hyper_block = np.repeat(hyper_values[:1], rows, axis=0)
            hyper_block[: len(pos)] = hyper_values[pos]
            hyper = self._hyper_rows(hyper_block)
            if params_rows is None:
                masks = self._mask_rows(ser) if layout.sparse else None
                p_rows, s_rows = self._run(
                    "init", lambda: init_kernel(layout, spec), (("rows", rows),),
                    (self._key, ser, masks, hyper, *self._steepness), "RRRRRR", self._replicated, spec=spec,
                )
            else:
                p_rows, s_rows = params_rows, state_rows
                if s_rows is None:
                    s_rows = self._run(
                        "fresh_state", lambda: state_kernel(layout, spec), (("rows", rows),),
                        (p_rows, hyper, self._key, ser), "RRRR", self._replicated, spec=spec,
                    )
            self._params, self._state, self._hyper, self._data = self._run(
                "write", write_kernel, shapes,
                (self._params, self._state, self._hyper, self._data, idx, p_rows, s_rows, hyper),
                "AAAARRRR", self._agents, donate=(0, 1, 2, 3), spec=spec,
            )
        self._alive[slots] = True
        self._counts[slots] = 0
        self._serials[slots] = serials
        self._hyper_host[slots] = hyper_values
        self._alive_device = None

    # --------------------------------------------------------------------------- agents
    def add(self, count: int = 1) -> np.ndarray:
        """Spawn `count` agents with fresh FANN weights (U[-0.1, 0.1]) and the default training
        settings, in the lowest free slots; returns their slots.

        The n-th agent spawned over the population's life gets the weights
        `create_standard(sizes, key=jax.random.fold_in(key, n), ...)` would draw. Grows to the
        next capacity bucket when the free slots run out (the only case that compiles).

        Raises:
            InvalidArgument: `count` is negative.
        """
        if count < 0:
            raise InvalidArgument(f"count must be >= 0, got {count}")
        with self._lock:
            slots = self._free_slots(count)
            serials = self._next_serial + np.arange(count, dtype=np.int64)
            self._next_serial += count
            defaults = np.asarray([float(v) for v in self._default_hyper], np.float32)
            if count:
                self._write_agents(slots, serials, np.repeat(defaults[None, :], count, axis=0))
            return slots

    def remove(self, slots: Slots) -> None:
        """Remove the agents at `slots`: their slots become free (mask bits; nothing recompiles).

        Raises:
            InvalidArgument: a slot holds no agent.
        """
        with self._lock:
            arr = _slot_array(slots)
            self._check_alive(arr)
            self._alive[arr] = False
            self._counts[arr] = 0
            self._alive_device = None

    def insert(
        self,
        network: Network,
        *,
        slot: int | None = None,
        state: TrainState | None = None,
        desired_error: float = 0.0,
    ) -> int:
        """Put a standalone network in the population (a free slot, or replace the agent at `slot`).

        The agent gets the network's weights, steepness and training hyper-parameters,
        `state` (an unstacked `TrainState`, e.g. from `train_on_data`) or a fresh one, and no
        training data. Returns the slot.

        Raises:
            InvalidArgument: another layout or training algorithm, stored scaling, bad params,
                or `slot` outside the capacity.
        """
        if network.layout != self._layout:
            raise InvalidArgument(
                f"the network's layout {network.layout.sizes} does not match the population's {self._layout.sizes}"
                " (sizes, activations, type, rate and storage dtype must all match)"
            )
        if network.training.spec() != self._spec:
            raise InvalidArgument(
                f"the network trains with {network.training.spec()}, the population with {self._spec}; "
                "set the network's training algorithm, error and stop function to the population's"
            )
        if network.params.scaling is not None:
            raise InvalidArgument("populations do not store scaling; clear_scaling_params first and scale outside")
        check_params(self._layout, network.params)
        with self._lock:
            if slot is None:
                target = self._free_slots(1)
            else:
                if not 0 <= slot < self._capacity:
                    raise InvalidArgument(f"slot must be in [0, {self._capacity}), got {slot}")
                target = np.asarray([slot], np.int64)
            rows = self._rows()
            hyper = np.asarray([[float(v) for v in network.training.hyper(desired_error)]], np.float32)
            one = jax.tree.map(np.asarray, network.params)
            one = one._replace(layers=tuple(Layer(np.swapaxes(l.w, -1, -2), l.b) for l in one.layers))  # stored
            params = jax.tree.map(lambda a: np.broadcast_to(a, (rows, *a.shape)), one)
            state_rows = None
            if state is not None:
                state_rows = jax.tree.map(lambda a: jnp.broadcast_to(jnp.asarray(a)[None], (rows, *a.shape)), state)
            serial = np.asarray([self._next_serial], np.int64)
            self._next_serial += 1
            self._write_agents(target, serial, hyper, params, state_rows)
            return int(target[0])

    def extract(self, slot: int) -> Network:
        """The agent at `slot` as a standalone `Network` (fresh arrays, e.g. for `write_net`).

        Its `training` carries the population's algorithm and the agent's hyper-parameters.

        Raises:
            InvalidArgument: the slot holds no agent.
        """
        params, _ = self._extract(slot)
        values = dict(zip(Hyper._fields, self._hyper_host[slot].tolist(), strict=True))
        values.pop("desired_error")
        training = self._training.replace(**values)
        return Network(self._layout, params, training)

    def extract_state(self, slot: int) -> TrainState:
        """The agent's optimizer state (unstacked), to continue with `train_on_data(..., state=)`.

        Raises:
            InvalidArgument: the slot holds no agent.
        """
        return self._extract(slot)[1]

    def get_params(self, slots: Slots) -> Params:
        """The params of the agents at `slots`, stacked on a leading axis `(len(slots), ...)`, as
        host numpy arrays in `Layer.w`'s layout (for bulk export, evolution, inspection).

        Raises:
            InvalidArgument: a slot holds no agent.
        """
        with self._lock:
            arr = _slot_array(slots)
            self._check_alive(arr)
            parts = []
            for pos, idx in self._chunks(arr):
                safe = np.where(idx < self._capacity, idx, 0)  # padding rows read slot 0, then are dropped
                shapes = (("rows", len(idx)),)
                rows = self._run("gather", gather_kernel, shapes, (self._params, safe), "AR", self._replicated)
                parts.append(jax.tree.map(lambda a, n=len(pos): np.asarray(a)[:n], rows))
            return jax.tree.map(lambda *a: np.concatenate(a), *parts)

    def set_params(self, slots: Slots, params: Params) -> None:
        """Give the agents at `slots` new weights (stacked like `get_params` returns them); their
        optimizer state restarts, their data and hyper-parameters stay.

        Raises:
            InvalidArgument: a slot holds no agent, or the params do not fit the layout.
        """
        with self._lock:
            arr = _slot_array(slots)
            self._check_alive(arr)
            host = jax.tree.map(np.asarray, params)
            if host.scaling is not None:
                raise InvalidArgument("populations do not store scaling; clear_scaling_params first and scale outside")
            if any(leaf.shape[0] != len(arr) for leaf in jax.tree.leaves(host)):
                raise InvalidArgument(f"params must be stacked with a leading axis of {len(arr)} (one per slot)")
            check_params(self._layout, host)
            host = host._replace(layers=tuple(Layer(np.swapaxes(l.w, -1, -2), l.b) for l in host.layers))  # stored
            layout, spec, width = self._layout, self._spec, self._rows()
            for pos, idx in self._chunks(arr):
                def pad(a: np.ndarray, pos: np.ndarray = pos) -> np.ndarray:
                    out = np.zeros((width, *a.shape[1:]), a.dtype)
                    out[: len(pos)] = a[pos]
                    return out

                p_rows = jax.tree.map(pad, host)
                ser = np.zeros(width, np.uint32)
                ser[: len(pos)] = self._serials[arr[pos]]
                hyper = np.repeat(self._hyper_host[arr[pos][:1]], width, axis=0)
                hyper[: len(pos)] = self._hyper_host[arr[pos]]
                s_rows = self._run(
                    "fresh_state", lambda: state_kernel(layout, spec), (("rows", width),),
                    (p_rows, self._hyper_rows(hyper), self._key, ser), "RRRR", self._replicated, spec=spec,
                )
                self._params, self._state = self._run(
                    "write_brains", write_brains_kernel, (("rows", width),),
                    (self._params, self._state, idx, p_rows, s_rows), "AARRR", self._agents, donate=(0, 1), spec=spec,
                )

    def _extract(self, slot: int) -> tuple[Params, TrainState]:
        with self._lock:
            self._check_alive(np.asarray([slot]))
            rows = self._run(
                "extract", extract_kernel, (), (self._params, self._state, np.int32(slot)), "AAR",
                self._replicated, spec=self._spec,
            )
            return jax.device_put(rows, self._devices[0])

    # ----------------------------------------------------------------------------- settings
    def set_data(self, slots: Slots, data: TrainData | Sequence[TrainData] | Batch) -> None:
        """Give agents their training data, padded to `samples` rows with a mask.

        `data` is one `TrainData` for every slot in `slots`, one `TrainData` per slot, or a
        `Batch` stacked per slot: x `(n, rows, n_in)`, y `(n, rows, n_out)`, mask `(n, rows)`.
        More rows than `samples` grow the sample count to the next power of two (recompiles
        training). Padding rows change nothing: an agent trains as on its unpadded data.

        Raises:
            InvalidArgument: a slot holds no agent, or the data's widths do not match the layout.
        """
        n_in, n_out = self._layout.num_input, self._layout.num_output
        with self._lock:
            arr = _slot_array(slots)
            self._check_alive(arr)
            if isinstance(data, Batch):
                x, y, mask = (np.asarray(a) for a in data)
                if x.ndim != 3 or len(x) != len(arr) or y.shape[:2] != x.shape[:2] or mask.shape != x.shape[:2]:
                    raise InvalidArgument(
                        f"a stacked Batch needs x (n, rows, n_in), y (n, rows, n_out), mask (n, rows) with n={len(arr)}"
                    )
                rows = [(x[i], y[i], mask[i].astype(bool)) for i in range(len(arr))]
            else:
                sets = [data] * len(arr) if isinstance(data, TrainData) else list(data)
                if len(sets) != len(arr):
                    raise InvalidArgument(f"{len(arr)} slots need {len(arr)} data sets, got {len(sets)}")
                rows = [(d.inputs, d.outputs, np.ones(d.num_data, bool)) for d in sets]
            for xi, yi, _ in rows:
                if xi.shape[-1] != n_in or yi.shape[-1] != n_out:
                    raise InvalidArgument(
                        f"data has {xi.shape[-1]} inputs / {yi.shape[-1]} outputs, the layout {n_in} / {n_out}"
                    )
            longest = max((len(xi) for xi, _, _ in rows), default=0)
            if longest > self._samples:
                self._grow_samples(max(_next_power_of_two(longest), self._samples))
            width = self._rows()
            for pos, idx in self._chunks(arr):
                bx = np.zeros((width, self._samples, n_in), np.float32)
                by = np.zeros((width, self._samples, n_out), np.float32)
                bm = np.zeros((width, self._samples), bool)
                for j, p in enumerate(pos):
                    xi, yi, mi = rows[p]
                    bx[j, : len(xi)], by[j, : len(yi)], bm[j, : len(mi)] = xi, yi, mi
                self._data = self._run(
                    "write_data", write_data_kernel, (("rows", width), ("samples", self._samples)),
                    (self._data, idx, Batch(bx, by, bm)), "ARR", self._agents, donate=(0,),
                )
            self._counts[arr] = [int(m.sum()) for _, _, m in rows]

    def set_hyper(self, slots: Slots, **values: float | Sequence[float] | np.ndarray) -> None:
        """Set numeric training hyper-parameters (`Hyper` fields) per agent; traced, never recompiles.

        Each value is one number for every slot or one per slot, e.g.
        `set_hyper(slots, rprop_delta_max=[10.0, 50.0], desired_error=0.001)`.

        Raises:
            InvalidArgument: an unknown field, a wrong number of values, or a dead slot.
        """
        unknown = sorted(set(values) - set(Hyper._fields))
        if unknown:
            raise InvalidArgument(f"unknown hyper-parameter(s) {unknown}; valid: {format_choices(Hyper._fields)}")
        with self._lock:
            arr = _slot_array(slots)
            self._check_alive(arr)
            for name, value in values.items():
                column = np.asarray(value, np.float32).reshape(-1)
                if column.size not in (1, len(arr)):
                    raise InvalidArgument(f"{name} needs 1 or {len(arr)} values, got {column.size}")
                self._hyper_host[arr, Hyper._fields.index(name)] = column
            width = self._rows()
            for pos, idx in self._chunks(arr):
                block = np.zeros((width, len(Hyper._fields)), np.float32)
                block[: len(pos)] = self._hyper_host[arr[pos]]
                self._hyper = self._run(
                    "write_hyper", write_hyper_kernel, (("rows", width),),
                    (self._hyper, idx, self._hyper_rows(block)), "ARR", self._agents, donate=(0,),
                )

    def set_training(self, slots: Slots, training: TrainParams, *, desired_error: float = 0.0) -> None:
        """Set the agents' hyper-parameters from a `TrainParams` (its algorithm must be the population's).

        Raises:
            InvalidArgument: another training algorithm, error or stop function, or a dead slot.
        """
        if training.spec() != self._spec:
            raise InvalidArgument(
                f"the population trains with {self._spec}; a new algorithm needs a new population"
            )
        hyper = training.hyper(desired_error)
        self.set_hyper(slots, **{name: float(v) for name, v in zip(Hyper._fields, hyper, strict=True)})

    # --------------------------------------------------------------------------- compute
    def train(self, epochs: int, *, slots: Slots | None = None) -> PopulationLog:
        """Train every alive agent with data (or only `slots`) for up to `epochs` epochs.

        Exactly `train_on_data(agent, its data, max_epochs=epochs, desired_error=its
        desired_error)` per agent, FANN's rules included: each agent stops on its own when its
        stop test passes. Runs `ceil(epochs / window)` compiled calls over all agents at once.

        Raises:
            InvalidArgument: negative epochs, or a selected slot holds no agent.
        """
        if epochs < 0:
            raise InvalidArgument(f"epochs must be >= 0, got {epochs}")
        check_trainable(self._layout)
        with self._lock:
            run = self._alive & (self._counts > 0)
            if slots is not None:
                arr = _slot_array(slots)
                self._check_alive(arr)
                chosen = np.zeros(self._capacity, bool)
                chosen[arr] = True
                run &= chosen
            remaining = np.where(run, epochs, 0).astype(np.int32)
            cap = self._capacity
            mse = np.full((cap, epochs), np.nan, np.float32)
            bit_fail = np.full((cap, epochs), -1, np.int32)
            done = np.zeros(cap, np.int32)
            reached = np.zeros(cap, bool)
            layout, spec, window = self._layout, self._spec, self._window
            shapes = (("samples", self._samples), ("window", window))
            restart = True
            mesh, chunk = self._mesh, self._train_chunk()
            shapes = (*shapes, ("chunk", chunk))
            while remaining.max(initial=0) > 0:
                count = np.minimum(remaining, window).astype(np.int32)
                self._params, self._state, log = self._run(
                    "train", lambda: train_kernel(layout, spec, window, mesh, chunk), shapes,
                    (self._params, self._state, self._hyper, self._data, count, np.bool_(restart)),
                    "AAAAAR", self._agents, donate=(0, 1), spec=spec,
                )
                restart = False
                ran, stopped = np.asarray(log.epochs), np.asarray(log.stopped)
                agent, step = np.nonzero(np.arange(window)[None, :] < ran[:, None])  # the epochs each agent ran
                mse[agent, done[agent] + step] = np.asarray(log.mse)[agent, step]
                bit_fail[agent, done[agent] + step] = np.asarray(log.bit_fail)[agent, step]
                done += ran
                reached |= stopped & (count > 0)
                remaining = np.where(stopped | (ran < count), 0, remaining - ran).astype(np.int32)
            return PopulationLog(mse, bit_fail, done, reached)

    def forward(self, inputs: np.ndarray | jax.Array) -> jax.Array:
        """Run every agent on its own input: `(capacity, n_in) -> (capacity, n_out)`, or a batch
        each, `(capacity, B, n_in) -> (capacity, B, n_out)`. Dead slots give zeros.

        Raises:
            InvalidArgument: the input shape does not match the capacity and layout.
        """
        if not isinstance(inputs, jax.Array):
            inputs = np.asarray(inputs, np.float32)
        with self._lock:
            shape = tuple(inputs.shape)
            if len(shape) not in (2, 3) or shape[0] != self._capacity or shape[-1] != self._layout.num_input:
                raise InvalidArgument(
                    f"inputs must be (capacity, n_in) or (capacity, B, n_in) with capacity={self._capacity}, "
                    f"n_in={self._layout.num_input}; got {shape}"
                )
            batched = len(shape) == 3
            x = inputs if inputs.dtype == jnp.float32 else inputs.astype(jnp.float32)
            layout, mesh = self._layout, self._mesh
            # Not chunked: the weights, not temporaries, are the bytes here, and lax.map's
            # slicing would copy them (10k × 128-64-32-8: 21 ms whole, 140-200 ms in chunks).
            chunk = self._capacity // len(self._devices)
            shapes = (("batch", shape[1]),) if batched else ()
            return self._run(
                "forward_batch" if batched else "forward", lambda: forward_kernel(layout, batched, mesh, chunk),
                shapes, (self._params, self._alive_array(), x), "AAA", self._agents,
            )

    def evaluate(self, data: TrainData | None = None) -> tuple[np.ndarray, np.ndarray]:
        """`fann_test_data` per agent: (MSE, bit_fail), each `(capacity,)`, on each agent's own
        training data or on one shared `data` set. NaN / -1 for dead slots (and, on own data,
        for agents without data).

        Raises:
            InvalidArgument: the shared data's widths do not match the layout.
        """
        layout, mesh = self._layout, self._mesh
        with self._lock:
            if data is None:
                chunk = self._chunk(2 * self._samples * sum(layout.sizes))
                mse, bits = self._run(
                    "evaluate", lambda: evaluate_kernel(layout, False, mesh, chunk),
                    (("samples", self._samples), ("chunk", chunk)),
                    (self._params, self._hyper, self._alive_array(), self._data), "AAAA", self._agents,
                )
                valid = self._counts > 0
            else:
                if (data.num_input, data.num_output) != (layout.num_input, layout.num_output):
                    raise InvalidArgument(
                        f"data has {data.num_input} inputs / {data.num_output} outputs, "
                        f"the layout {layout.num_input} / {layout.num_output}"
                    )
                batch = Batch(data.inputs, data.outputs, np.ones(data.num_data, bool))
                chunk = self._chunk(2 * data.num_data * sum(layout.sizes))
                mse, bits = self._run(
                    "evaluate_shared", lambda: evaluate_kernel(layout, True, mesh, chunk),
                    (("samples", data.num_data), ("chunk", chunk)),
                    (self._params, self._hyper, self._alive_array(), batch), "AAAR", self._agents,
                )
                valid = self._alive
            return np.where(valid, np.asarray(mse), np.nan), np.where(valid, np.asarray(bits), -1)


def create_population(
    layout: Layout,
    size: int = 0,
    *,
    key: jax.Array,
    training: TrainParams | None = None,
    desired_error: float = 0.0,
    steepness_hidden: float = 0.5,
    steepness_output: float = 0.5,
    samples: int = 32,
    window: int = 32,
    devices: int | Sequence[jax.Device] | None = None,
    capacity: int | None = None,
) -> Population:
    """A population of `size` fresh agents of `layout`.

    The capacity is the power-of-two bucket for `size` (`capacity_for`), or exactly `capacity`
    slots (rounded up to a multiple of the device count) when a caller that knows its swarm
    size reserves them; growing past it moves to the next power-of-two bucket. `training`
    (default FANN's) fixes the algorithm for all agents and the starting hyper-parameters of
    each new agent, `desired_error` its stop threshold. Agents' data are padded to `samples`
    rows; one compiled train call runs up to `window` epochs. `devices`: None shards the agent
    axis over all local devices, an int over the first n, 1 = unsharded.

    Raises:
        InvalidArgument: bad sizes, capacity or devices.
    """
    if capacity is not None and capacity < size:
        raise InvalidArgument(f"capacity {capacity} cannot hold {size} agents; use capacity >= size or None")
    population = Population(
        layout,
        key=key,
        training=training,
        desired_error=desired_error,
        steepness_hidden=steepness_hidden,
        steepness_output=steepness_output,
        samples=samples,
        window=window,
        devices=devices,
        capacity=capacity,
    )
    population.add(size)
    return population
