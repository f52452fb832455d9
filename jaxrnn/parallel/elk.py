"""ELK's damped Newton step as a Kalman smoother (Gonzalez et al., 2024).

One Levenberg-Marquardt step of the DEER system minimises, over the whole trajectory,

    Σ_t ||s_t - A_t s_{t-1} - b_t||²  +  λ Σ_t ||s_t - s^(i)_t||²,      s_0 fixed,

the linearised residuals (``A_t = J_t``, ``b_t = f_t - J_t s^(i)_{t-1}``, as DEER) plus a trust
region around the current iterate ``s^(i)``. That is the posterior mean of a linear-Gaussian
state-space model: dynamics ``s_t = A_t s_{t-1} + b_t + w_t``, ``w_t ~ N(0, I)``, observations
``s^(i)_t = s_t + v_t``, ``v_t ~ N(0, I/λ)``. A Kalman filter and a Rauch-Tung-Striebel smoother
give it exactly. λ = 0 is DEER's undamped Newton step; larger λ makes smaller, stabler steps.

Here the filter and smoother are sequential ``lax.scan``s (O(T S³) work, depth T): exact, but not
the parallel-in-time Kalman smoother (Särkkä & García-Fernández, 2021) of the paper's code.

References: Gonzalez, Warrington, Smith & Linderman, 2024, "Towards scalable and stable
parallelization of nonlinear RNNs" (NeurIPS), §4; Rauch, Tung & Striebel, 1965.
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax


def kalman_step(A, b, s0, observed, damping):
    """The smoothed means: the damped Newton update of ELK (module docstring).

    Args: A: (T, S, S) Jacobians; b: (T, S) offsets; s0: (S,); observed: (T, S) the current
      iterate ``s^(i)``; damping: λ > 0 (observation precision).
    Returns: (T, S) the new iterate.
    """
    S = s0.shape[0]
    eye = jnp.eye(S, dtype=s0.dtype)
    R = eye / damping

    def filter_step(carry, inputs):
        m, P = carry
        A_t, b_t, y_t = inputs
        m_pred, P_pred = A_t @ m + b_t, A_t @ P @ A_t.T + eye  # (S,), (S, S)
        K = jnp.linalg.solve(P_pred + R, P_pred).T  # P_pred (P_pred + R)^-1, both symmetric
        m_f = m_pred + K @ (y_t - m_pred)
        P_f = P_pred - K @ P_pred
        return (m_f, P_f), (m_f, P_f, m_pred, P_pred)

    P0 = jnp.zeros((S, S), s0.dtype)
    _, (ms, Ps, m_preds, P_preds) = lax.scan(filter_step, (s0, P0), (A, b, observed))

    def smooth_step(m_next, inputs):
        m_f, P_f, A_next, m_pred_next, P_pred_next = inputs
        G = jnp.linalg.solve(P_pred_next, A_next @ P_f).T  # P_f A_nextᵀ P_pred_next^-1
        m_s = m_f + G @ (m_next - m_pred_next)
        return m_s, m_s

    _, ms_s = lax.scan(smooth_step, ms[-1],
                       (ms[:-1], Ps[:-1], A[1:], m_preds[1:], P_preds[1:]), reverse=True)
    return jnp.concatenate([ms_s, ms[-1:]])
