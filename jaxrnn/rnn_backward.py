"""A hand-written backward pass for the vanilla RNN's recurrence, used by
``unroll(..., backward="fused")``.

``lax.scan``'s own transpose accumulates ``dW_hh`` inside the backward loop: every step adds a
rank-B update to the whole (H, H) gradient. Here the backward loop only carries ``dh`` and
stores each step's ``dpre_t = dh_t ⊙ act'(h_t)``; after it, one matmul forms

    dW_hh = Σ_t dpre_tᵀ h_{t-1}        (over all steps and batch rows at once)

and ``dpre`` is the cotangent of the hoisted input projection. On the 2-core CPU this made the
medium and large RNN training steps faster (docs/performance.md); for the LSTM the same scheme
did not pay, so only the RNN has it.

Limits: it is a ``jax.custom_vjp``, so forward-mode differentiation (``jax.jvp``,
``jax.jacfwd``) cannot go through it, and it supports neither masks, resets, truncation windows,
reverse nor checkpointing (``unroll`` refuses those combinations).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxrnn.cells import ACTIVATIONS

# act'(a) written in terms of the output y = act(a), so no pre-activation is stored.
_DERIVATIVE = {
    "tanh": lambda y: 1.0 - y * y,
    "sigmoid": lambda y: y * (1.0 - y),
    "relu": lambda y: (y > 0).astype(y.dtype),
}


def _forward(activation, W_hh, pxs, h0, unroll):
    act = ACTIVATIONS[activation]

    def body(h, px):
        h = act(px + h @ W_hh.T)
        return h, h

    h, hs = lax.scan(body, h0, pxs, unroll=unroll)
    return hs, h


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 4))
def recurrence(activation: str, W_hh, pxs, h0, unroll=1):
    """``h_t = act(px_t + W_hh h_{t-1})`` over time.

    Args: activation name; W_hh (H, H); pxs (T, [B,] H) input pre-activations; h0 ([B,] H);
      unroll: ``lax.scan``'s.
    Returns: ``(hs, h_T)``: hs (T, [B,] H).
    """
    return _forward(activation, W_hh, pxs, h0, unroll)


def _fwd(activation, W_hh, pxs, h0, unroll):
    hs, h = _forward(activation, W_hh, pxs, h0, unroll)
    px_dtype = jnp.zeros((0,), pxs.dtype)  # cotangents take their primal's dtype
    return (hs, h), (W_hh, h0, hs, px_dtype)


def _bwd(activation, unroll, residuals, cotangents):
    W_hh, h0, hs, px_dtype = residuals
    dhs, dh_last = cotangents
    derivative = _DERIVATIVE[activation]

    def body(dh_next, step):
        dy, y = step
        dpre = (dh_next + dy) * derivative(y)
        return dpre @ W_hh, dpre

    dh0, dpres = lax.scan(body, dh_last, (dhs, hs), reverse=True, unroll=unroll)
    h_prev = jnp.concatenate([h0[None], hs[:-1]])
    H = W_hh.shape[0]
    dW_hh = dpres.reshape(-1, H).T @ h_prev.reshape(-1, H)
    return dW_hh.astype(W_hh.dtype), dpres.astype(px_dtype.dtype), dh0.astype(h0.dtype)


recurrence.defvjp(_fwd, _bwd)
