"""The neural_* tools through MCP (the SDK's in-memory client) on a real daemon App."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import anyio
import pytest
from support import call, error_text, mcp_client

from swarm_mcp.tools import neural as neural_tools

XOR_IN = [[-1, -1], [-1, 1], [1, -1], [1, 1]]
XOR_OUT = [[-1], [1], [1], [-1]]


async def xor_network(client: Any, **extra: Any) -> str:
    created = await call(client, "neural_create", layers=[2, 3, 1], hidden_activation="tanh", output_activation="tanh", seed=7, **extra)
    return created["network_id"]


def test_tool_names_for_activations_algorithms_and_parameters_match_the_neural_package() -> None:
    from swarm_mcp.neural import Activation, Algorithm, TrainParams

    assert neural_tools.ACTIVATIONS == tuple(a.name.lower() for a in sorted(Activation))
    assert set(neural_tools.ALGORITHMS) == {a.name.lower() for a in Algorithm}
    floats = {name for name, value in TrainParams.__dataclass_fields__.items() if value.type == "float"}
    assert set(neural_tools.TRAIN_PARAMETERS) == floats


async def test_create_train_run_learns_xor(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        before = await call(client, "neural_test", network_id=net, inputs=XOR_IN, outputs=XOR_OUT)
        trained = await call(client, "neural_train", network_id=net, inputs=XOR_IN, outputs=XOR_OUT,
                             max_epochs=2000, desired_error=0.0001, epochs_between_reports=10)
        after = await call(client, "neural_test", network_id=net, inputs=XOR_IN, outputs=XOR_OUT)
        outputs = (await call(client, "neural_run", network_id=net, inputs=XOR_IN))["outputs"]
    assert trained["reached_desired_error"] is True and trained["stopped_by"] == "desired_error"
    assert trained["final_mse"] <= 0.0001 and trained["algorithm"] == "rprop" and trained["samples"] == 4
    epochs = [h["epoch"] for h in trained["history"]]
    assert epochs[0] == 1 and epochs[-1] == trained["epochs_run"] and epochs == sorted(epochs)
    assert after["mse"] < before["mse"] and after["classification_error"] == 0.0
    assert [math.copysign(1, o[0]) for o in outputs] == [-1, 1, 1, -1]


async def test_training_reads_a_fann_data_file_in_the_data_folder(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "xor.data").write_bytes((data_dir / "xor.data").read_bytes())
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        trained = await call(client, "neural_train", network_id=net, data_path="xor.data", max_epochs=500, desired_error=0.001)
    assert trained["samples"] == 4 and trained["reached_desired_error"]


async def test_every_algorithm_trains_and_reports_its_name(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        for algorithm in neural_tools.ALGORITHMS:
            report = await call(client, "neural_train", network_id=net, inputs=XOR_IN, outputs=XOR_OUT,
                                 algorithm=algorithm, max_epochs=5, desired_error=0.0)
            assert report["algorithm"] == algorithm and report["epochs_run"] == 5 and math.isfinite(report["final_mse"])
        listed = {n["network_id"]: n for n in (await call(client, "neural_list"))["networks"]}
    assert listed[net]["epochs_trained"] == 5 * len(neural_tools.ALGORITHMS)


async def test_cascade2_grows_a_shortcut_network(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = (await call(client, "neural_create", layers=[2, 1], network_type="shortcut",
                          hidden_activation="tanh", output_activation="tanh", seed=3))["network_id"]
        report = await call(client, "neural_train", network_id=net, inputs=XOR_IN, outputs=XOR_OUT,
                            algorithm="cascade2", max_neurons=4, desired_error=0.001)
        info = {n["network_id"]: n for n in (await call(client, "neural_list"))["networks"]}[net]
    assert report["algorithm"] == "cascade2" and report["neurons_added"] >= 1
    assert len(info["layers"]) == 2 + report["neurons_added"]


async def test_save_as_net_then_load_gives_identical_outputs(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        await call(client, "neural_train", network_id=net, inputs=XOR_IN, outputs=XOR_OUT, max_epochs=50)
        saved = await call(client, "neural_save", network_id=net, path="xor.net")
        loaded = await call(client, "neural_load", path="xor.net")
        json_saved = await call(client, "neural_save", network_id=net, path="xor.json")
        from_json = await call(client, "neural_load", path="xor.json")
        original = (await call(client, "neural_run", network_id=net, inputs=XOR_IN))["outputs"]
        via_net = (await call(client, "neural_run", network_id=loaded["network_id"], inputs=XOR_IN))["outputs"]
        via_json = (await call(client, "neural_run", network_id=from_json["network_id"], inputs=XOR_IN))["outputs"]
    assert Path(saved["path"]) == tmp_path / "networks" / "xor.net"
    assert (tmp_path / "networks" / "xor.net").read_text().startswith("FANN_FLO_2.1\n")
    assert json_saved["format"] == "json"
    assert via_net == original and via_json == original


async def test_networks_survive_a_restart(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        await call(client, "neural_train", network_id=net, inputs=XOR_IN, outputs=XOR_OUT, max_epochs=40, desired_error=0.0)
        before = (await call(client, "neural_run", network_id=net, inputs=XOR_IN))["outputs"]
    async with mcp_client(tmp_path) as (client, _):
        listed = (await call(client, "neural_list"))["networks"]
        after = (await call(client, "neural_run", network_id=net, inputs=XOR_IN))["outputs"]
    assert [n["network_id"] for n in listed] == [net] and listed[0]["epochs_trained"] == 40
    assert after == before


async def test_progress_is_reported_and_cancelling_stops_training_but_keeps_its_epochs(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        progress: list[tuple[float, float | None, str | None]] = []
        reported = anyio.Event()

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append((value, total, message))
            if len(progress) >= 3:
                reported.set()

        async with anyio.create_task_group() as tg:

            async def train_forever() -> None:
                await client.call_tool(
                    "neural_train",
                    # a contradictory sample makes the error irreducible, so training never ends by itself
                    {"network_id": net, "inputs": [*XOR_IN, [-1, -1]], "outputs": [*XOR_OUT, [1]], "max_epochs": 5_000_000,
                     "desired_error": 0.0, "epochs_between_reports": 200},
                    progress_callback=on_progress,
                )

            tg.start_soon(train_forever)
            with anyio.fail_after(60):
                await reported.wait()
                stats = await call(client, "memory_usage", action="stats")  # the server still answers
            tg.cancel_scope.cancel()
        assert stats["action"] == "stats"
        with anyio.fail_after(60):
            while True:  # the cancelled call saves its weights once the worker stops
                info = {n["network_id"]: n for n in (await call(client, "neural_list"))["networks"]}[net]
                if info["epochs_trained"] > 0:
                    break
                await anyio.sleep(0.05)
    assert progress[0][1] == 5_000_000 and "MSE" in (progress[0][2] or "")
    assert 200 <= info["epochs_trained"] < 5_000_000


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("neural_train", {"network_id": "missing", "inputs": XOR_IN, "outputs": XOR_OUT}, "call neural_list"),
        ("neural_create", {"layers": [2, 100000, 1]}, "neural_max_layer_size"),
        ("neural_create", {"layers": [2]}, "at least 2 items"),
        ("neural_create", {"layers": [2, 1], "hidden_activation": "swish"}, "'sigmoid_stepwise'"),
        ("neural_create", {"layers": [2, 3, 1], "network_type": "sparse"}, "connectionRate below 1"),
        ("neural_run", {"network_id": "@net", "inputs": [[1, 2, 3]]}, "needs 2 per row"),
        ("neural_train", {"network_id": "@net", "inputs": XOR_IN, "outputs": XOR_OUT, "max_epochs": 0}, "greater than 0"),
        ("neural_train", {"network_id": "@net", "inputs": XOR_IN, "outputs": XOR_OUT, "algorithm": "sgd"}, "'rprop'"),
        ("neural_train", {"network_id": "@net", "inputs": XOR_IN, "outputs": XOR_OUT, "params": {"speed": 1}}, "rprop_delta_max"),
        ("neural_train", {"network_id": "@net", "inputs": XOR_IN, "outputs": [[1, 2]] * 4}, "needs 2 inputs and 1 outputs per sample"),
        ("neural_train", {"network_id": "@net", "inputs": [[1, 2], [3]], "outputs": XOR_OUT}, "same length"),
        ("neural_train", {"network_id": "@net", "inputs": [[1e39, 0]] * 4, "outputs": XOR_OUT}, "infinite"),
        ("neural_train", {"network_id": "@net", "data_path": "none.data"}, "no data file"),
        ("neural_train", {"network_id": "@net", "algorithm": "cascade2", "inputs": XOR_IN, "outputs": XOR_OUT}, "shortcut"),
        ("neural_save", {"network_id": "@net", "path": "../../x.net"}, "outside"),
        ("neural_save", {"network_id": "@net", "path": "x.bin"}, ".net or .json"),
        ("neural_load", {"path": "absent.net"}, "no file at"),
    ],
)
async def test_bad_input_gets_an_error_that_lists_what_is_valid(tmp_path: Path, tool: str, arguments: dict[str, Any], expected: str) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        arguments = {k: (net if v == "@net" else v) for k, v in arguments.items()}
        assert expected in await error_text(client, tool, **arguments)
        assert (await call(client, "neural_list"))["count"] == 1  # still serving, nothing created


async def test_a_nan_in_a_data_file_is_refused_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bad.data").write_text("2 2 1\n0 0\n0\n0 nan\n1\n")
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        text = await error_text(client, "neural_train", network_id=net, data_path="bad.data")
    assert "inputs[1][1]" in text and "NaN" in text


async def test_status_reports_the_runtime_and_does_not_load_jax_before_it_is_needed(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, app):
        idle = (await call(client, "neural_status"))["runtime"]
        await xor_network(client)
        busy = (await call(client, "neural_status"))["runtime"]
    assert idle["jax_loaded"] is False and idle["networks_known"] == 0
    assert busy["jax_loaded"] is True and busy["networks_loaded"] == 1 and busy["backend"] == "cpu"
    assert busy["parameter_bytes_loaded"] == 13 * 4 and busy["compute_seconds"] > 0


async def test_save_and_training_data_paths_stay_in_their_folders_and_saved_files_are_private(tmp_path: Path) -> None:
    async with mcp_client(tmp_path) as (client, _):
        net = await xor_network(client)
        for path in (str(tmp_path / "swarm.db"), str(tmp_path / "swarm-mcp.lock"), "../swarm.db"):
            assert "outside" in await error_text(client, "neural_save", network_id=net, path=path, format="json")
        assert "outside" in await error_text(client, "neural_train", network_id=net, data_path="../swarm.db")
        saved = await call(client, "neural_save", network_id=net, path="xor.net")
        await call(client, "neural_list")  # the database was not replaced: still serving from it
    assert saved["path"] == str(tmp_path / "networks" / "xor.net")
    assert (tmp_path / "networks").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "networks" / "xor.net").stat().st_mode & 0o777 == 0o600
    async with mcp_client(tmp_path) as (client, _):
        assert (await call(client, "neural_list"))["count"] == 1


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([1] + [4096] * 200 + [1], "3,339,493,377 weights and biases; the limit is 16,777,216 (setting neural_max_parameters)"),
        ([2] * 1025, "1025 layers exceeds the limit of 1024 layers (setting neural_max_layers)"),
    ],
)
async def test_a_network_over_the_parameter_or_layer_limit_is_refused_before_anything_is_allocated(
    tmp_path: Path, layers: list[int], expected: str
) -> None:
    async with mcp_client(tmp_path) as (client, _):
        with anyio.fail_after(5):
            assert expected in await error_text(client, "neural_create", layers=layers)
        status = await call(client, "neural_status")
    assert status["runtime"]["jax_loaded"] is False  # refused before JAX was even needed


async def test_a_cascade_that_could_grow_past_the_limits_is_refused_before_training(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, neural_max_layers=20) as (client, _):
        net = (await call(client, "neural_create", layers=[2, 1], network_type="shortcut"))["network_id"]
        text = await error_text(client, "neural_train", network_id=net, algorithm="cascade2", max_neurons=30,
                                inputs=XOR_IN, outputs=XOR_OUT)
        assert "maxNeurons 30" in text and "neural_max_layers" in text
        info = (await call(client, "neural_list"))["networks"][0]
    assert info["epochs_trained"] == 0


async def test_neural_run_refuses_a_result_over_max_response_bytes_before_computing_it_and_says_how_to_page(tmp_path: Path) -> None:
    async with mcp_client(tmp_path, max_response_bytes=2**20) as (client, app):
        net = (await call(client, "neural_create", layers=[1, 4096]))["network_id"]
        compute_before = app.neural.runtime.compute_s
        text = await error_text(client, "neural_run", network_id=net, inputs=[[0]] * 100_000)
        assert "100,000 rows of 4,096 outputs" in text and "max_response_bytes" in text
        assert "Send at most 7 rows per neural_run call" in text
        assert app.neural.runtime.compute_s == compute_before  # refused before any compute
        page = await call(client, "neural_run", network_id=net, inputs=[[0]] * 7)
    assert len(page["outputs"]) == 7 and len(page["outputs"][0]) == 4096
