"""Shared test configuration. JAX settings live in tests/neural/conftest.py: the daemon must start without JAX."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import FANN_DATA, FANN_GOLDEN


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """FANN's benchmark data sets, carried in tests/data/fann."""
    return FANN_DATA


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """C FANN 2.2.0 reference outputs (see tests/data/fann-golden/README.md)."""
    return FANN_GOLDEN
