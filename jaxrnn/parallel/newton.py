"""The fixed-point iterations of parallel-in-time evaluation: DEER, quasi-DEER and ELK.

A trajectory ``s_1 .. s_T`` of the step ``s_t = f(s_{t-1}, p_t)`` (s the flattened carry: h, or
[h; c] for the LSTM, S entries; p_t the input pre-activations) is the root of the T·S equations
``r_t(s) = s_t - f(s_{t-1}, p_t) = 0``. From an initial guess ``s^(0)``, iteration i+1 linearises
f around ``s^(i)`` and solves the linear recurrence exactly::

    J_t = ∂f/∂s (s^(i)_{t-1}, p_t)                       (T, S, S)
    s^(i+1)_t = J_t s^(i+1)_{t-1} + f(s^(i)_{t-1}, p_t) - J_t s^(i)_{t-1}

- ``"deer"``: full J_t, the linear recurrence by a parallel scan (Newton's method: quadratic
  convergence near the root, and step t is exact after at most t iterations).
- ``"quasi-deer"``: J_t replaced by its diagonal (an O(S) scan instead of O(S³)); linear
  convergence, the same fixed point.
- ``"elk"``: the Newton step damped by a trust region of weight λ (``damping``), solved as a
  Kalman smoother (``jaxrnn.parallel.elk``).

The iteration stops when the residual ``max_t,k |r_t(s^(i))|`` is at most ``tol`` or after
``max_iters`` iterations; it returns the iterate, the number of iterations and the residual.
An iteration that overflows (DEER on a chaotic network, from a poor guess) stops it too, with
the residual ``inf``.

References: Lim, Zhu, Selfridge & Kasim, 2024, "Parallelizing non-linear sequential models over
the sequence length" (ICLR); Gonzalez et al., 2024 (NeurIPS), quasi-DEER and ELK.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxrnn.cells import LSTMCarry
from jaxrnn.parallel.elk import kalman_step
from jaxrnn.parallel.linear import linear_recurrence

METHODS = ("deer", "quasi-deer", "elk")


def flatten(cell, carry):
    """The carry as one state vector: h (H,), or [h; c] (2H,) for the LSTM (batch axes kept)."""
    if cell.name == "lstm":
        return jnp.concatenate([carry.h, carry.c], axis=-1)
    return carry


def unflatten(cell, s):
    if cell.name == "lstm":
        H = s.shape[-1] // 2
        return LSTMCarry(s[..., :H], s[..., H:])
    return s


def make_step(cell):
    """``f(fused, s_prev, px) -> s``: one step of ``cell`` on the flat state, one example."""
    def f(fused, s_prev, px):
        return flatten(cell, cell.recur(fused, unflatten(cell, s_prev), px)[0])

    return f


def linearize(f, fused, prev, pxs):
    """``(f_t, J_t)`` at every step: (T, S) values and (T, S, S) Jacobians ∂f/∂s_prev."""
    values = jax.vmap(f, (None, 0, 0))(fused, prev, pxs)
    jacobians = jax.vmap(jax.jacfwd(f, argnums=1), (None, 0, 0))(fused, prev, pxs)
    return values, jacobians


def _shift(s0, states):
    """The states entering each step: (T, S) ``[s0, s_1, .., s_{T-1}]``."""
    return jnp.concatenate([s0[None], states[:-1]])


def _update(method, damping, states, s0, values, jacobians):
    """One iteration's new trajectory (module docstring) from the linearisation at ``states``."""
    prev = _shift(s0, states)
    if method == "quasi-deer":
        a = jnp.diagonal(jacobians, axis1=-2, axis2=-1)  # (T, S)
        return linear_recurrence(a, values - a * prev, s0)
    b = values - jnp.einsum("tij,tj->ti", jacobians, prev)
    if method == "elk":
        return kalman_step(jacobians, b, s0, states, damping)
    return linear_recurrence(jacobians, b, s0)


def iterate(f, fused, pxs, s0, init, *, method="deer", tol, max_iters, damping=1.0):
    """Runs the iteration for one sequence.

    Args: f: from ``make_step``; fused: the cell's fused params; pxs: (T, G) input
      pre-activations; s0: (S,) initial state; init: (T, S) initial guess; method: one of
      ``METHODS``; tol: residual to stop at; max_iters: iteration cap; damping: ELK's λ.
    Returns: ``(states (T, S), iterations (), residual ())``.
    """
    def linearized(states):
        values, jacobians = linearize(f, fused, _shift(s0, states), pxs)
        gap = jnp.abs(states - values)
        # inf when anything overflowed: XLA's max may skip NaNs and report -inf ("converged")
        residual = jnp.where(jnp.all(jnp.isfinite(gap)), jnp.max(gap), jnp.inf)
        return values, jacobians, residual

    def cond(carry):
        _, _, _, residual, i = carry
        return (i < max_iters) & (residual > tol) & jnp.isfinite(residual)

    def body(carry):
        states, values, jacobians, _, i = carry
        new = _update(method, damping, states, s0, values, jacobians)
        return (new,) + linearized(new) + (i + 1,)

    start = (init,) + linearized(init) + (jnp.asarray(0),)
    states, _, _, residual, i = lax.while_loop(cond, body, start)
    return states, i, residual
