"""Data-parallel character training: the chunk and init functions jitted over a batch mesh.

With more than one device (``--devices N``, default all) or process, ``jit_on_mesh`` jits the
same ``run_chunk`` and ``init`` as the single-device path with explicit shardings
(``jaxrnn.scale.mesh``): the streams and the carries are split along B, everything else in the
``TrainState`` is replicated, and XLA's SPMD partitioner inserts the all-reduce of the
gradient. One device and one process keep the plain ``jax.jit`` (the numbers of every
single-device test stay as they were).
"""
from __future__ import annotations

import jax
import numpy as np

from jaxrnn.scale import mesh as meshes
from jaxrnn.tasks.char.step import TrainState


def make_mesh(n_devices: int, batch: int, local: bool = False):
    """The batch mesh over ``n_devices`` per process (0: all), or None for one device in one
    process or for a ``local`` run (every process trains the whole model on its own first
    device); refuses a batch that does not divide over the devices."""
    if local:
        return None
    devices = meshes.select_devices(n_devices)
    if len(devices) == 1 and jax.process_count() == 1:
        return None
    meshes.check_batch(batch, len(devices))
    return meshes.batch_mesh(devices)


def state_shardings(mesh) -> TrainState:
    """A tree prefix of ``TrainState``: carries split along B, the rest replicated."""
    rep = meshes.replicated(mesh)
    return TrainState(rep, rep, meshes.split(mesh), rep, rep, rep, rep)


def data_sharding(mesh, batching: str):
    """Streams (B, kT + 1) split along B; random-window text (N,) replicated."""
    return meshes.split(mesh) if batching == "stream" else meshes.replicated(mesh)


def jit_on_mesh(init, run_chunk, mesh, batching: str):
    """``(init, run_chunk)`` jitted with the shardings above (``step.make_chunk_fn``)."""
    rep, st = meshes.replicated(mesh), state_shardings(mesh)
    return (jax.jit(init, in_shardings=(rep, rep), out_shardings=st),
            jax.jit(run_chunk, in_shardings=(st, rep, data_sharding(mesh, batching)),
                    out_shardings=(st, rep)))


def place_state(mesh, state):
    """A state (restored from a checkpoint, on any device) laid out on ``mesh``."""
    return state if mesh is None else meshes.place(state, state_shardings(mesh))


def place_data(mesh, data: np.ndarray, batching: str):
    """The training data on the device(s); each process fills only its own shards."""
    if mesh is None:
        return jax.numpy.asarray(data)
    return meshes.place(data, data_sharding(mesh, batching))


def place_keys(mesh, keys):
    """The init and train keys, replicated on ``mesh`` (as given without one)."""
    return keys if mesh is None else meshes.place(keys, meshes.replicated(mesh))


def to_host(mesh, tree):
    """``tree`` as numpy on this host for evaluation and sampling (unchanged without a mesh);
    the params are replicated, so every process gets the whole of them."""
    return tree if mesh is None else jax.device_get(tree)
