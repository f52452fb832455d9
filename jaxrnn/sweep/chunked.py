"""A sweep program run one chunk at a time with its state saved after each chunk, so a stopped
program resumes from its last finished chunk (the program's ``Chunks``, ``sweep.contract``)::

    carry = vmap(start)(params, hp, keys)                       # leaves (R, ...)
    for c in done .. n-1: carry, m_c = vmap(step)(carry, hp, keys, c); save carry, m_0..m_c
    outputs = vmap(finish)(carry, hp, keys, m)                  # m: leaves (R, n, ...)

Each piece is jitted once with the run axis sharded over the devices (``shard_runs``, as
``runner.run_sharded``). After every chunk ``programs/<pid>.ckpt`` (``jaxrnn.io.checkpoint``,
written atomically: a crash mid-write keeps the previous one) holds the carry (params, optimiser
state, what ``start`` measured) and the metrics so far of the R runs, padding dropped, so it
restores onto another device count. A crash, Ctrl-C, SIGTERM or ``max_chunks`` leaves the last
finished chunk on disk; a resumed program continues from it with the same compiled pieces, so
on the same devices its outputs equal an uninterrupted run's bit for bit.
"""
from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrnn.io import checkpoint


def _pad(a: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``a`` padded to n by repeating the last one."""
    return a if len(a) == n else np.concatenate([a, np.repeat(a[-1:], n - len(a), axis=0)])


def shard_runs(devices, R: int):
    """``(sharding, n, put)``: the run axis over ``devices`` (a 1-axis ``Mesh`` "runs"), R padded
    to n (a multiple of the device count), and ``put(tree)`` laying out numpy (R, ...) leaves."""
    devices = list(devices or jax.devices())
    n = -(-R // len(devices)) * len(devices)
    sharding = NamedSharding(Mesh(np.array(devices), ("runs",)), PartitionSpec("runs"))

    def put_one(a):
        a = _pad(np.asarray(a), n)
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return sharding, n, lambda tree: jax.tree_util.tree_map(put_one, tree)


def to_host(tree, R: int):
    """The first R rows of every leaf as numpy (gathered from every host when several)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        tree = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[:R], tree)


def _zeros(shapes):
    return jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)


def _restore(path: Path, meta: dict, chunks, args, R: int):
    """``(carry, metrics list, done)`` from ``path``, or ``(None, [], 0)`` when there is none.

    Raises: ValueError: the file belongs to another program (``checkpoint.check_meta``).
    """
    if not path.exists():
        return None, [], 0
    arrays, saved = checkpoint.load(path)
    checkpoint.check_meta(saved, {**meta, "n_chunks": chunks.n}, source=str(path))
    done = saved["done"]
    carry_t = jax.eval_shape(jax.vmap(chunks.start), *args)
    carry = checkpoint.restore(_zeros(carry_t), arrays, prefix="carry", source=str(path))
    c = np.zeros(R, np.int32)
    m_t = jax.eval_shape(jax.vmap(chunks.step, in_axes=(0, 0, 0, 0)), carry_t, *args[1:], c)[1]
    m_t = jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct((R, done) + s.shape[1:],
                                                                s.dtype), m_t)
    stacked = checkpoint.restore(_zeros(m_t), arrays, prefix="metrics", source=str(path))
    metrics = [jax.tree_util.tree_map(lambda a, i=i: a[:, i], stacked) for i in range(done)]
    return carry, metrics, done


def run_chunked(chunks, args: tuple, devices=None, *, ckpt=None, meta=None,
                max_chunks: int = 0):
    """Runs (or resumes from ``ckpt``) a program's chunks over its runs (module docstring).

    Args:
      chunks: the program's ``Chunks``.
      args: ``(params, hp, keys)``, numpy pytrees with (R, ...) leaves.
      devices: the devices to shard the run axis over (default all).
      ckpt: the checkpoint file (None: nothing saved or resumed).
      meta: what identifies the program (e.g. pid and run indices), checked on resuming.
      max_chunks: stop after running this many chunks (0: run to the end).
    Returns: ``(outputs or None if stopped, timing)``: outputs numpy (R, ...); timing has
      ``compile_s``, ``run_s``, ``devices``, ``padded_to``, ``resumed_from``, ``chunks_run``.
    """
    R = len(jax.tree_util.tree_leaves(args)[0])
    sharding, n, put = shard_runs(devices, R)
    meta = meta or {}
    carry, metrics, done = _restore(Path(ckpt), meta, chunks, args, R) if ckpt else (None, [], 0)
    dev_args = put(args)
    pieces = {"start": jax.vmap(chunks.start), "step": jax.vmap(chunks.step),
              "finish": jax.vmap(chunks.finish)}
    timing = {"compile_s": 0.0, "run_s": 0.0, "devices": len(devices or jax.devices()),
              "padded_to": n, "resumed_from": done, "chunks_run": 0}

    compiled = {}

    def call(name, *xs):  # each piece compiled once, on its first call
        t0 = time.perf_counter()
        if name not in compiled:
            fn = jax.jit(pieces[name], in_shardings=sharding, out_shardings=sharding)
            compiled[name] = fn.lower(*xs).compile()
        t1 = time.perf_counter()
        out = jax.block_until_ready(compiled[name](*xs))
        timing["compile_s"] += t1 - t0
        timing["run_s"] += time.perf_counter() - t1
        return out

    carry = call("start", *dev_args) if carry is None else put(carry)
    for c in range(done, chunks.n):
        if max_chunks and timing["chunks_run"] >= max_chunks:
            return None, timing
        carry, m = call("step", carry, *dev_args[1:], put(np.full(R, c, np.int32)))
        metrics.append(to_host(m, R))
        timing["chunks_run"] += 1
        if ckpt:
            stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs, axis=1), *metrics)
            checkpoint.save(ckpt, {"carry": to_host(carry, R), "metrics": stacked},
                            {**meta, "n_chunks": chunks.n, "done": c + 1})
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs, axis=1), *metrics)
    return to_host(call("finish", carry, *dev_args[1:], put(stacked)), R), timing
