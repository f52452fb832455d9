"""Process settings for training on the CPU: a malloc that keeps the memory it frees.

XLA on the CPU allocates a training step's large buffers afresh at every step: the (T, B, G)
pre-activations, their gradients, the scatter of the embedding gradient. With glibc's default
settings, blocks above the mmap threshold (128 KiB, rising to at most 32 MiB) are mapped with
``mmap`` and unmapped on ``free``, and free memory at the top of the heap is handed back to the
kernel, so each step page-faults the same megabytes in again. ``keep_freed_memory`` turns both
off (``M_MMAP_MAX = 0``, ``M_TRIM_THRESHOLD`` at its maximum) and the next step reuses the pages.

Measured by ``scripts/bench_malloc.py`` on the 2-core CPU (full training step, two runs): the
medium LSTM 1.27-1.36x and GRU 1.29-1.51x faster, but the large GRU 0.86x and the small sizes
0.95-1.12x; see docs/performance.md. The char presets are medium-sized. The other cost is that
the process's resident memory stays at its peak until it exits, which suits a training run.

The ``jaxrnn`` command calls it at start. It does nothing (and returns False) off glibc, e.g.
on macOS, or when ``JAXRNN_MALLOC=default`` is set.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_MAX = -4
ENV = "JAXRNN_MALLOC"


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # only glibc has it (not musl)
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> bool:
    """Makes glibc's malloc keep freed memory in the process (module docstring).

    Returns True if applied; False off glibc or with ``JAXRNN_MALLOC=default``. Calling it
    again is harmless.
    """
    if os.environ.get(ENV, "").lower() == "default":
        return False
    libc = _glibc()
    if libc is None:
        return False
    ok_trim = libc.mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1)
    ok_mmap = libc.mallopt(M_MMAP_MAX, 0)
    return bool(ok_trim and ok_mmap)
