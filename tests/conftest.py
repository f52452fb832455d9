"""Test settings: float64 on, strict rank promotion, a `key` fixture, hypothesis profiles.

Hypothesis runs under the ``ci`` profile by default: derandomized (the examples depend only on
the test's source, so a CI failure reproduces on any machine), a handful of examples per test,
no shrinking (each example compiles), the reproduction blob printed on failure.
``JAXRNN_FULL_GRID=1`` selects the ``full`` profile (random seed, many examples, shrinking; the
seed is printed on failure and in the report header) and runs the full-grid tests.
"""
import os
import tempfile

import jax
import pytest
from hypothesis import HealthCheck, Phase, settings

# Tests that call the CLI must not fill the user's XLA cache or share compiled programs.
os.environ["JAXRNN_CACHE_DIR"] = "off"
# Nor read the user's data: a tiny-shakespeare copy cached by an earlier `jaxrnn char` (or named
# by $JAXRNN_TINYSHAKESPEARE) would change what the offline reproduce tests train on; a test
# that wants the copy sets the variable itself.
os.environ["JAXRNN_CACHE"] = tempfile.mkdtemp(prefix="jaxrnn-test-cache-")
os.environ.pop("JAXRNN_TINYSHAKESPEARE", None)

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

FULL_GRID = bool(os.environ.get("JAXRNN_FULL_GRID"))
settings.register_profile(
    "ci", derandomize=True, max_examples=3, deadline=None, print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "full", derandomize=False, max_examples=30, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
PROFILE = "full" if FULL_GRID else "ci"
settings.load_profile(PROFILE)


def pytest_report_header(config):
    current = settings.get_profile(PROFILE)
    how = ("derandomized: examples fixed by each test's source" if current.derandomize
           else "random seed: pytest --hypothesis-seed=N replays a run")
    return (f"hypothesis profile {PROFILE!r}: {current.max_examples} examples per test, {how}; "
            f"JAXRNN_FULL_GRID=1 selects 'full'")


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
