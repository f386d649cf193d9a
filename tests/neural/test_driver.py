"""Host-side drivers: `train_on_data` reports, cancellation, chunking; `run`; `evaluate_data`."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import (
    Algorithm,
    Layout,
    Network,
    Report,
    create_standard,
    evaluate_data,
    init_params,
    read_data,
    read_net,
    run,
    train_on_data,
)


@pytest.fixture(scope="module")
def xor_batch(golden_dir: Path) -> Network:
    net = read_net(golden_dir / "train" / "xor_batch_init.net")
    return net.replace(training=net.training.replace(algorithm=Algorithm.BATCH))


@pytest.fixture(scope="module")
def xor(data_dir: Path):  # type: ignore[no-untyped-def]
    return read_data(data_dir / "xor.data")


def _trace(golden_dir: Path, name: str) -> np.ndarray:
    return np.loadtxt(golden_dir / "train" / f"{name}_trace.tsv", skiprows=1, max_rows=50)[:, 1]


def test_reports_come_on_epoch_1_every_n_epochs_and_the_last(xor_batch: Network, xor, golden_dir: Path) -> None:  # type: ignore[no-untyped-def]
    reports: list[Report] = []
    result = train_on_data(xor_batch, xor, max_epochs=45, epochs_between_reports=10, callback=reports.append)
    assert [r.epoch for r in reports] == [1, 10, 20, 30, 40, 45]
    trace = _trace(golden_dir, "xor_batch")
    for r in reports:
        assert r.mse == pytest.approx(trace[r.epoch - 1], rel=1e-6)
    assert len(result.mse) == 45 and not result.reached and not result.cancelled
    np.testing.assert_allclose(result.mse, trace[:45], rtol=1e-6)


def test_a_callback_returning_false_stops_training_at_that_report(xor_batch: Network, xor) -> None:  # type: ignore[no-untyped-def]
    stopped = train_on_data(xor_batch, xor, max_epochs=50, epochs_between_reports=5, callback=lambda r: r.epoch < 15)
    assert stopped.cancelled and len(stopped.mse) == 15
    plain = train_on_data(xor_batch, xor, max_epochs=15)
    for a, b in zip(jax.tree.leaves(stopped.network.params), jax.tree.leaves(plain.network.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_reaching_the_desired_error_reports_and_stops(golden_dir: Path, xor) -> None:  # type: ignore[no-untyped-def]
    net = read_net(golden_dir / "train" / "xor_rprop_init.net")
    trace = _trace(golden_dir, "xor_rprop")
    reports: list[Report] = []
    result = train_on_data(
        net,
        xor,
        max_epochs=1000,
        desired_error=float(trace[39]) * 1.0001,
        epochs_between_reports=100,
        callback=reports.append,
    )
    assert result.reached and len(result.mse) == 40
    assert [r.epoch for r in reports] == [1, 40]


def test_small_windows_and_resumed_state_give_the_same_training(xor_batch: Network, xor) -> None:  # type: ignore[no-untyped-def]
    whole = train_on_data(xor_batch, xor, max_epochs=30)
    chunked = train_on_data(xor_batch, xor, max_epochs=30, window=7)
    first = train_on_data(xor_batch, xor, max_epochs=12)
    second = train_on_data(first.network, xor, max_epochs=18, state=first.state)
    np.testing.assert_array_equal(whole.mse, chunked.mse)
    np.testing.assert_array_equal(whole.mse, np.concatenate([first.mse, second.mse]))
    for a, b in zip(jax.tree.leaves(whole.network.params), jax.tree.leaves(second.network.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_training_leaves_the_callers_network_usable(xor_batch: Network, xor) -> None:  # type: ignore[no-untyped-def]
    before = run(xor_batch, xor.inputs)
    train_on_data(xor_batch, xor, max_epochs=3)
    np.testing.assert_array_equal(run(xor_batch, xor.inputs), before)


def test_evaluate_data_reproduces_fann_test_data_on_cs_final_net(golden_dir: Path, data_dir: Path) -> None:
    final = read_net(golden_dir / "train" / "building_rprop_final.net")
    mse, bit_fail = evaluate_data(final, read_data(data_dir / "building.test"))
    last = (golden_dir / "train" / "building_rprop_trace.tsv").read_text().split("\n")[51].split()
    assert mse == pytest.approx(float(last[1]), rel=1e-5)
    assert bit_fail == int(last[2])


def test_run_takes_one_input_or_a_batch(xor_batch: Network, xor) -> None:  # type: ignore[no-untyped-def]
    batch = run(xor_batch, xor.inputs)
    assert batch.shape == (4, 1) and batch.dtype == np.float32
    np.testing.assert_array_equal(run(xor_batch, xor.inputs[2]), batch[2])
    with pytest.raises(InvalidArgument, match="n_in=2"):
        run(xor_batch, np.zeros(3))


def test_threshold_networks_cannot_be_trained(xor) -> None:  # type: ignore[no-untyped-def]
    layout = Layout((2, 2, 1), ("THRESHOLD", "SIGMOID"))
    net = Network(layout, init_params(layout, jax.random.key(0)))
    with pytest.raises(InvalidArgument, match="FANN_THRESHOLD|THRESHOLD"):
        train_on_data(net, xor, max_epochs=1)


def test_mismatched_data_is_refused(xor) -> None:  # type: ignore[no-untyped-def]
    net = create_standard((3, 2, 1), key=jax.random.key(0))
    with pytest.raises(InvalidArgument, match="2 inputs / 1 outputs, the network 3 / 1"):
        train_on_data(net, xor, max_epochs=1)
