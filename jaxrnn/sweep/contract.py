"""The tasks a sweep can run, and the contract between a task and the sweep runner.

A task turns one config into a ``Program``: a pure ``train(params, hp, key) -> outputs`` that the
runner vmaps over runs and jits once. Fields of a task's config fall in three classes:

- ``traced``: numeric hyperparameters read inside the program from ``hp`` (one scalar per run),
  e.g. the learning rate, the clip value, the truncation window;
- ``init_only``: fields that only change the initial params (initialisers, init seeds); the runner
  calls ``Program.init(config, seeds)`` once per distinct setting of them (a jitted vmap over the
  seeds) and stacks the params of all runs;
- every other field changes the program (shapes, cell, optimiser, clip kind, data): runs that
  differ in one of them go into separate programs, run one after another.

``seed`` is never a grid field: it comes from the spec's ``seeds``. A run's key is
``PRNGKey(seed)``; tasks split it as their own ``main`` does, so a sweep run repeats the task.

Outputs are named ``kind:metric``: ``final:*`` scalars, ``curve:*`` (E,) learning curves over
``Program.axes["curve"]``, ``profile:*`` (K,) arrays over ``Program.axes["profile"]`` (e.g.
``||∂L/∂h_t||`` over t).

A program's training is also given as ``Chunks`` (``start``, ``n`` times ``step``, ``finish``),
the pieces ``train`` is made of (``chunked_train``); the runner calls them one chunk at a time
and saves the carry after each (``jaxrnn.sweep.chunked``), so a stopped program resumes from its
last finished chunk with the same bits as an uninterrupted run.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, NamedTuple

import numpy as np


class Chunks(NamedTuple):
    """One run's training cut at chunk boundaries (all pure, one run's arrays, vmappable)."""

    n: int  # chunks per run
    start: Callable  # (params, hp, key) -> carry (a pytree: params, optimiser state, ...)
    step: Callable  # (carry, hp, key, c) -> (carry, metrics of chunk c)
    finish: Callable  # (carry, hp, key, metrics with a leading (n,) axis) -> outputs


def chunked_train(chunks: Chunks) -> Callable:
    """``train(params, hp, key)``: ``start``, a ``lax.scan`` of ``step`` over the n chunks,
    ``finish``."""
    from jax import lax
    import jax.numpy as jnp

    def train(params, hp, key):
        carry = chunks.start(params, hp, key)
        carry, metrics = lax.scan(lambda cr, c: chunks.step(cr, hp, key, c), carry,
                                  jnp.arange(chunks.n))
        return chunks.finish(carry, hp, key, metrics)

    return train


class Program(NamedTuple):
    """One compiled training program (see the module docstring)."""

    init: Callable[[Any, list], dict]  # (config, seeds) -> params, leaves (len(seeds), ...)
    hparams: Callable[[Any], dict]  # config -> {name: scalar} (the traced fields)
    train: Callable  # (params, hp, key) -> {"final:m": (), "curve:m": (E,), "profile:m": (K,)}
    axes: dict  # {"curve": (E,) x values, "curve_label": str, "profile": (K,), "profile_label"}
    chunks: Chunks  # the pieces of ``train`` (``chunked_train(chunks)`` is ``train``)


class SweepTask(NamedTuple):
    """A task the sweep can run."""

    name: str
    config: type
    presets: dict
    traced: tuple
    init_only: tuple
    metrics: tuple  # final metrics (lower is better); the first is the default
    make_program: Callable[[Any], Program]
    check: Callable[[list, list], None]  # (configs, seeds) -> None or ValueError
    # the (E,) curve the divergence rule (``train.diverged``) reads: point 0 (at init) is the
    # first loss; a run with a bad later point is marked ``diverged`` in results.csv
    loss_curve: str = ""


TASKS = {  # name -> module defining TASK
    "sine": "jaxrnn.tasks.sine.sweep",
    "memory": "jaxrnn.tasks.memory",
    "char": "jaxrnn.tasks.char.sweep",
}


def get_task(name: str) -> SweepTask:
    """The sweep task called ``name`` (``TASKS``)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name]).TASK


def static_fields(task: SweepTask, cfg) -> dict:
    """The fields of ``cfg`` that define its program (all but traced, init-only and seed)."""
    from jaxrnn.io.config import to_dict

    batched = set(task.traced) | set(task.init_only) | {"seed"}
    return {k: v for k, v in to_dict(cfg).items() if k not in batched}


def stack_trees(trees: list):
    """A list of same-structured pytrees -> one pytree of (R, ...) numpy arrays."""
    import jax

    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)
