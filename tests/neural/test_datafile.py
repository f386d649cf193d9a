"""FANN's training-data format: reading, `fann_save_train`'s exact output, padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swarm_mcp.errors import InvalidArgument
from swarm_mcp.neural import TrainData, format_data, pad_data, parse_data, read_data, write_data


def test_every_benchmark_data_file_written_by_fann_is_reproduced_byte_for_byte(data_dir: Path) -> None:
    files = sorted(p for p in data_dir.iterdir() if p.suffix in (".train", ".test"))
    assert len(files) == 12  # the six data sets tests/data/fann/README.md lists, train and test
    for path in files:
        assert format_data(read_data(path)) == path.read_text(), path.name


def test_inventory_sizes_match_the_readme(data_dir: Path) -> None:
    for name, shape in {
        "building.train": (2104, 14, 3),
        "mushroom.train": (4062, 125, 2),
        "two-spiral.test": (193, 2, 1),
        "scaling.data": (1000, 3, 1),
        "xor.data": (4, 2, 1),
    }.items():
        d = read_data(data_dir / name)
        assert (d.num_data, d.num_input, d.num_output) == shape


def test_line_breaks_do_not_matter_only_whitespace() -> None:
    a = parse_data("2 2 1\n1 0\n1\n0 1\n1\n")
    b = parse_data("2 2 1 1 0 1\t0\n1 1")
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.outputs, b.outputs)


def test_writer_prints_values_exactly_as_c_fann_does() -> None:
    # Expected strings from C FANN 2.2.0's fann_save_train on the same float32 values: integral to
    # 1e-6 -> "%d" of the truncated value (so 0.9999999 prints 0), otherwise "%f"; |v| >= 2148
    # overflows C's int test and falls back to "%f".
    values = [0.9999999, 1e-7, -0.5, 3000.0, 2147.0, 2148.5, 1e10, -0.0, 4e-7, 12345.678, -1.9999999, 0.4999999]
    expected = [
        "0",
        "0",
        "-0.500000",
        "3000.000000",
        "2147",
        "2148.500000",
        "10000000000.000000",
        "0",
        "0",
        "12345.677734",
        "-1",
        "0.500000",
    ]
    data = TrainData(np.asarray(values, np.float32)[:, None], np.zeros((len(values), 1), np.float32))
    lines = format_data(data).split("\n")[1::2]
    assert [line.strip() for line in lines[: len(values)]] == expected


def test_written_files_read_back(tmp_path: Path) -> None:
    data = TrainData(np.arange(12, dtype=np.float32).reshape(3, 4) / 8, np.ones((3, 2), np.float32))
    write_data(data, tmp_path / "d.data")
    back = read_data(tmp_path / "d.data")
    np.testing.assert_array_equal(back.inputs, data.inputs)
    np.testing.assert_array_equal(back.outputs, data.outputs)


def test_fixed_point_data_is_divided_by_two_to_the_decimal_point(golden_dir: Path) -> None:
    data = read_data(golden_dir / "nets" / "xor_fixed.data", decimal_point=12)
    np.testing.assert_array_equal(data.outputs[:, 0], [-1, 1, 1, -1])


@pytest.mark.parametrize(
    ("text", "message"),
    [("2 2\n", "header"), ("2 2 1\n1 0 1\n", "found 3"), ("1 1 1\n0.5 x\n", "not a number")],
)
def test_malformed_data_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_data(text)


def test_padding_adds_masked_zero_rows() -> None:
    data = TrainData(np.ones((3, 2), np.float32), np.ones((3, 1), np.float32))
    batch = pad_data(data, 5)
    assert batch.x.shape == (5, 2) and batch.y.shape == (5, 1)
    np.testing.assert_array_equal(np.asarray(batch.mask), [True, True, True, False, False])
    with pytest.raises(InvalidArgument, match="size must be >= 3"):
        pad_data(data, 2)
