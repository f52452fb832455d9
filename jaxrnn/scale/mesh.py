"""Data-parallel placement of one model: a 1-D ``Mesh`` whose axis ``"batch"`` splits the batch.

What is where (``NamedSharding`` over ``Mesh(devices, ("batch",))``):

- sharded along B: the streams (B, kT + 1) and every (B, ...) carry, so device d holds streams
  ``d B/N .. (d + 1) B/N - 1`` and the carries of exactly those streams;
- replicated: params, optimiser state, key, step counters, random-window text (N,).

The gradient of a loss summed over the batch is then a sum of per-device partial sums that
XLA's SPMD partitioner reduces with an all-reduce; nothing here writes a collective by hand.
Params are replicated, not sharded along H: every preset's params fit one device many times.

With several processes (``jax.distributed``), every array is a global ``jax.Array`` made by
``jax.make_array_from_callback``: each process fills only the shards its own devices hold.
"""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"


def select_devices(n: int = 0) -> list:
    """The first ``n`` devices *of every process* (0: all), in global order.

    ``jax.devices()[:n]`` would take only process 0's devices on several hosts; here each host
    contributes its own first ``n``, so ``--devices 2`` on 2 hosts is a mesh of 4.
    """
    if n < 0:
        raise ValueError(f"--devices must be >= 0 (0: all); got {n}")
    local = jax.local_device_count()
    if n > local:
        raise ValueError(f"--devices {n}: only {local} device(s) are visible on this host "
                         f"({jax.local_devices()[0].platform}); pass at most that many, or 0 "
                         f"for all")
    if not n:
        return list(jax.devices())
    by_process: dict = {}
    for d in jax.devices():
        by_process.setdefault(d.process_index, []).append(d)
    return [d for p in sorted(by_process) for d in by_process[p][:n]]


def check_batch(batch: int, n_devices: int) -> None:
    """Refuses a batch that does not split evenly over the devices (naming both numbers)."""
    if batch % n_devices:
        fewer = max(n for n in range(1, n_devices) if batch % n == 0)
        raise ValueError(f"batch {batch} does not divide over {n_devices} devices; use a batch "
                         f"that is a multiple of {n_devices} (e.g. --batch="
                         f"{max(n_devices, batch - batch % n_devices)}) or --devices={fewer}")


def batch_mesh(devices: list) -> Mesh:
    """A 1-D mesh over ``devices`` with the axis ``"batch"``."""
    return Mesh(np.array(devices), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def split(mesh: Mesh, axis: int = 0) -> NamedSharding:
    """The array's ``axis`` is split over the mesh's devices (the others are whole)."""
    return NamedSharding(mesh, PartitionSpec(*([None] * axis), AXIS))


def place(tree, shardings):
    """``tree`` (numpy or jax leaves, the same value on every process) as global arrays laid out
    by ``shardings`` (a sharding or a tree prefix of ``tree``); each process fills only its own
    devices' shards."""

    def put(sharding, sub):
        return jax.tree_util.tree_map(lambda a: _put(a, sharding), sub)

    return jax.tree_util.tree_map(put, shardings, tree,
                                  is_leaf=lambda x: isinstance(x, NamedSharding))


def _put(a, sharding: NamedSharding):
    if jax.dtypes.issubdtype(getattr(a, "dtype", None), jax.dtypes.prng_key):
        impl = jax.random.key_impl(a)
        return jax.random.wrap_key_data(_put(jax.random.key_data(a), sharding), impl=impl)
    a = np.asarray(a)
    return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])
