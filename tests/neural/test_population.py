"""Populations: agents trained together behave bit for bit like networks trained alone.

Every test uses the same small layout, window and capacity where it can, so the compiled
kernels (a process-wide registry) are shared between tests. The sharded path and the
persistent compilation cache run in subprocesses: both need a fresh JAX.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import _population as population_module
from swarm_mcp.neural import (
    AgentRef,
    Batch,
    Layout,
    Network,
    PopulationGroup,
    TrainData,
    TrainParams,
    capacity_for,
    compile_stats,
    create_population,
    create_sparse,
    create_standard,
    evaluate_data,
    read_net,
    run,
    train_on_data,
    write_net,
)

REPO = Path(__file__).resolve().parents[2]
SIZES = (8, 16, 4)
ACTS = {"activation_hidden": "SIGMOID_SYMMETRIC", "activation_output": "SIGMOID_SYMMETRIC"}
SMALL = create_standard(SIZES, key=jax.random.key(0), **ACTS).layout
WINDOW = 8
BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
# Training is bit for bit. A forward pass of one agent on one input is a (1, n_in) matmul; under
# vmap XLA may pick another dot kernel than for the standalone network, so outputs can differ
# by the f32 reduction order: about one ulp of values in [-1, 1].
F32_ULP = 2.5e-7
BF16 = SMALL.replace(storage_dtype="bfloat16")


def make_data(rows: int, seed: int) -> TrainData:
    rng = np.random.default_rng(seed)
    return TrainData(rng.uniform(-1, 1, (rows, SIZES[0])), rng.uniform(-0.9, 0.9, (rows, SIZES[-1])))


def population(size: int, seed: int, **options: object):  # type: ignore[no-untyped-def]
    return create_population(SMALL, size, key=jax.random.key(seed), window=WINDOW, **options)


def leaves_equal(a: object, b: object) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(
        x.dtype == y.dtype and np.array_equal(np.asarray(x), np.asarray(y), equal_nan=x.dtype.kind == "f")
        for x, y in zip(la, lb, strict=True)
    )


def agent(pop, slot: int) -> tuple[object, object]:  # type: ignore[no-untyped-def]
    return pop.extract(slot).params, pop.extract_state(slot)


# ------------------------------------------------------------------------------------ parity
def test_agents_train_bit_for_bit_like_train_on_data_alone_with_padding_dead_slots_and_own_settings() -> None:
    pop = population(6, seed=1)
    sets = {0: make_data(17, 10), 1: make_data(17, 11), 2: make_data(40, 12), 5: make_data(17, 15)}
    poisoned = TrainData(np.full((9, 8), np.nan), np.zeros((9, 4)))
    pop.set_data([0, 1, 2, 5], [sets[0], sets[1], sets[2], sets[5]])
    pop.set_data(3, poisoned)  # then removed: a dead slot full of NaN must not matter
    pop.remove(3)
    assert pop.samples == 64  # 40 rows grew the sample bucket from 32
    pop.set_hyper(5, rprop_delta_max=1.0, rprop_increase_factor=1.1)
    alone_first = train_on_data(pop.extract(1), sets[1], max_epochs=20)
    stop_at = float(alone_first.mse[11]) * 1.0001  # slot 1 reaches its desired error at epoch 12
    pop.set_hyper(1, desired_error=stop_at)
    before = {s: pop.extract(s) for s in (0, 1, 2, 5)}
    assert before[5].training.rprop_delta_max == 1.0

    log = pop.train(20)  # 3 compiled calls of window 8

    assert log.epochs.tolist() == [20, 12, 20, 0, 0, 20, 0, 0]  # slot 4 has no data, 3 is dead
    assert log.reached.tolist() == [False, True, False, False, False, False, False, False]
    for slot, net in before.items():
        desired = stop_at if slot == 1 else 0.0
        alone = train_on_data(net, sets[slot], max_epochs=20, desired_error=desired)
        assert leaves_equal(pop.extract(slot).params, alone.network.params), slot
        assert leaves_equal(pop.extract_state(slot).opt, alone.state.opt), slot
        np.testing.assert_array_equal(log.mse[slot, : len(alone.mse)], alone.mse)
        np.testing.assert_array_equal(log.bit_fail[slot, : len(alone.bit_fail)], alone.bit_fail)
        assert bool(log.reached[slot]) == alone.reached
    assert np.isnan(log.mse[1, 12:]).all() and (log.bit_fail[1, 12:] == -1).all()


def test_removing_and_adding_agents_leaves_the_others_untouched() -> None:
    pop = population(5, seed=2)
    pop.set_data(pop.slots, [make_data(20, s) for s in range(5)])
    pop.train(3)
    kept = {s: agent(pop, s) for s in (0, 2, 3, 4)}
    pop.remove(1)
    new = pop.add(2)
    assert new.tolist() == [1, 5]
    sixth = create_standard(SIZES, key=jax.random.fold_in(jax.random.key(2), 5), **ACTS)
    assert leaves_equal(pop.extract(1).params, sixth.params)  # a reused slot gets a fresh agent
    pop.set_data(new, make_data(32, 9))
    pop.set_hyper(new, learning_rate=0.3, desired_error=0.01)
    pop.train(4, slots=new)
    for slot, before in kept.items():
        assert leaves_equal(agent(pop, slot), before), slot
    assert pop.capacity == 8 and pop.slots.tolist() == [0, 1, 2, 3, 4, 5]


def test_spawned_agents_draw_the_weights_create_standard_and_create_sparse_draw() -> None:
    key = jax.random.key(3)
    pop = create_population(SMALL, 5, key=key, window=WINDOW)
    for n in range(5):
        alone = create_standard(SIZES, key=jax.random.fold_in(key, n), **ACTS)
        assert leaves_equal(pop.extract(n).params, alone.params)
    sparse = create_sparse(0.5, SIZES, key=jax.random.key(0), **ACTS).layout
    pop = create_population(sparse, 2, key=key, window=WINDOW)
    for n in range(2):
        alone = create_sparse(0.5, SIZES, key=jax.random.fold_in(key, n), **ACTS)
        assert leaves_equal(pop.extract(n).params, alone.params)


# --------------------------------------------------------------------------- compile budget
def test_growing_within_the_capacity_bucket_never_compiles_and_growing_past_it_keeps_every_agent() -> None:
    compiles = 0

    def count(event: str, duration: float, **_: object) -> None:
        nonlocal compiles
        compiles += event == BACKEND_COMPILE

    def cycle(pop, slots) -> None:  # type: ignore[no-untyped-def]
        pop.set_data(slots, make_data(24, 5))
        pop.set_hyper(slots, learning_rate=0.5)
        pop.train(3)
        pop.forward(np.ones((pop.capacity, 8), np.float32))
        pop.evaluate()
        pop.extract(int(slots[0]))

    pop = population(5, seed=4)
    assert pop.capacity == 8
    cycle(pop, pop.slots)  # warm: every kernel this population uses exists now
    before = compile_stats()
    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        pop.remove([0, 2])
        grown = pop.add(4)  # 7 agents in the 8-slot bucket
        cycle(pop, grown)
        pop.add(1)
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    after = compile_stats()
    assert compiles == 0
    assert (after.compiles, after.traces, after.recompiles) == (before.compiles, before.traces, before.recompiles)
    assert pop.capacity == 8 and pop.size == 8

    survivors = {int(s): agent(pop, int(s)) for s in pop.slots}
    pop.add(3)  # past the bucket: reallocate to 16 slots
    assert pop.capacity == 16 and pop.size == 11
    for slot, before_growth in survivors.items():
        assert leaves_equal(agent(pop, slot), before_growth), slot
    grown_stats = compile_stats()
    assert grown_stats.recompiles > after.recompiles  # the new bucket's kernels
    assert {"init", "write"} <= {f.kind for f in grown_stats.functions if f.layout == SMALL and f.capacity == 16}


def test_capacity_buckets_are_powers_of_two_per_device() -> None:
    assert [capacity_for(n) for n in (0, 1, 2, 3, 5, 8, 9, 1000)] == [1, 1, 2, 4, 8, 8, 16, 1024]
    assert [capacity_for(n, 2) for n in (0, 1, 3, 5, 9)] == [2, 2, 4, 8, 16]


def test_a_reserved_capacity_holds_exactly_that_many_agents_then_grows_to_a_bucket() -> None:
    pop = population(5, seed=11, capacity=6)
    assert pop.capacity == 6
    pop.add(1)
    assert pop.capacity == 6
    pop.add(1)
    assert pop.capacity == 8 and pop.size == 7  # the power-of-two bucket for 7
    with pytest.raises(InvalidArgument, match="capacity >= size"):
        population(5, seed=11, capacity=4)


# ------------------------------------------------------------------------- extract / insert
def test_an_extracted_agent_round_trips_through_a_net_file_and_insert(tmp_path: Path) -> None:
    pop = population(5, seed=5)
    pop.set_data(pop.slots, [make_data(16, s) for s in range(5)])
    pop.set_hyper(1, rprop_delta_zero=0.05)
    pop.train(6)
    net = pop.extract(1)
    write_net(net, tmp_path / "agent.net")
    loaded = read_net(tmp_path / "agent.net")
    x = np.random.default_rng(0).uniform(-1, 1, (pop.capacity, 8)).astype(np.float32)
    y = np.asarray(pop.forward(x))
    np.testing.assert_allclose(run(loaded, x[1]), y[1], rtol=0, atol=F32_ULP)
    assert loaded.training.rprop_delta_zero == np.float32(0.05)

    slot = pop.insert(loaded)
    assert slot == 5 and leaves_equal(pop.extract(5).params, net.params)
    assert pop.extract(5).training == net.training
    pop.insert(net, slot=0, state=pop.extract_state(1))  # the same brain and optimizer state twice
    pop.set_data([0, 1], make_data(16, 1))
    pop.train(5, slots=[0, 1])
    assert leaves_equal(agent(pop, 0), agent(pop, 1))
    x[5] = x[1]
    np.testing.assert_array_equal(np.asarray(pop.forward(x))[5], y[1])  # same kernel, same brain: exact


def test_training_in_chunks_of_agents_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    def trained() -> tuple[object, np.ndarray]:
        pop = population(5, seed=13)
        pop.set_data(pop.slots, [make_data(20, s) for s in range(5)])
        log = pop.train(4)
        return pop.get_params(pop.slots), log.mse

    whole = trained()
    monkeypatch.setattr(population_module, "CHUNK_BYTES", 3 * 4 * (3 * 32 * sum(SIZES) + 6 * 212))
    before = compile_stats().compiles
    chunked = trained()
    chunks = {f.shapes for f in compile_stats().functions[before:] if f.kind == "train"}
    assert chunks == {(("samples", 32), ("window", WINDOW), ("chunk", 2))}  # 4 chunks of 2 agents
    assert leaves_equal(chunked, whole)


def test_bulk_params_round_trip_and_restart_the_optimizer_only() -> None:
    pop = population(5, seed=12)
    pop.set_data(pop.slots, make_data(16, 3))
    pop.set_hyper([2, 4], learning_rate=0.25)
    pop.train(2)
    params = pop.get_params([2, 4])
    assert params.layers[0].w.shape == (2, 16, 8) and isinstance(params.layers[0].w, np.ndarray)
    assert leaves_equal(jax.tree.map(lambda a: a[1], params), pop.extract(4).params)
    halved = params._replace(layers=tuple(l._replace(w=l.w / 2) for l in params.layers))
    pop.set_params([4, 2], halved)  # swapped: slot 4 gets slot 2's halved weights
    assert leaves_equal(pop.extract(4).params, jax.tree.map(lambda a: a[0], halved))
    assert pop.data_counts[4] == 16 and pop.extract(4).training.learning_rate == np.float32(0.25)
    fresh = pop.extract_state(4).opt
    assert all(not np.asarray(leaf).any() for leaf in jax.tree.leaves(fresh.prev_slope))


def test_forward_and_evaluate_match_the_standalone_functions() -> None:
    pop = population(5, seed=6)
    sets = [make_data(n, 20 + n) for n in (7, 16, 30, 3, 3)]
    pop.set_data(pop.slots, sets)
    pop.remove(1)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (pop.capacity, 8)).astype(np.float32)
    batch = rng.uniform(-1, 1, (pop.capacity, 5, 8)).astype(np.float32)
    y, yb = np.asarray(pop.forward(x)), np.asarray(pop.forward(batch))
    mse, bits = pop.evaluate()
    shared = make_data(11, 3)
    shared_mse, shared_bits = pop.evaluate(shared)
    for slot in (0, 2):
        net = pop.extract(slot)
        np.testing.assert_allclose(y[slot], run(net, x[slot]), rtol=0, atol=F32_ULP)
        np.testing.assert_allclose(yb[slot], run(net, batch[slot]), rtol=0, atol=F32_ULP)
        assert (float(mse[slot]), int(bits[slot])) == evaluate_data(net, sets[slot])
        shared_alone = evaluate_data(net, shared)  # one batch for all agents: XLA may reorder that matmul
        assert float(shared_mse[slot]) == pytest.approx(shared_alone[0], rel=1e-6)
        assert int(shared_bits[slot]) == shared_alone[1]
    assert not y[1].any() and not y[5:].any()  # dead and empty slots give zeros
    assert np.isnan(mse[1]) and bits[1] == -1 and np.isnan(shared_mse[1])


def test_bf16_storage_keeps_bf16_weights_and_computes_in_f32() -> None:
    pop = create_population(BF16, 5, key=jax.random.key(7), window=WINDOW)
    pop.set_data(pop.slots, make_data(12, 0))
    pop.train(2)
    net = pop.extract(1)
    assert net.params.layers[0].w.dtype == jnp.bfloat16
    x = np.ones((pop.capacity, 8), np.float32)
    y = pop.forward(x)
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y)[1], run(net, x[1]), rtol=0, atol=F32_ULP)


def test_stacked_batches_set_many_agents_at_once() -> None:
    pop = population(5, seed=8)
    x = np.random.default_rng(2).uniform(-1, 1, (3, 32, 8)).astype(np.float32)
    y = np.zeros((3, 32, 4), np.float32)
    mask = np.arange(32)[None, :] < np.array([[4], [32], [0]])
    pop.set_data([0, 2, 4], Batch(x, y, mask))
    assert pop.data_counts.tolist() == [4, 0, 32, 0, 0, 0, 0, 0]
    assert pop.train(1).epochs.tolist() == [1, 0, 1, 0, 0, 0, 0, 0]


# ---------------------------------------------------------------------------------- errors
def test_bad_requests_raise_invalid_argument_naming_what_is_valid() -> None:
    pop = population(5, seed=9)
    with pytest.raises(InvalidArgument, match=r"\[9\] hold no agent; alive slots: 0, 1, 2, 3, 4"):
        pop.set_data(9, make_data(3, 0))
    with pytest.raises(InvalidArgument, match="valid: 'learning_rate'"):
        pop.set_hyper(0, learning_rat=0.1)
    with pytest.raises(InvalidArgument, match="capacity=8"):
        pop.forward(np.zeros((3, 8)))
    with pytest.raises(InvalidArgument, match="inputs / 1 outputs"):
        pop.set_data(0, TrainData(np.zeros((2, 8)), np.zeros((2, 1))))
    other = create_standard((8, 16, 3), key=jax.random.key(0), **ACTS)
    with pytest.raises(InvalidArgument, match="layout"):
        pop.insert(other)
    quick = pop.extract(0).replace(training=TrainParams(algorithm="QUICKPROP"))
    with pytest.raises(InvalidArgument, match="population"):
        pop.insert(quick)
    with pytest.raises(InvalidArgument, match="devices"):
        create_population(SMALL, 1, key=jax.random.key(0), devices=99)
    with pytest.raises(InvalidArgument, match="epochs"):
        pop.train(-1)
    assert isinstance(pop.extract(0), Network)


# --------------------------------------------------------------------------------- species
def test_a_group_keeps_one_population_per_layout() -> None:
    key = jax.random.key(10)
    group = PopulationGroup(key=key, window=WINDOW)
    small_refs = group.add(SMALL, 5)
    bf16_refs = group.add(BF16, 5)
    assert bf16_refs[:2] == [AgentRef(BF16, 0), AgentRef(BF16, 1)] and group.size == 10
    species = group.species
    for pop in species.values():
        pop.set_data(pop.slots, make_data(8, 0))
    logs = group.train(2)
    assert set(logs) == {SMALL, BF16} and logs[BF16].epochs.tolist()[:5] == [2] * 5
    alone = create_population(BF16, 5, key=jax.random.fold_in(key, 1), window=WINDOW)  # species 1's key
    alone.set_data(alone.slots, make_data(8, 0))
    alone.train(2)
    assert leaves_equal(species[BF16].extract(3).params, alone.extract(3).params)
    group.remove([small_refs[0], bf16_refs[1]])
    out = group.forward({BF16: np.ones((species[BF16].capacity, 8), np.float32)})
    assert not np.asarray(out[BF16])[1].any() and np.asarray(out[BF16])[0].any()
    with pytest.raises(InvalidArgument, match="species here"):
        group.forward({Layout((3, 1), ("LINEAR",)): np.ones((1, 3))})


# ------------------------------------------------------------------------ fresh processes
def _python(code: str, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full_env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SHARDED_SETUP = """
    import jax, numpy as np
    from swarm_mcp.neural import TrainData, create_population, create_standard
    acts = dict(activation_hidden="SIGMOID_SYMMETRIC", activation_output="SIGMOID_SYMMETRIC")
    layout = create_standard((8, 16, 4), key=jax.random.key(0), **acts).layout
    rng = np.random.default_rng(0)
    sets = [TrainData(rng.uniform(-1, 1, (n, 8)), rng.uniform(-.9, .9, (n, 4))) for n in (5, 32, 17, 9, 17)]
    x = rng.uniform(-1, 1, (8, 8)).astype(np.float32)
    pop = create_population(layout, 5, key=jax.random.key(7), window=8, devices=DEVICES)
    pop.set_data(pop.slots, sets)
    pop.remove(2)
    log = pop.train(12)
    y = np.asarray(pop.forward(x))
    leaves = [np.asarray(leaf) for s in (0, 1, 3, 4) for leaf in jax.tree.leaves(pop.extract(s).params)]
    result = {"params": [a.tobytes().hex() for a in leaves], "mse": log.mse.tobytes().hex()}
    result["forward"] = y.tobytes().hex()
