"""An independent float64 reference of FANN's forward pass, written from the spec (FANN spec §2.2, §2.3, §2.9).

Deliberately naive: it parses a `.net` file's neuron and connection lists itself and walks them
the way `fann_run` walks its connection array, one neuron at a time. It shares no code with
`swarm_mcp.neural`, so agreement between the two is evidence, not an echo.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

SYMMETRIC = {2, 5, 6, 8, 11, 13, 14, 15}

_SIG_V = (-2.64665246, -1.47221947, -0.549306154, 0.549306154, 1.47221935, 2.64665294)
_SIG_R = (0.005, 0.05, 0.25, 0.75, 0.95, 0.995)
_SYM_V = (-2.64665294, -1.47221935, -0.549306154, 0.549306154, 1.47221935, 2.64665294)
_SYM_R = (-0.99, -0.9, -0.5, 0.5, 0.9, 0.99)


def _stepwise(v: tuple[float, ...], r: tuple[float, ...], low: float, high: float, z: float) -> float:
    if z < v[0]:
        return low
    if z >= v[5]:
        return high
    for i in range(5):
        if z < v[i + 1]:
            return (r[i + 1] - r[i]) * (z - v[i]) / (v[i + 1] - v[i]) + r[i]
    raise AssertionError("unreachable")


def activation(act: int, z: float) -> float:
    """y = f(z), FANN spec §2.3, in float64."""
    table = {
        0: lambda: z,
        1: lambda: 0.0 if z < 0 else 1.0,
        2: lambda: -1.0 if z < 0 else 1.0,
        3: lambda: 1.0 / (1.0 + math.exp(-2.0 * z)),
        4: lambda: _stepwise(_SIG_V, _SIG_R, 0.0, 1.0, z),
        5: lambda: math.tanh(z),
        6: lambda: _stepwise(_SYM_V, _SYM_R, -1.0, 1.0, z),
        7: lambda: math.exp(-z * z),
        8: lambda: 2.0 * math.exp(-z * z) - 1.0,
        9: lambda: 0.0,
        10: lambda: (z / 2.0) / (1.0 + abs(z)) + 0.5,
        11: lambda: z / (1.0 + abs(z)),
        12: lambda: min(max(z, 0.0), 1.0),
        13: lambda: min(max(z, -1.0), 1.0),
        14: lambda: math.sin(z),
        15: lambda: math.cos(z),
        16: lambda: math.sin(z) / 2.0 + 0.5,
        17: lambda: math.cos(z) / 2.0 + 0.5,
        18: lambda: max(z, 0.0),
        19: lambda: 0.01 * z if z < 0 else z,
    }
    return table[act]()


def neuron_output(act: int, steepness: float, total: float) -> float:
    """fann_run for one neuron: scale by steepness, clip to ±150/steepness, activate."""
    z = steepness * total
    limit = 150.0 / steepness
    z = limit if z > limit else (max(z, -limit))
    return activation(act, z)


class ReferenceNet:
    """A `.net` file as FANN holds it: neurons with (k, act, steepness) and a connection array."""

    def __init__(self, path: Path) -> None:
        text = path.read_text()
        lines = text.splitlines()
        self.fixed = lines[0].startswith("FANN_FIX")
        divisor = 1.0
        if self.fixed:
            divisor = float(2 ** int(re.search(r"^decimal_point=(\d+)$", text, re.MULTILINE).group(1)))  # type: ignore[union-attr]
        self.network_type = int(re.search(r"^network_type=(\d+)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
        self.layer_sizes = [int(v) for v in re.search(r"^layer_sizes=(.*)$", text, re.MULTILINE).group(1).split()]  # type: ignore[union-attr]
        neuron_line = next(l for l in lines if l.startswith("neurons "))
        conn_line = next(l for l in lines if l.startswith("connections "))
        self.neurons = [
            (int(k), int(a), float(s) / divisor)
            for k, a, s in re.findall(r"\((\d+), (\d+), ([^)]+)\)", neuron_line.split("=", 1)[1])
        ]
        self.connections = [
            (int(src), float(w) / divisor) for src, w in re.findall(r"\((\d+), ([^)]+)\)", conn_line.split("=", 1)[1])
        ]
        self.num_input = self.layer_sizes[0] - 1
        last = self.layer_sizes[-1]
        self.num_output = last - 1 if self.network_type == 0 else last
        self.output_start = sum(self.layer_sizes[:-1])

    def run(self, x: np.ndarray) -> np.ndarray:
        """One input vector -> outputs, float64."""
        value = np.zeros(len(self.neurons))
        first_con = 0
        for index, (k, act, steep) in enumerate(self.neurons):
            if index < self.num_input:
                value[index] = x[index]
            elif k == 0:
                value[index] = 1.0  # bias neuron
            else:
                total = sum(w * value[src] for src, w in self.connections[first_con : first_con + k])
                value[index] = neuron_output(act, steep, total)
            first_con += k
        return value[self.output_start : self.output_start + self.num_output]

    def run_batch(self, xs: np.ndarray) -> np.ndarray:
        return np.stack([self.run(x) for x in np.asarray(xs, np.float64)])

    def float32_error_bound(self, x: np.ndarray) -> np.ndarray:
        """How far any float32 `fann_run` of this net may stray from the exact outputs, first order.

        A running error analysis: a sum of k products carries at most (k+1)·u·Σ|w·v| of its own
        rounding (u = 2^-24, any summation order) plus Σ|w|·(its inputs' errors); the activation
        maps an error in z through its local slope and adds a few ulps of its own (libm exp and
        sin differ by an ulp or two). Networks with huge weights (cascades reach ±1500) are
        ill-conditioned, and this says by how much.
        """
        u = 2.0**-24
        value = np.zeros(len(self.neurons))
        error = np.zeros(len(self.neurons))
        first_con = 0
        for index, (k, act, steep) in enumerate(self.neurons):
            if index < self.num_input:
                value[index] = x[index]
            elif k == 0:
                value[index] = 1.0
            else:
                conns = self.connections[first_con : first_con + k]
                total = sum(w * value[src] for src, w in conns)
                magnitude = sum(abs(w * value[src]) for src, w in conns)
                e_sum = (k + 1) * u * magnitude + sum(abs(w) * error[src] for src, w in conns)
                z = steep * total
                e_z = steep * e_sum + u * abs(z)
                value[index] = neuron_output(act, steep, total)
                moved = max(abs(neuron_output(act, steep, total + d / steep) - value[index]) for d in (e_z, -e_z))
                error[index] = moved + 4 * u * max(abs(value[index]), 1.0)
            first_con += k
        return error[self.output_start : self.output_start + self.num_output]
