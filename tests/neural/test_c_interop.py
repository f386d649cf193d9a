"""Our `.net` files in the real C library: they load, compute our outputs, and C saves them back unchanged.

Runs where C FANN's float library is installed (Debian: `apt-get install libfann-dev`, which
`.ci/run` does). Without it the test is skipped, except under CI, where that is a failure. The
golden-file tests cover the other direction without the library. `SWARM_MCP_TEST_FANN_LIB` names
the library to load instead (`none`: act as if it were missing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from fann_reference import ReferenceNet
from support import requirement_missing

from swarm_mcp.neural import (
    Network,
    TrainData,
    cascade_train_on_data,
    create_shortcut,
    create_sparse,
    create_standard,
    read_data,
    run,
    set_scaling_params,
    train_on_data,
    write_net,
)

_LIB_NAME = os.environ.get("SWARM_MCP_TEST_FANN_LIB") or ctypes.util.find_library("floatfann")


@pytest.fixture(scope="module")
def fann() -> ctypes.CDLL:
    if _LIB_NAME in (None, "none"):
        requirement_missing("C FANN's float library (libfloatfann) is not installed; install it with "
                            "`apt-get install libfann-dev` (.ci/run does, as root)")
    lib = ctypes.CDLL(_LIB_NAME)  # type: ignore[arg-type]
    lib.fann_create_from_file.restype = ctypes.c_void_p
    lib.fann_create_from_file.argtypes = [ctypes.c_char_p]
    lib.fann_run.restype = ctypes.POINTER(ctypes.c_float)
    lib.fann_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)]
    lib.fann_save.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.fann_destroy.argtypes = [ctypes.c_void_p]
    lib.fann_get_num_output.argtypes = [ctypes.c_void_p]
    return lib


def _c_outputs(fann: ctypes.CDLL, path: Path, x: np.ndarray, resave: Path) -> np.ndarray:
    ann = fann.fann_create_from_file(str(path).encode())
    assert ann, f"C FANN could not load {path.name}"
    try:
        n_out = fann.fann_get_num_output(ann)
        rows = []
        for row in np.ascontiguousarray(x, np.float32):
            out = fann.fann_run(ann, row.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
            rows.append([out[j] for j in range(n_out)])
        fann.fann_save(ann, str(resave).encode())
        return np.asarray(rows, np.float32)
    finally:
        fann.fann_destroy(ann)


def _networks(data_dir: Path) -> dict[str, tuple[Network, np.ndarray]]:
    spiral = read_data(data_dir / "two-spiral.train")
    rng = np.random.default_rng(0)
    k = jax.random.key
    trained = train_on_data(
        create_standard((2, 5, 1), key=k(1), activation_hidden="ELLIOT_SYMMETRIC", activation_output="LINEAR"),
        spiral,
        max_epochs=30,
    ).network
    scaled = set_scaling_params(
        create_standard((3, 4, 2), key=k(2)), TrainData(rng.random((20, 3)) * 50, rng.random((20, 2)))
    )
    grown = cascade_train_on_data(
        create_shortcut((2, 1), key=k(3), activation_output="SIGMOID"), spiral, max_neurons=6, key=k(4)
    ).network
    return {
        "trained": (trained, spiral.inputs),
        "sparse": (create_sparse(0.4, (6, 7, 3), key=k(5), activation_hidden="SIGMOID"), rng.random((16, 6))),
        "shortcut": (create_shortcut((3, 4, 2, 2), key=k(6), activation_hidden="GAUSSIAN"), rng.random((16, 3))),
        "scaled": (scaled, rng.random((16, 3))),
        "bfloat16": (create_standard((4, 3, 2), key=k(7), storage_dtype="bfloat16"), rng.random((16, 4))),
        "cascade": (grown, spiral.inputs),
    }


def test_c_fann_loads_our_files_computes_our_outputs_and_saves_the_same_bytes(
    fann: ctypes.CDLL, data_dir: Path, tmp_path: Path
) -> None:
    for name, (net, x) in _networks(data_dir).items():
        path, resaved = tmp_path / f"{name}.net", tmp_path / f"{name}.c.net"
        write_net(net, path)
        c_out = _c_outputs(fann, path, x, resaved)
        # each of the two float32 runs may stray from the exact outputs by the net's error bound
        reference = ReferenceNet(path)
        bound = np.stack([reference.float32_error_bound(row) for row in np.asarray(x, np.float64)])
        assert (np.abs(run(net, x) - c_out) <= 1e-6 + 2 * bound).all(), name
        assert resaved.read_bytes() == path.read_bytes(), name
