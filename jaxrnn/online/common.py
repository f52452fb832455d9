"""What every online estimator shares: the cell as a map on flat vectors, the forward pass, the
learning signal, and the one scan over time that accumulates a gradient estimate.

A cell's state is flattened to ``s`` (S,) (``h`` for rnn/gru, ``[h; c]`` for the LSTM, S = 2H) and
its params to ``θ`` (P,) (``jax.flatten_util.ravel_pytree``), so one step is
``s_t = F(θ, s_{t-1}, x_t)`` with the step Jacobians ``J_t = ∂F/∂s`` (S, S) and
``I_t = ∂F/∂θ`` (S, P) (the "immediate influence"). The influence matrix is ``M_t = ds_t/dθ``
(S, P), and the cell's gradient is ``Σ_t c_tᵀ M_t`` with the learning signal ``c_t = ∂L/∂s_t``
through this step's readout only (zero on the LSTM's c half). Every estimator here keeps the
readout's gradient exact (it is local in time) and approximates ``M_t``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from jaxrnn.cells import LSTMCarry, hidden_size
from jaxrnn.model import get_loss, readouts
from jaxrnn.unroll import window_cuts


class FlatCell(NamedTuple):
    """A cell as a map on flat vectors: ``step(θ, s, x) -> s'``; ``unravel(θ) -> params``."""

    theta: jax.Array  # (P,)
    unravel: Callable
    step: Callable
    H: int
    S: int


def flat_cell(cell, cell_params) -> FlatCell:
    """The cell's step on a flat state s (S,) and flat params θ (P,) (module docstring)."""
    theta, unravel = ravel_pytree(cell_params)
    H = hidden_size(cell_params)
    lstm = cell.name == "lstm"

    def step(theta, s, x):
        carry = LSTMCarry(s[:H], s[H:]) if lstm else s
        new, _ = cell.step(unravel(theta), carry, x)
        return jnp.concatenate([new.h, new.c]) if lstm else new

    return FlatCell(theta, unravel, step, H, 2 * H if lstm else H)


def is_batched(xs) -> bool:
    return xs.ndim == (2 if jnp.issubdtype(xs.dtype, jnp.integer) else 3)


class Stream(NamedTuple):
    """One problem laid out for the estimators, always batched (B = 1 for an unbatched one).

    xs (T, B, ...) inputs; s_prev (T, B, S) the state entering each step; delta (T, B, O) the
    loss's gradient w.r.t. each step's readout ŷ_t; g_readout the readout's exact gradient;
    cuts (T,) bools, True where the carry entering step t is detached (``window_cuts``);
    W_hy (O, H) the readout's weights (the true feedback).
    """

    fc: FlatCell
    xs: jax.Array
    s_prev: jax.Array
    delta: jax.Array
    g_readout: Any
    cuts: jax.Array
    W_hy: jax.Array


def prepare(cell, params, xs, targets, loss, carry0=None, window=None, anchor="start") -> Stream:
    """Runs the forward pass and the loss's local gradients (see ``Stream``)."""
    fc = flat_cell(cell, params["cell"])
    batched = is_batched(xs)
    if not batched:
        xs = xs[:, None]
    B = xs.shape[1]
    dtype = fc.theta.dtype
    if jnp.issubdtype(xs.dtype, jnp.floating):
        dtype = jnp.result_type(dtype, xs.dtype)
    if carry0 is None:
        s0 = jnp.zeros((B, fc.S), dtype)
    else:
        s0 = jnp.concatenate(list(carry0), -1) if cell.name == "lstm" else carry0
        s0 = jnp.reshape(jnp.asarray(s0, dtype), (B, fc.S))
    vstep = jax.vmap(fc.step, (None, 0, 0))

    def forward(s, x):
        s_new = vstep(fc.theta, s, x)
        return s_new, (s, s_new)

    _, (s_prev, s_next) = lax.scan(forward, s0, xs)  # (T, B, S) each
    hs = s_next[..., :fc.H]
    T = xs.shape[0]

    def loss_of(r, preds):
        return get_loss(loss)(preds if batched else preds[:, 0], targets)

    preds = readouts(params["readout"], hs)  # (T, B, O)
    delta = jax.grad(lambda p: loss_of(None, p))(preds)  # (T, B, O)
    g_readout = jax.grad(lambda r: loss_of(r, readouts(r, hs)))(params["readout"])
    if window is None:
        cuts = jnp.zeros((T,), bool)
    else:
        cuts = window_cuts(T, window, anchor)
    return Stream(fc, xs, s_prev, delta, g_readout, cuts, params["readout"]["W_hy"])


