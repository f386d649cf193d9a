"""The `.net` format: C FANN's files load, and ours are byte-for-byte what `fann_save` writes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import jax
import numpy as np
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import (
    Algorithm,
    Network,
    NetworkType,
    create_shortcut,
    create_sparse,
    create_standard,
    format_net,
    parse_net,
    read_net,
    write_net,
)


def _float_files(golden: Path) -> list[Path]:
    return sorted(p for p in golden.glob("*/*.net") if not p.name.startswith(("xor_fixed", "sparse")))


def _assert_same_network(a: Network, b: Network) -> None:
    assert a.layout == b.layout
    assert a.training == b.training and a.cascade == b.cascade
    assert a.bias_activations == b.bias_activations
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_every_golden_float_file_is_rewritten_byte_for_byte(golden_dir: Path) -> None:
    files = _float_files(golden_dir)
    assert len(files) == 70  # 48 training nets, shortcut, scaled, xor_float, 19 from C FANN cascades
    for path in files:
        assert format_net(read_net(path)).encode() == path.read_bytes(), path.name


def _connections_by_neuron(text: str) -> list[Counter]:
    neurons = [int(k) for k in re.findall(r"\((\d+), \d+, [^)]+\)", text.split("neurons ")[1].split("\n")[0])]
    pairs = re.findall(r"\(\d+, [^)]+\)", text.split("connections ")[1])
    out, at = [], 0
    for k in neurons:
        out.append(Counter(pairs[at : at + k]))
        at += k
    return out


def test_sparse_file_keeps_every_line_and_connection_but_orders_sources_canonically(golden_dir: Path) -> None:
    path = golden_dir / "nets" / "sparse0.5_8-16-1.net"
    original = path.read_text()
    net = read_net(path)
    ours = format_net(net)
    assert ours.split("connections ")[0] == original.split("connections ")[0]
    assert _connections_by_neuron(ours) == _connections_by_neuron(original)
    assert net.layout.sparse and net.params.masks is not None
    assert [int(m.sum()) for m in net.params.masks] == [64, 16]  # FANN spec §2.1 counts, biases apart
    assert format_net(parse_net(ours)) == ours


def test_shortcut_file_maps_to_all_earlier_layers(golden_dir: Path) -> None:
    net = read_net(golden_dir / "nets" / "shortcut_2-3-1.net")
    assert net.layout.network_type is NetworkType.SHORTCUT
    assert net.layout.sizes == (2, 3, 1)
    assert net.layout.fann_layer_sizes() == (3, 3, 1)
    assert [tuple(l.w.shape) for l in net.params.layers] == [(3, 2), (1, 5)]


def test_flo_2_0_files_without_scale_line_read_like_2_1(golden_dir: Path) -> None:
    text = (golden_dir / "train" / "building_rprop_init.net").read_text()
    old = text.replace("FANN_FLO_2.1", "FANN_FLO_2.0", 1).replace("scale_included=0\n", "")
    _assert_same_network(parse_net(old), parse_net(text))
    assert format_net(parse_net(old)) == text


def test_fixed_point_files_read_as_float_networks(golden_dir: Path) -> None:
    net = read_net(golden_dir / "nets" / "xor_fixed.net")
    assert net.training.bit_fail_limit == pytest.approx(1434 / 4096)
    assert net.cascade.activation_steepnesses == (0.25, 0.5, 0.75, 1.0)
    np.testing.assert_array_equal(np.asarray(net.params.steepness[0]), [0.5, 0.5, 0.5])
    assert format_net(net).startswith("FANN_FLO_2.1\nnum_layers=3\n")


@pytest.mark.parametrize(
    "factory",
    [
        lambda key: create_standard(
            (3, 5, 2), key=key, activation_hidden="SIGMOID_SYMMETRIC", activation_output="LINEAR"
        ),
        lambda key: create_sparse(0.4, (6, 7, 2), key=key),
        lambda key: create_shortcut((2, 4, 3, 1), key=key, steepness_output=0.75),
    ],
    ids=["standard", "sparse", "shortcut"],
)
def test_written_networks_read_back_identically(factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    net = factory(jax.random.key(3))
    net = net.replace(training=net.training.replace(algorithm=Algorithm.QUICKPROP, learning_rate=0.31))
    write_net(net, tmp_path / "n.net")
    back = read_net(tmp_path / "n.net")
    _assert_same_network(back, net)
    assert (tmp_path / "n.net").read_bytes().endswith(b" \n")


def test_a_bfloat16_network_writes_float32_exact_values(tmp_path: Path) -> None:
    net = create_standard((2, 3, 1), key=jax.random.key(0), storage_dtype="bfloat16")
    write_net(net, tmp_path / "b.net")
    back = read_net(tmp_path / "b.net", storage_dtype="bfloat16")
    _assert_same_network(back, net)


def test_unsupported_versions_are_refused_with_the_readable_ones() -> None:
    with pytest.raises(InvalidArgument, match="FANN_FLO_2.1, FANN_FLO_2.0, FANN_FIX_2.0"):
        parse_net("FANN_FLO_1.1\n3 0.7 1 0 5 5 0.5 0.5\n")


def test_keys_out_of_order_are_refused_with_the_expected_key(golden_dir: Path) -> None:
    text = (golden_dir / "nets" / "xor_float.net").read_text()
    lines = text.split("\n")
    lines[2], lines[3] = lines[3], lines[2]
    with pytest.raises(InvalidArgument, match="expected learning_rate="):
        parse_net("\n".join(lines))


def test_missing_connections_are_refused(golden_dir: Path) -> None:
    text = (golden_dir / "nets" / "xor_float.net").read_text()
    cut = text[: text.rindex("(6, ")] + "\n"
    with pytest.raises(InvalidArgument, match="connections"):
        parse_net(cut)


def test_a_layered_neuron_reading_two_layers_back_is_refused(golden_dir: Path) -> None:
    text = (golden_dir / "nets" / "xor_float.net").read_text()
    bad = text.replace("(3, -5.68059062957763671875e+00)", "(0, -5.68059062957763671875e+00)")
    with pytest.raises(InvalidArgument, match="connects to neuron 0 in layer 0"):
        parse_net(bad)
