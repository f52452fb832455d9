"""Where finite differences straddle a kink: ReLU pre-activations within the step of 0.

``relu`` has no derivative at 0; jax (and the manual BPTT) use ``relu'(0) = 0``, while a central
difference ``(L(θ + ε) - L(θ - ε)) / 2ε`` whose step moves a pre-activation across 0 measures an
average of the two one-sided slopes (1/2 for a pre-activation sitting exactly at 0). Neither is
wrong: the loss is not differentiable there. A parameter entry θ_i is *non-differentiable here*
when, for some valid step t, sequence b and unit k, to first order the step ±ε moves the RNN's
pre-activation ``a_{t,b,k} = W_xh x_t + W_hh h_{t-1} + b_h`` across 0::

    |a_{t,b,k}| < 2 ε |∂a_{t,b,k} / ∂θ_i|

(the factor 2 leaves room for the second-order terms). ``∂a/∂θ`` is taken by ``jax.jacfwd``.
Only the vanilla RNN with ``relu`` has kinks here; the gated cells are smooth.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

KINK_SLACK = 2.0


def has_kinks(cell) -> bool:
    """True for a cell with a non-differentiable point (the ReLU RNN)."""
    return cell.name == "rnn" and cell.activation == "relu"


def _preactivations(p, xs, carry0, valid, resets):
    """(T, B, H) pre-activations of the RNN; xs (T, B, D) float, carry0 (B, H), valid and
    resets (T, B) bools (a padded step keeps the carry, a reset restores carry0)."""
    b = p.get("b_h", jnp.zeros(p["W_hh"].shape[:1], xs.dtype))

    def body(h, inp):
        x, m, r = inp
        h = jnp.where(r[:, None], carry0, h)
        a = x @ p["W_xh"].T + h @ p["W_hh"].T + b[None, :]
        return jnp.where(m[:, None], jax.nn.relu(a), h), a

    return lax.scan(body, carry0, (xs, valid, resets))[1]


def kink_entries(cell, params, xs, carry0, eps, *, valid=None, resets=None):
    """Bool pytree like ``params``: True at the entries whose finite difference of step ``eps``
    straddles a ReLU kink (module docstring); None for a cell without kinks.

    Args: xs (T, [B,] D) float or (T, [B]) int; carry0 [B,] (H,) or None; valid, resets
      (T, [B]) bools or None.
    """
    if not has_kinks(cell):
        return None
    p = params["cell"]
    H, D = p["W_xh"].shape
    dtype = p["W_xh"].dtype
    xs = jnp.asarray(xs)
    if jnp.issubdtype(xs.dtype, jnp.integer):
        xs = jax.nn.one_hot(xs, D, dtype=dtype)
    batched = xs.ndim == 3
    T, B = xs.shape[0], xs.shape[1] if batched else 1
    xs = xs.reshape(T, B, D).astype(dtype)
    h0 = jnp.zeros((B, H), dtype) if carry0 is None else jnp.asarray(carry0, dtype).reshape(B, H)
    valid = jnp.ones((T, B), bool) if valid is None else jnp.asarray(valid).reshape(T, B)
    resets = jnp.zeros((T, B), bool) if resets is None else jnp.asarray(resets).reshape(T, B)
    flat, unravel = ravel_pytree(params)

    def pre(v):
        return _preactivations(unravel(v)["cell"], xs, h0, valid, resets)

    a, J = pre(flat), jax.jacfwd(pre)(flat)  # (T, B, H), (T, B, H, P)
    near = jnp.abs(a)[..., None] < KINK_SLACK * eps * jnp.abs(J)
    flags = unravel(jnp.any(near & valid[:, :, None, None], axis=(0, 1, 2)).astype(dtype))
    return jax.tree_util.tree_map(lambda f: f > 0.5, flags)  # unravel casts to params' dtypes
