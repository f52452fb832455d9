"""Lyapunov exponents of an RNN along a trajectory: the spectrum by QR iteration, the largest by
power iteration.

The step Jacobians ``J_t = ∂s_t/∂s_{t-1}`` (s the flat carry, S entries) propagate
perturbations: ``δs_T = J_T .. J_1 δs_0``. The Lyapunov exponents are the growth rates of that
product, per step::

    Q_0 = I,   J_t Q_{t-1} = Q_t R_t  (QR, diag R_t > 0),   λ_k = (1/T) Σ_t log R_t[k, k]

(Benettin et al. 1980; the orthonormal columns of Q keep the directions from collapsing onto the
leading one). The largest exponent alone needs one vector: ``v_t = J_t v_{t-1} / ||·||``,
``λ_1 ≈ (1/t) Σ_u log ||J_u v_{u-1}||``. For a linear RNN ``s_t = W s_{t-1} + ...`` every J_t is
W and the exponents are ``log |eig(W)|``. ``λ_1 < 0``: perturbations die out (predictable;
DEER's iterations grow like log T); ``λ_1 > 0``: chaos (iterations grow like T)
(Gonzalez et al., 2025).

``jaxrnn.grad.diagnostics.step_jacobians`` computes the same Jacobians by a ``jacfwd`` inside the
scan for its spectra; here they come from ``jaxrnn.parallel.newton.linearize`` at the states of
the trajectory, the linearisation the parallel solvers use.

References: Benettin, Galgani, Giorgilli & Strelcyn, 1980, Meccanica 15; Gonzalez, Kozachkov,
Zoltowski, Clarkson & Linderman, 2025, "Predictability enables parallelization of nonlinear
state space models".
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxrnn.parallel.newton import flatten, linearize, make_step
from jaxrnn.unroll import carry_dtype, check_inputs, cast_carry


def trajectory_jacobians(cell, params, xs, carry0=None):
    """(T, S, S) step Jacobians along the sequential trajectory of one sequence.

    Args: cell, params: as ``unroll``; xs: (T, D) floats or (T,) ints, one sequence; carry0:
      (H,) (``LSTMCarry`` for the LSTM) or None for zeros.
    """
    T, batch_shape = check_inputs(cell, params, xs)
    if batch_shape:
        raise ValueError(f"trajectory_jacobians takes one sequence (T, D); got xs of shape "
                         f"{jnp.shape(xs)}: pass xs[:, b] for sequence b")
    xs = jnp.asarray(xs)
    dtype = carry_dtype(params, xs)
    carry0 = cell.init_carry(params, (), dtype) if carry0 is None else cast_carry(carry0, dtype)
    f, fused = make_step(cell), cell.fuse(params)
    pxs = jax.vmap(cell.project, (None, 0))(fused, xs)  # (T, G)

    def body(s, px):
        new = f(fused, s, px)
        return new, s

    s0 = flatten(cell, carry0)
    _, prev = lax.scan(body, s0, pxs)  # (T, S) the states entering each step
    return linearize(f, fused, prev, pxs)[1]


def lyapunov_spectrum(jacobians):
    """(S,) Lyapunov exponents (per step, natural log), largest first, by QR iteration.

    Args: jacobians: (T, S, S) ``J_t``. A direction that a Jacobian maps to zero exactly (a
      dead ReLU unit) has exponent -inf.
    """
    S = jacobians.shape[-1]

    def body(Q, J):
        Q, R = jnp.linalg.qr(J @ Q)
        return Q, jnp.log(jnp.abs(jnp.diagonal(R)))

    _, logs = lax.scan(body, jnp.eye(S, dtype=jacobians.dtype), jacobians)  # (T, S)
    return -jnp.sort(-jnp.mean(logs, axis=0))


def largest_lyapunov(jacobians):
    """The largest Lyapunov exponent by power iteration: ``(λ_1, running (T,))``, where
    ``running[t]`` is the estimate from the first t+1 steps (its curve shows convergence).

    Args: jacobians: (T, S, S). Starts from the unit vector ``(1, .., 1)/√S``.
    """
    S = jacobians.shape[-1]

    def body(v, J):
        w = J @ v
        n = jnp.linalg.norm(w)
        return w / n, jnp.log(n)

    v0 = jnp.full((S,), 1.0 / jnp.sqrt(S), jacobians.dtype)
    _, logs = lax.scan(body, v0, jacobians)  # (T,)
    running = jnp.cumsum(logs) / jnp.arange(1, logs.shape[0] + 1)
    return running[-1], running
