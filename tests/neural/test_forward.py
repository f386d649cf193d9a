"""Forward parity: every golden network against the independent float64 reference, within 1e-6."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fann_reference import ReferenceNet

from swarm_mcp.neural import Network, forward, forward_batch, read_data, read_net, scale_input

TOLERANCE = 1e-6

_forward_jit = jax.jit(forward_batch, static_argnums=0)


def run(net: Network, x: np.ndarray) -> np.ndarray:
    return np.asarray(_forward_jit(net.layout, net.params, jnp.asarray(x, jnp.float32)))


def _golden_nets(golden: Path) -> list[Path]:
    nets = sorted(golden.glob("train/*_init.net")) + sorted(golden.glob("train/*_final.net"))
    return nets + sorted(p for p in golden.glob("nets/*.net") if p.name != "xor_fixed.net")


@pytest.fixture(scope="module")
def domain_inputs(data_dir: Path, golden_dir: Path) -> dict[str, np.ndarray]:
    """Inputs in each net's own domain: its data set's rows plus random points of the same range."""
    rng = np.random.default_rng(7)
    parity = read_data(data_dir / "parity8.train").inputs
    scaled_net = read_net(golden_dir / "nets" / "scaled_3-5-5-1.net")
    raw = read_data(data_dir / "scaling.data").inputs[:48]
    return {
        "xor": np.concatenate([read_data(data_dir / "xor.data").inputs, rng.uniform(-1, 1, (28, 2))]),
        "parity8": np.concatenate([parity[:32], rng.uniform(0, 1, (16, 8))]),
        "building": np.concatenate([read_data(data_dir / "building.train").inputs[:32], rng.uniform(0, 1, (16, 14))]),
        "shortcut": rng.uniform(-1, 1, (48, 2)),
        "sparse0.5": np.concatenate([parity[:32], rng.uniform(0, 1, (16, 8))]),
        "scaled": np.asarray(scale_input(scaled_net.params.scaling, jnp.asarray(raw))),
    }


def test_every_golden_network_matches_the_float64_reference(golden_dir: Path, domain_inputs: dict) -> None:
    nets = _golden_nets(golden_dir)
    assert len(nets) == 52  # 24 traces × (init, final) + 4 example nets
    worst = {}
    for path in nets:
        x = domain_inputs[path.name.split("_")[0]].astype(np.float32)
        ours = run(read_net(path), x)
        ref = ReferenceNet(path).run_batch(x)
        worst[path.name] = float(np.abs(ours - ref).max())
    bad = {k: v for k, v in worst.items() if v > TOLERANCE}
    assert not bad, bad
    assert max(worst.values()) > 0.0


def test_fixed_point_xor_gives_the_xor_answers(golden_dir: Path) -> None:
    net = read_net(golden_dir / "nets" / "xor_fixed.net")
    data = read_data(golden_dir / "nets" / "xor_fixed.data", decimal_point=12)
    np.testing.assert_array_equal(data.inputs, [[-1, -1], [-1, 1], [1, -1], [1, 1]])
    out = run(net, data.inputs)
    np.testing.assert_array_equal(np.sign(out), data.outputs)
    assert np.all(np.abs(out) > 0.5)
    ref = ReferenceNet(golden_dir / "nets" / "xor_fixed.net").run_batch(data.inputs)
    np.testing.assert_allclose(out, ref, atol=TOLERANCE)


def test_fixed_and_float_exports_of_the_same_xor_agree(golden_dir: Path) -> None:
    fixed = read_net(golden_dir / "nets" / "xor_fixed.net")
    floating = read_net(golden_dir / "nets" / "xor_float.net")
    for a, b in zip(fixed.params.layers, floating.params.layers, strict=True):
        np.testing.assert_allclose(np.asarray(a.w), np.asarray(b.w), atol=2**-12)


def test_single_example_forward_vmaps_to_the_batched_forward(golden_dir: Path, domain_inputs: dict) -> None:
    net = read_net(golden_dir / "train" / "building_rprop_final.net")
    x = jnp.asarray(domain_inputs["building"], jnp.float32)
    one_by_one = jax.jit(jax.vmap(forward, in_axes=(None, None, 0)), static_argnums=0)(net.layout, net.params, x)
    batched = forward_batch(net.layout, net.params, x)
    np.testing.assert_allclose(np.asarray(one_by_one), np.asarray(batched), atol=1e-7)
    assert forward(net.layout, net.params, x[0]).shape == (3,)


def test_forward_vmaps_over_a_population_axis(golden_dir: Path, domain_inputs: dict) -> None:
    nets = [read_net(golden_dir / "train" / f"parity8_{a}_final.net") for a in ("rprop", "batch", "quickprop")]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *(n.params for n in nets))
    x = jnp.asarray(domain_inputs["parity8"], jnp.float32)
    population = jax.vmap(forward_batch, in_axes=(None, 0, None))(nets[0].layout, stacked, x)
    for i, net in enumerate(nets):
        np.testing.assert_allclose(np.asarray(population[i]), run(net, x), atol=1e-7)


def test_forward_compiles_once_per_layout(golden_dir: Path) -> None:
    traces = 0

    def counted(layout, params, x):  # type: ignore[no-untyped-def]
        nonlocal traces
        traces += 1
        return forward_batch(layout, params, x)

    f = jax.jit(counted, static_argnums=0)
    x = jnp.zeros((4, 2), jnp.float32)
    for algo in ("rprop", "batch", "quickprop", "incremental"):
        net = read_net(golden_dir / "train" / f"xor_{algo}_final.net")
        f(net.layout, net.params, x)
    assert traces == 1


def test_per_neuron_activations_and_steepness_match_the_reference(tmp_path: Path) -> None:
    from swarm_mcp.neural import Layout, Network, init_params, write_net

    layout = Layout((3, 6, 2), ((3, 5, 7, 10, 14, 19), (0, 16)))
    params = init_params(layout, jax.random.key(4), steepness=[0.5, 1.0], weight_range=(-1.5, 1.5))
    steep = jnp.asarray([0.25, 0.5, 0.75, 1.0, 0.5, 0.9], jnp.float32)
    net = Network(layout, params._replace(steepness=(steep, params.steepness[1])))
    write_net(net, tmp_path / "mixed.net")
    x = np.random.default_rng(1).uniform(-2, 2, (40, 3)).astype(np.float32)
    ref = ReferenceNet(tmp_path / "mixed.net").run_batch(x)
    np.testing.assert_allclose(run(net, x), ref, atol=TOLERANCE)
    assert read_net(tmp_path / "mixed.net").layout == layout
