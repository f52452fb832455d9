"""The jitted parts of character-model training: a chunk of train steps, and evaluation.

``make_chunk_fn`` returns ``run_chunk(state, stop, data) -> (state, acc)``: a ``lax.while_loop``
of train steps from ``state.step`` up to ``stop`` (a traced bound, so one compilation serves every
chunk length), leaving early at the first *bad* step (a non-finite loss, or one above
``divergence_factor`` times the first loss). Metrics are summed on the device in ``acc`` and
fetched once per chunk. Everything a step needs comes from ``state`` and the step number:

- the window: ``w = step mod k`` of the streams (or random starts drawn from
  ``fold_in(key, step)``), so the data position is the step;
- the carry entering window w: the previous window's final carry through ``detach`` (the gradient
  is cut at the boundary; truncated BPTT of T steps), or zeros at ``w = 0`` and when
  ``carry_state`` is False;
- dropout keys ``fold_in(key, step)``.

So a run stopped after any chunk and resumed from its saved state repeats the same computation.
Per step, with ℓ the window's summed nats and T B its characters::

    loss = ℓ (reduce "sum") or ℓ / (T B) ("mean");   nats/char c = ℓ / (T B)
    smooth <- d smooth + (1 - d) c   (min-char-rnn's smoothing, per character, d = 0.999)
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxrnn import train
from jaxrnn.tasks.char.model import ModelSpec, init_carries, window_nll
from jaxrnn.data.text import random_windows, stream_window
from jaxrnn.unroll import detach, tree_where


class TrainState(NamedTuple):
    """Everything that evolves during training (saved whole in a checkpoint)."""

    params: dict
    opt_state: Any
    carries: list  # per layer, (B, H) leaves: the carry leaving the last window
    key: jax.Array  # the run's key; step s uses fold_in(key, s)
    step: jax.Array  # () int32, steps done
    first_loss: jax.Array  # () nats/char of step 0 (the divergence reference)
    smooth: jax.Array  # () smoothed nats/char


class ChunkMetrics(NamedTuple):
    """Sums over the steps of one chunk, and the first bad step (-1: none)."""

    loss_sum: jax.Array  # Σ nats/char
    grad_norm_sum: jax.Array
    steps: jax.Array
    bad_step: jax.Array
    bad_loss: jax.Array


class Schedule(NamedTuple):
    """How steps map to data and what the loss is (static)."""

    batching: str  # "stream" or "random"
    seq_len: int  # T
    batch: int  # B
    steps_per_epoch: int  # k
    carry_state: bool
    reduce: str  # "sum" or "mean"
    divergence_factor: float
    smooth_decay: float


def init_state(spec: ModelSpec, params, optimizer, key, batch: int) -> TrainState:
    """The state before step 0; ``smooth`` starts at ``log V`` (a uniform guess)."""
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    return TrainState(params, optimizer.init(params), init_carries(spec, params, (batch,)),
                      key, jnp.zeros((), jnp.int32), jnp.full((), jnp.nan, dtype),
                      jnp.log(jnp.asarray(spec.vocab_size, dtype)))


def _batch(sched: Schedule, spec, state, data, key):
    """``(xs, ys, carries0)`` for the step ``state.step``."""
    T, B = sched.seq_len, sched.batch
    zero = init_carries(spec, state.params, (B,))
    if sched.batching == "random":
        xs, ys = random_windows(key, data, B, T)
        return xs, ys, zero
    w = state.step % sched.steps_per_epoch
    xs, ys = stream_window(data, w, T)
    if not sched.carry_state:
        return xs, ys, zero
    return xs, ys, tree_where(w != 0, detach(state.carries), zero)


def make_step_fn(spec: ModelSpec, optimizer, sched: Schedule):
    """``one_step(state, acc, data) -> (state, acc)``: one update and its metrics."""
    chars = sched.seq_len * sched.batch

    def loss_fn(params, batch):
        xs, ys, carries, key = batch
        nll, carries = window_nll(spec, params, xs, ys, carries, key=key, train=True)
        return (nll if sched.reduce == "sum" else nll / chars), {"nll": nll, "carries": carries}

    step = train.make_train_step(loss_fn, optimizer)

    def one_step(state: TrainState, acc: ChunkMetrics, data):
        s = state.step
        k_data, k_drop = jax.random.split(jax.random.fold_in(state.key, s))
        xs, ys, carries = _batch(sched, spec, state, data, k_data)
        params, opt_state, m = step(state.params, state.opt_state, (xs, ys, carries, k_drop))
        c = (m["nll"] / chars).astype(state.smooth.dtype)
        first = jnp.where(s == 0, c, state.first_loss)
        bad = train.diverged(c, first, sched.divergence_factor)
        first_bad = (acc.bad_step < 0) & bad
        d = sched.smooth_decay
        acc = ChunkMetrics(acc.loss_sum + c, acc.grad_norm_sum + m["grad_norm"].astype(c.dtype),
                           acc.steps + 1, jnp.where(first_bad, s, acc.bad_step),
                           jnp.where(first_bad, c, acc.bad_loss))
        return TrainState(params, opt_state, m["carries"], state.key, s + 1, first,
                          d * state.smooth + (1 - d) * c), acc

    return one_step


def make_chunk_fn(spec: ModelSpec, optimizer, sched: Schedule):
    """``run_chunk(state, stop, data) -> (state, ChunkMetrics)`` (module docstring); not jitted.

    ``data``: the (B, kT + 1) streams, or the (N,) training ids for random windows.
    """
    one_step = make_step_fn(spec, optimizer, sched)

    def run_chunk(state: TrainState, stop, data):
        z = jnp.zeros((), state.smooth.dtype)
        acc0 = ChunkMetrics(z, z, jnp.zeros((), jnp.int32), jnp.full((), -1, jnp.int32), z)

        def cond(carry):
            st, acc = carry
            return (st.step < stop) & (acc.bad_step < 0)

        return lax.while_loop(cond, lambda c: one_step(*c, data), (state, acc0))

    return run_chunk


def make_eval_fn(spec: ModelSpec, carry_state: bool):
    """``evaluate(params, xs, ys) -> mean nats/char`` over (k, T, B) windows (``eval_windows``).

    The windows of each stream are run in order; with ``carry_state`` the carry flows from one
    to the next (the whole stream is one sequence), otherwise every window starts from zeros.
    """

    def evaluate(params, xs, ys):
        zero = init_carries(spec, params, xs.shape[2:])

        def body(carries, window):
            x, y = window
            nll, carries = window_nll(spec, params, x, y, carries if carry_state else zero)
            return carries, nll

        _, nll = lax.scan(body, zero, (xs, ys))
        return jnp.sum(nll) / xs.size

    return evaluate