def signal(stream: Stream, feedback) -> jax.Array:
    """Learning signals c_t (T, B, S): ``feedback`` (O, H) applied to δ_t, zero on the c half.

    With ``feedback = W_hy`` this is the exact ``∂L/∂h_t`` through step t's readout.
    """
    c = jnp.einsum("tbo,oh->tbh", stream.delta, feedback)
    pad = stream.fc.S - stream.fc.H
    return jnp.pad(c, ((0, 0), (0, 0), (0, pad))) if pad else c


def step_jacobians(fc: FlatCell, s, x):
    """``(J (S, S), I (S, P))`` of one step at state s, input x (``jax.jacfwd`` of one step)."""
    return jax.jacfwd(fc.step, argnums=(1, 0))(fc.theta, s, x)


class Rule(NamedTuple):
    """An online rule, usable on a whole sequence (``estimate``) or while training (``stream``).

    init: ``(fc, p) -> state``, the estimator's state at t = 0 and after a cut;
    update: ``(fc, p, state, x, s_prev, c, noise) -> (state, g)``: one step for one sequence,
      with p the cell's params, c (S,) the learning signal and g the step's contribution to the
      cell's gradient (a params dict);
    noise: ``S -> shape`` of one step's random draws, or None for a deterministic rule.
    """

    init: Callable
    update: Callable
    noise: Callable | None = None


def draw_noise(rule: Rule, key, B: int, T: int, S: int, dtype):
    """(B, T, ...) Rademacher signs for ``rule`` (None for a deterministic rule)."""
    if rule.noise is None:
        return None
    shape = (B, T) + tuple(rule.noise(S))
    return jnp.where(jax.random.bernoulli(key, 0.5, shape), 1.0, -1.0).astype(dtype)


def estimate(rule: Rule, cell, params, xs, targets, loss, carry0, window, anchor, noise,
             feedback=None):
    """The rule's whole-sequence estimate ``Σ_b Σ_t g_t`` (cell) and the exact readout gradient.

    Args: as ``jaxrnn.grad.methods``; noise (B, T, ...) or None; feedback (O, H) the matrix
      that maps δ_t to the learning signal (None: W_hy, the exact signal).
    """
    stream = prepare(cell, params, xs, targets, loss, carry0, window, anchor)
    fc, p = stream.fc, params["cell"]
    c = signal(stream, stream.W_hy if feedback is None else feedback)
    init = rule.init(fc, p)

    def one(xs, s_prev, c, noise):
        def body(carry, inp):
            state, g = carry
            x, s, c_t, cut, nz = inp
            state = jax.tree_util.tree_map(lambda a, z: jnp.where(cut, z, a), state, init)
            state, g_t = rule.update(fc, p, state, x, s, c_t, nz)
            return (state, jax.tree_util.tree_map(jnp.add, g, g_t)), None

        g0 = jax.tree_util.tree_map(jnp.zeros_like, p)
        (_, g), _ = lax.scan(body, (init, g0), (xs, s_prev, c, stream.cuts, noise))
        return g

    per_seq = jax.vmap(one, (1, 1, 1, None if noise is None else 0))(
        stream.xs, stream.s_prev, c, noise)
    return {"cell": jax.tree_util.tree_map(lambda a: a.sum(0), per_seq),
            "readout": stream.g_readout}


def check_size(name: str, entries: int, limit: int, fix: str):
    """Refuses an estimator whose per-sequence state exceeds ``limit`` entries."""
    if entries > limit:
        raise ValueError(f"{name} needs {entries:,} numbers per sequence (limit {limit:,}); "
                         f"{fix}")


def problem_shape(cell, params, xs) -> tuple:
    """(B, T, S) of a problem (B = 1 for unbatched xs), without running it."""
    H = hidden_size(params["cell"])
    B = xs.shape[1] if is_batched(xs) else 1
    return B, xs.shape[0], 2 * H if cell.name == "lstm" else H
