"""Training and cascade settings: FANN's parameter block (FANN spec §2.1 defaults, §2.4, §2.6, §2.9).

Settings are plain frozen values on the host. `TrainParams.spec()` gives the static part that
selects code (algorithm, error and stop function); `TrainParams.hyper()` gives the numeric part as a
pytree of f32 scalars, so a new learning rate reuses the compiled training loop.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from swarm_mcp.errors import InvalidArgument, format_choices

from ._activations import parse_activation

__all__ = (
    "Algorithm",
    "CascadeParams",
    "ErrorFunction",
    "Hyper",
    "StopFunction",
    "TrainParams",
    "TrainSpec",
    "f32",
)

RpropVariant = Literal["fann", "textbook"]


class Algorithm(IntEnum):
    """FANN's `fann_train_enum` (0-4), plus Adam and AdamW, which FANN lacks."""

    INCREMENTAL = 0
    BATCH = 1
    RPROP = 2
    QUICKPROP = 3
    SARPROP = 4
    ADAM = 5
    ADAMW = 6


class ErrorFunction(IntEnum):
    """FANN's `fann_errorfunc_enum` (FANN spec §2.5)."""

    LINEAR = 0
    TANH = 1


class StopFunction(IntEnum):
    """FANN's `fann_stopfunc_enum` (FANN spec §2.5)."""

    MSE = 0
    BIT = 1


def f32(value: float) -> float:
    """`value` rounded to the nearest float32, as C FANN stores every `float` parameter."""
    return float(np.float32(value))


def _enum(kind: type[IntEnum], value: int | str | IntEnum, what: str) -> IntEnum:
    if isinstance(value, str):
        name = value.upper().removeprefix("FANN_TRAIN_").removeprefix("FANN_ERRORFUNC_").removeprefix("FANN_STOPFUNC_")
        if name in kind.__members__:
            return kind[name]
    else:
        try:
            return kind(int(value))
        except ValueError:
            pass
    raise InvalidArgument(f"unknown {what} {value!r}; valid: {format_choices(f'{m.value} ({m.name})' for m in kind)}")


class Hyper(NamedTuple):
    """Numeric training hyper-parameters as traced f32 scalars (vmappable: give each a leading axis)."""

    learning_rate: jax.Array
    learning_momentum: jax.Array
    bit_fail_limit: jax.Array
    desired_error: jax.Array
    rprop_increase_factor: jax.Array
    rprop_decrease_factor: jax.Array
    rprop_delta_min: jax.Array
    rprop_delta_max: jax.Array
    rprop_delta_zero: jax.Array
    quickprop_decay: jax.Array
    quickprop_mu: jax.Array
    sarprop_weight_decay_shift: jax.Array
    sarprop_step_error_threshold_factor: jax.Array
    sarprop_step_error_shift: jax.Array
    sarprop_temperature: jax.Array
    adam_learning_rate: jax.Array
    adam_beta1: jax.Array
    adam_beta2: jax.Array
    adam_epsilon: jax.Array
    adamw_weight_decay: jax.Array


@dataclass(frozen=True, slots=True)
class TrainSpec:
    """The static (code-selecting, hashable) part of the training settings."""

    algorithm: Algorithm = Algorithm.RPROP
    error_function: ErrorFunction = ErrorFunction.TANH
    stop_function: StopFunction = StopFunction.MSE
    rprop_variant: RpropVariant = "fann"


