"""The one train step and the one training loop every task and sweep uses.

Three layers, each usable alone:

- ``make_train_step(loss_fn, optimizer)``: the pure step ``step(params, opt_state, batch) ->
  (params, opt_state, metrics)`` where ``loss_fn(params, batch) -> (loss, aux)``. Pure, so it is
  jitted once, scanned over samples (per-sample SGD as one ``lax.scan``), or vmapped over seeds
  and hyperparameters (sweeps).
- ``scan_steps(step, params, opt_state, batches)``: the step over a leading axis of batches in
  one ``lax.scan`` (an epoch, a chunk, a whole sweep run).
- ``run_chunks(run_chunk, state, ...)``: the host-side driver. Training runs in *chunks*, each
  one jitted call over many steps; between chunks the driver fetches the chunk's metrics from the
  device (the only host sync), hands them to ``on_chunk`` (logging, evaluation, checkpoints,
  divergence checks) and stops at the end, at a time limit, at a stop request or on Ctrl-C.
"""
from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax


def global_norm(tree) -> jax.Array:
    """sqrt of the sum of squares of every leaf."""
    return optax.tree.norm(tree)


DIVERGENCE_FACTOR = 10.0  # the default factor of tasks whose config does not set its own


def diverged(loss, first_loss, factor: float):
    """The one divergence rule every task and sweep applies: a loss is bad when it is
    non-finite or above ``factor`` times the run's first loss (elementwise, on device or host).

    Args: loss: () or (...,) losses; first_loss: the loss of the run's first step (or its
      initial evaluation); factor: > 1.
    Returns: a bool array shaped like ``loss``.
    """
    loss = jnp.asarray(loss)
    return ~jnp.isfinite(loss) | (loss > factor * jnp.asarray(first_loss))


def make_train_step(loss_fn, optimizer: optax.GradientTransformation):
    """A pure train step: gradient of ``loss_fn``, the optimiser update, and metrics.

    Args:
      loss_fn: ``(params, batch) -> (loss, aux)`` with a scalar loss.
      optimizer: an optax transformation (``make_optimizer``).
    Returns:
      ``step(params, opt_state, batch) -> (params, opt_state, {"loss", "grad_norm", **aux})``.
      ``grad_norm`` is the global norm of the gradient before clipping.
    """

    def step(params, opt_state, batch):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, {"loss": loss, "grad_norm": global_norm(grads), **aux}

    return step


def scan_steps(step, params, opt_state, batches):
    """Runs ``step`` over the leading axis of ``batches`` in one ``lax.scan``.

    Returns ``(params, opt_state, metrics)`` with every metric stacked over the steps.
    """

    def body(state, batch):
        params, opt_state, metrics = step(*state, batch)
        return (params, opt_state), metrics

    (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), batches)
    return params, opt_state, metrics


def chunk_bounds(start: int, stop: int, every: int) -> list[tuple[int, int]]:
    """``[(a, b), ...]`` covering ``[start, stop)``, each ending at a multiple of ``every`` or at
    ``stop``: the chunks of a run resumed at any step line up with an uninterrupted run's."""
    if every < 1:
        raise ValueError(f"chunk length must be >= 1; got {every}")
    bounds, a = [], start
    while a < stop:
        b = min((a // every + 1) * every, stop)
        bounds.append((a, b))
        a = b
    return bounds


class Finished(NamedTuple):
    """What ``run_chunks`` returns: the last whole state, the step it reached, and why it ended
    ("completed", "stopped" (``on_chunk`` asked), "time_limit" or "interrupted" (Ctrl-C))."""

    state: Any
    step: int
    reason: str


def run_chunks(run_chunk: Callable, state, *, start: int, stop: int, every: int,
               on_chunk: Callable | None = None, max_seconds: float = 0.0) -> Finished:
    """The training loop: ``run_chunk`` over consecutive chunks of ``[start, stop)``.

    Args:
      run_chunk: ``(state, a, b) -> (state, metrics)``, training steps ``a .. b - 1`` (usually a
        jitted ``lax.scan`` or ``lax.while_loop`` of ``make_train_step``'s step).
      state: anything ``run_chunk`` takes (params and optimiser state, a ``TrainState``).
      start, stop: the step the run is at, and the step to stop at.
      every: steps per chunk; chunks end at multiples of ``every`` (``chunk_bounds``).
      on_chunk: ``(state, metrics, a, b, seconds) -> bool | None``, called after each chunk with
        the metrics fetched to the host (numpy) and the chunk's wall time; a truthy return stops
        the loop ("stopped"). It may raise (e.g. on divergence): the new state is then dropped.
      max_seconds: stop after the first chunk that ends past this many seconds (0: no limit).
    Returns:
      ``Finished(state, step, reason)``; on Ctrl-C the chunk in flight is dropped and ``state``
      is the last whole one, so a caller can save it and resume exactly.
    """
    t0, step = time.perf_counter(), start
    try:
        for a, b in chunk_bounds(start, stop, every):
            t = time.perf_counter()
            new, metrics = run_chunk(state, a, b)
            metrics = jax.device_get(metrics)  # the only device-to-host transfer of a chunk
            asked = on_chunk(new, metrics, a, b, time.perf_counter() - t) if on_chunk else None
            state, step = new, b
            if asked:
                return Finished(state, step, "stopped")
            if max_seconds and time.perf_counter() - t0 >= max_seconds and step < stop:
                return Finished(state, step, "time_limit")
    except KeyboardInterrupt:
        return Finished(state, step, "interrupted")
    return Finished(state, step, "completed")