"""

SHARDED = SHARDED_SETUP + """
    import json
    result["devices"] = len(pop.devices)
    result["shards"] = len(pop._params.layers[0].w.sharding.device_set)
    pop.add(5)
    result["grown"] = [pop.capacity, len(pop._params.layers[0].w.sharding.device_set)]
    print(json.dumps(result))
"""


@pytest.mark.timeout(240)
def test_a_population_sharded_over_two_host_devices_trains_exactly_like_one_device() -> None:
    sharded = _python(SHARDED.replace("DEVICES", "None"), {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert (sharded.pop("devices"), sharded.pop("shards"), sharded.pop("grown")) == (2, 2, [16, 2])
    here: dict = {}  # type: ignore[type-arg]
    exec(textwrap.dedent(SHARDED_SETUP.replace("DEVICES", "1")), here)  # the same population on one device
    assert sharded == here["result"]
    alone = train_on_data(create_standard(SIZES, key=jax.random.fold_in(jax.random.key(7), 4), **ACTS),
                          here["sets"][4], max_epochs=12)
    assert leaves_equal(here["pop"].extract(4).params, alone.network.params)


CACHED = """
    import json, sys, jax, numpy as np
    from swarm_mcp.neural import Layout, TrainData, compile_stats, configure_compilation_cache, create_population
    configure_compilation_cache(sys.argv[1])
    pop = create_population(Layout((2, 3, 1), (5, 5)), 3, key=jax.random.key(0), window=4)
    pop.set_data(pop.slots, TrainData(np.array([[-1., 1.], [1., 1.]]), np.array([[1.], [-1.]])))
    pop.train(2)
    stats = compile_stats()
    print(json.dumps({"compiles": stats.compiles, "hits": stats.persistent_cache_hits,
                      "from_disk": [f.from_disk for f in stats.functions], "dir": stats.cache_dir}))
"""


@pytest.mark.timeout(240)
def test_a_second_process_loads_the_population_kernels_from_the_persistent_cache(tmp_path: Path) -> None:
    cache = tmp_path / "jax-cache"
    code = CACHED.replace("sys.argv[1]", repr(str(cache)))
    first = _python(code)
    files = list(cache.iterdir())
    second = _python(code)
    assert first["compiles"] == second["compiles"] > 0
    assert first["hits"] == 0 and not any(first["from_disk"])
    assert len(files) >= first["compiles"]
    assert second["hits"] >= second["compiles"] and all(second["from_disk"])
    assert second["dir"] == str(cache)

