"""Process-wide JAX settings, switched once at a command's entry and never inside a library call.

- ``enable_compilation_cache()``: XLA's persistent compilation cache in ``$JAXRNN_CACHE_DIR``
  (default ``~/.cache/jaxrnn/xla``; ``off`` disables it), so a second run of the same program
  skips most of its compile time.
- ``enable_dtype(dtype)``: turns on ``jax_enable_x64`` when a run asks for float64.
- ``require_dtype(dtype)``: what library code calls instead: a clear error when float64 is asked
  for but x64 is off (a library function must not flip a process-wide flag under its caller).
"""
from __future__ import annotations

import os

import jax


def enable_compilation_cache() -> None:
    """Turns on XLA's persistent compilation cache (module docstring)."""
    path = os.environ.get("JAXRNN_CACHE_DIR", os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "jaxrnn", "xla"))
    if path.lower() == "off":
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def enable_dtype(dtype: str) -> None:
    """Switches ``jax_enable_x64`` on for ``dtype == "float64"`` (the command's entry calls it)."""
    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)


def require_dtype(dtype: str) -> None:
    """Raises ValueError when ``dtype`` is float64 and ``jax_enable_x64`` is off."""
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("dtype float64 needs jax_enable_x64: run it through the jaxrnn command, "
                         "set JAX_ENABLE_X64=1, or call jax.config.update('jax_enable_x64', "
                         "True) first; or use --dtype=float32")
