"""Vmappable training pieces for sweeps: hyperparameters as *traced* values, not Python constants.

A sweep batches runs with ``jax.vmap``, so anything that differs between the batched runs must
be an array inside the program. Three things the rest of jaxrnn takes as Python values get a
traced form here:

- the truncation window: ``traced_cuts`` and ``unroll_traced`` pass a traced ``k`` to the
  core's ``window_cuts`` / ``unroll`` (``k <= 0``: full BPTT);
- the clip value: ``make_traced_optimizer`` is ``make_optimizer`` with a traced bound;
- the learning rate: passed straight to ``make_optimizer`` (Optax scales by an array).

Diagnostics that every sweep task records:

- ``gradient_bias(g_k, g)``: cosine similarity and relative error ``||g_k - g|| / ||g||`` of a
  truncated gradient against the full-BPTT one;
- ``carry_grad_norms``: ``||∂L/∂c_t||`` for every step t (the total gradient reaching the carry
  after step t), whose decay towards early steps is the vanishing gradient.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxrnn.cells import readout
from jaxrnn.grad.diagnostics import scaled_norm
from jaxrnn.optim import make_optimizer
from jaxrnn.unroll import unroll as unroll_core
from jaxrnn.unroll import window_cuts


def traced_cuts(T: int, window, anchor: str = "start"):
    """(T,) bool cut mask for a window k that may be traced; ``k <= 0``: no cut (full BPTT).

    The rule lives in ``jaxrnn.unroll.window_cuts``; this only makes k an array.
    """
    return window_cuts(T, jnp.asarray(window, jnp.int32), anchor)


def unroll_traced(cell, params: dict, xs, window, *, anchor: str = "start", unroll: int = 1):
    """``unroll(cell, params, xs, window=k, anchor=anchor)`` with k a traced scalar.

    Args: cell from ``get_cell``; params the cell's; xs (T, [B,] D) float or (T, [B]) int;
      window: () int, ``<= 0`` for full BPTT.
    Returns: ``(ys (T, [B,] H), final carry)``; zero initial carry.
    """
    return unroll_core(cell, params, xs, window=jnp.asarray(window, jnp.int32), anchor=anchor,
                       unroll=unroll)


def readout_all(params: dict, hs):
    """``W_hy h + b_y`` at every step: hs (T, [B,] H) -> (T, [B,] O)."""
    out = readout
    for _ in range(hs.ndim - 1):
        out = jax.vmap(out, (None, 0))
    return out(params, hs)


def make_traced_optimizer(name: str, learning_rate, clip: str, clip_value, **kwargs):
    """``make_optimizer(name, learning_rate, clip=clip, clip_value=clip_value, **kwargs)``;
    ``learning_rate`` and ``clip_value`` may be traced scalars (one per vmapped run)."""
    return make_optimizer(name, learning_rate, clip=clip, clip_value=clip_value, **kwargs)


def _flat(tree):
    return jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def gradient_bias(g_trunc, g_full) -> dict:
    """``{"cos": <g_k, g> / (|g_k| |g|), "rel": |g_k - g| / |g|}`` of two gradient pytrees.

    Both are NaN (undefined) when the full gradient g is exactly zero, e.g. a saturated sigmoid.
    """
    a, b = _flat(g_trunc), _flat(g_full)
    na, nb = jnp.linalg.norm(a), jnp.linalg.norm(b)
    nan = jnp.asarray(jnp.nan, a.dtype)
    ok = nb > 0
    return {"cos": jnp.where(ok & (na > 0), jnp.dot(a, b) / jnp.where(ok, na * nb, 1.0), nan),
            "rel": jnp.where(ok, jnp.linalg.norm(a - b) / jnp.where(ok, nb, 1.0), nan)}


def carry_grad_norms(cell, params: dict, xs, loss_of_preds):
    """(T,) ``||∂L/∂c_t||`` (full BPTT), c_t the carry after step t, norm over batch and units.

    Computed as the gradient of L with respect to a zero perturbation added to each step's new
    carry (both h and c for the LSTM). ``loss_of_preds(preds (T, [B,] O)) -> scalar``.
    Args: params ``{"cell", "readout"}``; xs (T, [B,] D) or int (T, [B]).
    """
    xs = jnp.asarray(xs)
    is_index = jnp.issubdtype(xs.dtype, jnp.integer)
    batch_shape = xs.shape[1:] if is_index else xs.shape[1:-1]
    p = params["cell"]
    step = cell.step
    for _ in batch_shape:
        step = jax.vmap(step, (None, 0, 0))
    dtype = jax.tree_util.tree_leaves(p)[0].dtype
    carry0 = cell.init_carry(p, batch_shape, dtype)

    def total(deltas):
        def body(c, inp):
            x, d = inp
            c, _ = step(p, c, x)
            c = jax.tree_util.tree_map(jnp.add, c, d)
            return c, c.h if hasattr(c, "h") else c

        _, hs = lax.scan(body, carry0, (xs, deltas))
        return loss_of_preds(readout_all(params["readout"], hs))

    T = xs.shape[0]
    zeros = jax.tree_util.tree_map(lambda c: jnp.zeros((T,) + c.shape, c.dtype), carry0)
    grads = jax.grad(total)(zeros)
    g = jnp.concatenate([x.reshape(T, -1) for x in jax.tree_util.tree_leaves(grads)], axis=1)
    return scaled_norm(g, axis=1)  # (T,), underflow-safe in float32