@dataclass(frozen=True, slots=True)
class TrainParams:
    """FANN's training parameters with FANN's defaults (FANN spec §2.1), plus Adam/AdamW ones.

    Float fields are rounded to float32 on construction, as C FANN stores them; that is what
    the `.net` writer prints. `adam_learning_rate` is separate from FANN's `learning_rate`
    because FANN's default 0.7 (divided by N in batch mode) is far too large for Adam.

    Raises:
        InvalidArgument: an enum field or `rprop_variant` has no valid value.
    """

    algorithm: Algorithm = Algorithm.RPROP
    error_function: ErrorFunction = ErrorFunction.TANH
    stop_function: StopFunction = StopFunction.MSE
    rprop_variant: RpropVariant = "fann"
    learning_rate: float = 0.7
    learning_momentum: float = 0.0
    bit_fail_limit: float = 0.35
    rprop_increase_factor: float = 1.2
    rprop_decrease_factor: float = 0.5
    rprop_delta_min: float = 0.0
    rprop_delta_max: float = 50.0
    rprop_delta_zero: float = 0.1
    quickprop_decay: float = -0.0001
    quickprop_mu: float = 1.75
    sarprop_weight_decay_shift: float = -6.644
    sarprop_step_error_threshold_factor: float = 0.1
    sarprop_step_error_shift: float = 1.385
    sarprop_temperature: float = 0.015
    adam_learning_rate: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    adamw_weight_decay: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", _enum(Algorithm, self.algorithm, "training algorithm"))
        object.__setattr__(self, "error_function", _enum(ErrorFunction, self.error_function, "error function"))
        object.__setattr__(self, "stop_function", _enum(StopFunction, self.stop_function, "stop function"))
        if self.rprop_variant not in ("fann", "textbook"):
            raise InvalidArgument(f"unknown rprop_variant {self.rprop_variant!r}; valid: 'fann', 'textbook'")
        for field in dataclasses.fields(self):
            if field.type == "float":
                object.__setattr__(self, field.name, f32(getattr(self, field.name)))

    def replace(self, **changes: object) -> TrainParams:
        """A copy with some fields changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def spec(self) -> TrainSpec:
        return TrainSpec(self.algorithm, self.error_function, self.stop_function, self.rprop_variant)

    def hyper(self, desired_error: float = 0.0) -> Hyper:
        """The numeric fields as f32 scalars; `desired_error` feeds the stop test (FANN spec §2.4.6)."""
        values = {name: jnp.float32(getattr(self, name)) for name in Hyper._fields if name != "desired_error"}
        return Hyper(desired_error=jnp.float32(desired_error), **values)


_DEFAULT_CASCADE_ACTIVATIONS = (3, 5, 7, 8, 10, 11, 14, 15, 16, 17)


@dataclass(frozen=True, slots=True)
class CascadeParams:
    """Cascade2 settings with FANN's defaults (FANN spec §2.1, §2.6); saved in every `.net` file."""

    output_change_fraction: float = 0.01
    output_stagnation_epochs: int = 12
    candidate_change_fraction: float = 0.01
    candidate_stagnation_epochs: int = 12
    max_out_epochs: int = 150
    min_out_epochs: int = 50
    max_cand_epochs: int = 150
    min_cand_epochs: int = 50
    num_candidate_groups: int = 2
    candidate_limit: float = 1000.0
    weight_multiplier: float = 0.4
    activation_functions: tuple[int, ...] = _DEFAULT_CASCADE_ACTIVATIONS
    activation_steepnesses: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)

    def __post_init__(self) -> None:
        for name in ("output_change_fraction", "candidate_change_fraction", "candidate_limit", "weight_multiplier"):
            object.__setattr__(self, name, f32(getattr(self, name)))
        for name in (
            "output_stagnation_epochs",
            "candidate_stagnation_epochs",
            "max_out_epochs",
            "min_out_epochs",
            "max_cand_epochs",
            "min_cand_epochs",
            "num_candidate_groups",
        ):
            value = int(getattr(self, name))
            if value < 0:
                raise InvalidArgument(f"cascade {name} must be >= 0, got {value}")
            object.__setattr__(self, name, value)
        acts = tuple(parse_activation(a) for a in self.activation_functions)
        object.__setattr__(self, "activation_functions", acts)
        object.__setattr__(self, "activation_steepnesses", tuple(f32(s) for s in self.activation_steepnesses))

    def replace(self, **changes: object) -> CascadeParams:
        """A copy with some fields changed (validated like the constructor)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
