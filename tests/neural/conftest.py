"""JAX settings for the neural tests: silent broadcasting and silent dtype promotion are bugs."""

from __future__ import annotations

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
