"""Test settings: float64 on, strict rank promotion, a `key` fixture."""
import os

import jax
import pytest

# Tests that call the CLI must not fill the user's XLA cache or share compiled programs.
os.environ["JAXRNN_CACHE_DIR"] = "off"

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
