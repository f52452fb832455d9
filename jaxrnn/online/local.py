"""Local eligibility traces: RFLO (Murray 2019) and e-prop (Bellec et al. 2020), vanilla RNN.

Both drop every path through the recurrent weights and keep, per synapse W[j, k] of
W = [W_hh, W_xh, b_h] acting on ``â_t = [h_{t-1}; x_t; 1]``, the trace of Murray's leaky
network ``h_t = (1 - α) h_{t-1} + α φ(a_t)``::

    p_t[j, k] = (1 - α) p_{t-1}[j, k] + α φ'(a_{t,j}) â_t[k]        (H × K numbers, O(H²) a step)
    dL/dW[j, k] ≈ Σ_t (B δ_t)_j p_t[j, k]

with δ_t = ∂L/∂ŷ_t and a feedback matrix B (H, O). jaxrnn's RNN is the α = 1 (no leak) case,
where the trace is the one-step influence and, with the true feedback B = W_hyᵀ, the estimate is
exactly TBPTT(1)'s gradient (tested). ``leak=α < 1`` low-pass filters the trace, as in Murray's
leaky network; for jaxrnn's non-leaky cell that is a heuristic, not the cell's influence.

- ``rflo``: random fixed feedback B ~ N(0, 1/O) drawn from ``key`` (Murray 2019's rule);
- ``eprop``: the symmetric feedback B = W_hyᵀ (Bellec et al. 2020's symmetric e-prop). For the
  vanilla RNN, whose neurons have no internal state beyond h, e-prop's eligibility trace is this
  same local trace (Marschall et al. 2020 §4 make the same identification), so e-prop here is
  RFLO with the true feedback.

Gated cells are not supported: their "local" trace is a modelling choice (which gate paths count
as internal) that neither paper fixes for LSTM/GRU units of this form; SnAp-1 is the principled
local approximation for them.

References: Murray, "Local online learning in recurrent networks with random feedback", eLife
2019; Bellec et al., "A solution to the learning dilemma for recurrent networks of spiking
neurons", Nature Communications 2020; Marschall, Cho & Savin, JMLR 21 (2020).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxrnn.online.common import Rule, estimate
from jaxrnn.online.uoro import require_rnn, rnn_local, split_kron


def local_rule(activation: str, leak) -> Rule:
    """The local trace (module docstring) as a ``Rule`` for the vanilla RNN."""
    def init(fc, p):
        return jnp.zeros((fc.H, fc.H + p["W_xh"].shape[1] + ("b_h" in p)), fc.theta.dtype)

    def update(fc, p, trace, x, s, c, noise):
        a_hat, d = rnn_local(p, activation, x, s)
        trace = (1.0 - leak) * trace + leak * d[:, None] * a_hat[None, :]
        return trace, split_kron(p, c[:, None] * trace)

    return Rule(init, update)


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_local_from_feedback(cell, params, xs, targets, loss, carry0=None, *, feedback,
                             leak=1.0, window=None, anchor="start"):
    """The local-trace estimate (module docstring) with a given feedback (O, H) = Bᵀ."""
    require_rnn(cell, "RFLO/e-prop")
    return estimate(local_rule(cell.activation, leak), cell, params, xs, targets, loss, carry0,
                    window, anchor, None, feedback)


def random_feedback(key, W_hy):
    """Bᵀ (O, H) ~ N(0, 1/O), RFLO's fixed random feedback, shaped like W_hy."""
    return jax.random.normal(key, W_hy.shape, W_hy.dtype) / jnp.sqrt(W_hy.shape[0])


def _check_leak(leak):
    if not 0.0 < float(leak) <= 1.0:
        raise ValueError(f"leak α must be in (0, 1] (1: no leak, jaxrnn's RNN); got {leak!r}")


def grad_rflo(cell, params, xs, targets, loss, carry0=None, *, key, leak=1.0, window=None,
              anchor="start"):
    """RFLO: local traces with a random feedback B ~ N(0, 1/O) (H, O) drawn from ``key``."""
    _check_leak(leak)
    feedback = random_feedback(key, params["readout"]["W_hy"])
    return grad_local_from_feedback(cell, params, xs, targets, loss, carry0, feedback=feedback,
                                    leak=leak, window=window, anchor=anchor)


def grad_eprop(cell, params, xs, targets, loss, carry0=None, *, key=None, leak=1.0,
               window=None, anchor="start"):
    """Symmetric e-prop: local traces with the true feedback W_hyᵀ (``key`` unused)."""
    del key
    _check_leak(leak)
    return grad_local_from_feedback(cell, params, xs, targets, loss, carry0,
                                    feedback=params["readout"]["W_hy"], leak=leak,
                                    window=window, anchor=anchor)
