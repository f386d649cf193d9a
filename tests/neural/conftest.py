"""JAX settings for the neural tests: silent broadcasting and silent dtype promotion are bugs."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture(scope="session")
def golden_dir(shared_dir: Path) -> Path:
    """C FANN 2.2.0 reference outputs (see its README)."""
    return shared_dir / "datasets" / "fann-golden"


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    """FANN's benchmark data sets."""
    return shared_dir / "datasets" / "fann"
