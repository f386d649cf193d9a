"""FANN training data: the `.data` format (FANN spec §2.10) and padding for populations.

A header `num_data num_input num_output`, then per record the inputs and the outputs, all
whitespace-separated (line breaks carry no meaning). The writer follows `fann_save_train`:
values integral to 1e-6 as `%d`, others as `%f` (so saving rounds to 6 decimals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument

__all__ = ("Batch", "TrainData", "format_data", "pad_data", "parse_data", "read_data", "write_data")


@dataclass(frozen=True, slots=True)
class TrainData:
    """A data set on the host: float32 `inputs (N, n_in)` and `outputs (N, n_out)`.

    Raises:
        InvalidArgument: the arrays are not 2-D with the same number of rows.
    """

    inputs: np.ndarray
    outputs: np.ndarray

    def __post_init__(self) -> None:
        inputs = np.asarray(self.inputs, np.float32)
        outputs = np.asarray(self.outputs, np.float32)
        if inputs.ndim != 2 or outputs.ndim != 2 or len(inputs) != len(outputs):
            raise InvalidArgument(
                f"inputs and outputs must be 2-D with equal rows, got {inputs.shape} and {outputs.shape}"
            )
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)

    @property
    def num_data(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def num_input(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def num_output(self) -> int:
        return int(self.outputs.shape[1])


class Batch(NamedTuple):
    """A data set on the device, padded to a fixed size; a pytree that vmaps with the params."""

    x: jax.Array  # (B, n_in) f32
    y: jax.Array  # (B, n_out) f32
    mask: jax.Array  # (B,) bool: False rows are padding and change nothing


def pad_data(data: TrainData, size: int | None = None) -> Batch:
    """`data` as a device `Batch`, zero-padded to `size` rows (default: no padding).

    Padded rows are masked out: training and testing give the same result as without them.

    Raises:
        InvalidArgument: `size` is smaller than the data set.
    """
    n = data.num_data
    size = n if size is None else int(size)
    if size < n:
        raise InvalidArgument(f"cannot pad {n} records into {size} rows; size must be >= {n}")
    x = np.zeros((size, data.num_input), np.float32)
    y = np.zeros((size, data.num_output), np.float32)
    x[:n], y[:n] = data.inputs, data.outputs
    mask = np.arange(size) < n
    return Batch(jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask))


def parse_data(text: str, *, source: str = "<data>", decimal_point: int | None = None) -> TrainData:
    """Parse FANN training-data text. `decimal_point` reads a fixed-point file (values / 2^dp).

    Raises:
        InvalidArgument: a malformed header, a non-number, or too few / too many values.
    """
    tokens = text.split()
    try:
        n, n_in, n_out = (int(t) for t in tokens[:3])
    except ValueError:
        raise InvalidArgument(f"{source}: the header must be 'num_data num_input num_output'") from None
    if len(tokens) < 3 or min(n, n_in, n_out) < 0:
        raise InvalidArgument(f"{source}: the header must be three non-negative integers")
    want = n * (n_in + n_out)
    if len(tokens) - 3 != want:
        raise InvalidArgument(
            f"{source}: header promises {n} records of {n_in}+{n_out} values ({want}), found {len(tokens) - 3}"
        )
    try:
        values = np.array(tokens[3:], dtype=np.float64).reshape(n, n_in + n_out)
    except ValueError:
        raise InvalidArgument(f"{source}: a value is not a number") from None
    if decimal_point is not None:
        values = values / float(2**decimal_point)
    return TrainData(values[:, :n_in].astype(np.float32), values[:, n_in:].astype(np.float32))


def read_data(path: str | PathLike[str], *, decimal_point: int | None = None) -> TrainData:
    """Load a FANN `.data`/`.train`/`.test` file (FANN spec §2.10).

    Raises:
        InvalidArgument: the file is malformed (the message says how).
        OSError: the file cannot be read.
    """
    return parse_data(Path(path).read_text("ascii"), source=str(path), decimal_point=decimal_point)


def _wrap_int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def _cvt_int32(value: float) -> int:
    # x86 cvttsd2si: out-of-range and NaN give INT_MIN
    if math.isnan(value) or not -(2**31) <= value < 2**31:
        return -(2**31)
    return int(value)


def _format_value(v: np.float32) -> str:
    d = float(v)
    if math.isfinite(d):
        # fann_save_train's test, including C int arithmetic on x86-64 for large values
        left = _wrap_int32(_cvt_int32(math.floor(d + 0.5)) * 1000000)
        right = _cvt_int32(math.floor(d * 1000000.0 + 0.5))
        if left == right:
            return f"{_cvt_int32(d)} "  # C's (int) cast truncates toward zero
    return f"{d:f} "


def format_data(data: TrainData) -> str:
    """The text `fann_save_train` writes for `data` (FANN spec §2.10)."""
    out = [f"{data.num_data} {data.num_input} {data.num_output}\n"]
    for row_in, row_out in zip(data.inputs, data.outputs, strict=True):
        out.append("".join(_format_value(v) for v in row_in) + "\n")
        out.append("".join(_format_value(v) for v in row_out) + "\n")
    return "".join(out)


def write_data(data: TrainData, path: str | PathLike[str]) -> None:
    """Save `data` in FANN's training-data format."""
    Path(path).write_text(format_data(data), "ascii")
