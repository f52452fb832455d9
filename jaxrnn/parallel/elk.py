"""ELK's damped Newton step as a parallel-in-time Kalman smoother (Gonzalez et al., 2024).

One Levenberg-Marquardt step of the DEER system minimises, over the whole trajectory,

    Σ_t ||s_t - A_t s_{t-1} - b_t||²  +  λ Σ_t ||s_t - s^(i)_t||²,      s_0 fixed,

the linearised residuals (``A_t = J_t``, ``b_t = f_t - J_t s^(i)_{t-1}``, as DEER) plus a trust
region around the current iterate ``s^(i)``. That is the posterior mean of a linear-Gaussian
state-space model: dynamics ``s_t = A_t s_{t-1} + b_t + w_t``, ``w_t ~ N(0, I)``, observations
``y_t = s^(i)_t = s_t + v_t``, ``v_t ~ N(0, I/λ)``. A Kalman filter and a Rauch-Tung-Striebel
smoother give it exactly. λ = 0 is DEER's undamped Newton step; larger λ makes smaller, stabler
steps. Folding the known s_0 into step 1 (``b_1 ← A_1 s_0 + b_1``, ``A_1 ← 0``) makes every step
alike.

Both passes are ``lax.associative_scan``s (Särkkä & García-Fernández, 2021): O(T S³) work, depth
O(log T). With H = Q = I and R = I/λ the gain is the scalar ``k = λ/(1+λ)``, and step t's
filtering element ``(F, c, C, η, J)`` (the paper's (A, b, C, η, J), renamed to keep A, b for the
dynamics) is

    F_t = (1-k) A_t,  c_t = (1-k) b_t + k y_t,  C_t = (1-k) I,
    η_t = k A_tᵀ (y_t - b_t),  J_t = k A_tᵀ A_t,

combined by ``_filter_combine``; the prefix combination's ``(c, C)`` is the filtered mean and
covariance ``(m_t, P_t)``. Step t's smoothing element, with ``P⁻_{t+1} = A_{t+1} P_t A_{t+1}ᵀ + I``,
is ``E_t = P_t A_{t+1}ᵀ (P⁻_{t+1})⁻¹``, ``g_t = m_t - E_t (A_{t+1} m_t + b_{t+1})`` (``E_T = 0``,
``g_T = m_T``), combined from the end by ``_smooth_combine``; the suffix combination's ``g`` is
the smoothed mean. (The smoothed covariances are not needed and not formed.)

References: Gonzalez, Warrington, Smith & Linderman, 2024, "Towards scalable and stable
parallelization of nonlinear RNNs" (NeurIPS), §4; Särkkä & García-Fernández, 2021, "Temporal
parallelization of Bayesian smoothers" (IEEE TAC), Lemmas 7-10; Rauch, Tung & Striebel, 1965.
"""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax


def _mv(M, v):
    """Batched matrix @ vector: (..., S, S), (..., S) -> (..., S)."""
    return jnp.einsum("...ij,...j->...i", M, v)


def _mT(M):
    return jnp.swapaxes(M, -1, -2)


def _filter_combine(earlier, later):
    """Filtering elements ``(F, c, C, η, J)`` of steps i < j combined (Särkkä & García-Fernández,
    Lemma 8); every leaf has a leading batch axis from ``associative_scan``."""
    F_i, c_i, C_i, eta_i, J_i = earlier
    F_j, c_j, C_j, eta_j, J_j = later
    eye = jnp.eye(F_i.shape[-1], dtype=F_i.dtype)
    # (I + C_i J_j)⁻¹; (I + J_j C_i)⁻¹ is its transpose (C, J symmetric). C_i J_j has
    # eigenvalues ≥ 0 (C, J positive semi-definite), so the matrix inverted has all ≥ 1.
    Minv = jnp.linalg.inv(eye[None] + C_i @ J_j)  # (n, S, S)
    FjMinv = F_j @ Minv
    FiTMinvT = _mT(F_i) @ _mT(Minv)
    F = FjMinv @ F_i
    c = _mv(FjMinv, c_i + _mv(C_i, eta_j)) + c_j
    C = FjMinv @ C_i @ _mT(F_j) + C_j
    eta = _mv(FiTMinvT, eta_j - _mv(J_j, c_i)) + eta_i
    J = FiTMinvT @ J_j @ F_i + J_i
    return F, c, C, eta, J


def _smooth_combine(later, earlier):
    """Smoothing elements ``(E, g)`` combined from the end: s_i = E_i s_j + g_i composed with
    s_j = E_j s_k + g_j (Lemma 10, means only)."""
    E_j, g_j = later
    E_i, g_i = earlier
    return E_i @ E_j, _mv(E_i, g_j) + g_i


def kalman_step(A, b, s0, observed, damping):
    """The smoothed means: the damped Newton update of ELK (module docstring).

    Args: A: (T, S, S) Jacobians; b: (T, S) offsets; s0: (S,); observed: (T, S) the current
      iterate ``s^(i)``; damping: λ > 0 (observation precision).
    Returns: (T, S) the new iterate.
    """
    T, S = b.shape
    eye = jnp.eye(S, dtype=b.dtype)
    k = damping / (1.0 + damping)
    A1 = jnp.concatenate([jnp.zeros_like(A[:1]), A[1:]])  # s_0 folded into b_1
    b1 = b.at[0].add(A[0] @ s0)
    elems = ((1 - k) * A1, (1 - k) * b1 + k * observed,
             jnp.broadcast_to((1 - k) * eye, (T, S, S)),
             k * _mv(_mT(A1), observed - b1), k * _mT(A1) @ A1)
    _, m, P, _, _ = lax.associative_scan(_filter_combine, elems)  # (T, S), (T, S, S)
    A_next, b_next = A[1:], b[1:]
    P_pred = A_next @ P[:-1] @ _mT(A_next) + eye[None]  # (T-1, S, S)
    E = _mT(jnp.linalg.solve(P_pred, A_next @ P[:-1]))  # P_t A_{t+1}ᵀ (P⁻_{t+1})⁻¹
    g = m[:-1] - _mv(E, _mv(A_next, m[:-1]) + b_next)
    E = jnp.concatenate([E, jnp.zeros((1, S, S), E.dtype)])
    g = jnp.concatenate([g, m[-1:]])
    _, smoothed = lax.associative_scan(_smooth_combine, (E, g), reverse=True)
    return smoothed
