"""Stochastic rank-one estimators of the influence matrix: UORO (any cell), KF-RTRL (vanilla RNN).

UORO (Tallec & Ollivier 2017) keeps ``M_t ≈ s̃_t θ̃_tᵀ`` (S + P numbers) and, with a fresh
Rademacher vector ν_t (S,) each step::

    s̃_t = ρ₀ J_t s̃_{t-1} + ρ₁ ν_t,      θ̃_t = θ̃_{t-1} / ρ₀ + (ν_tᵀ I_t) / ρ₁
    ρ₀ = sqrt((|θ̃_{t-1}| + ε) / (|J_t s̃_{t-1}| + ε)),   ρ₁ = sqrt((|ν_tᵀ I_t| + ε) / (|ν_t| + ε))

``J s̃`` is one JVP and ``νᵀ I`` one VJP of a single step, so the cost per step is that of a step's
forward and backward pass, O(H²) for the vanilla RNN (memory O(P)). Unbiased: E[ννᵀ] = 1 and
ρ₀, ρ₁ are even in ν_t, so E[s̃_t θ̃_tᵀ | past] = J_t s̃_{t-1} θ̃_{t-1}ᵀ + I_t; the estimate is
``Σ_t (c_t · s̃_t) θ̃_t``, unbiased for the exact gradient.

KF-RTRL (Mujika, Meier & Steger 2018) uses the vanilla RNN's structure: with
``â_t = [h_{t-1}; x_t; 1]`` (K,) and W = [W_hh, W_xh, b_h] (H, K), ``∂h_t/∂W`` is approximated
in the Kronecker form ``M_t ≈ u_t ⊗ A_t`` (M[i, (j, k)] ≈ A[i, j] u[k]) with::

    D_t = diag(φ'(a_t)),  u_t = c₁ ρ₀ u_{t-1} + c₂ ρ₁ â_t,  A_t = c₁ D_t W_hh A_{t-1} / ρ₀ + c₂ D_t / ρ₁
    ρ₀ = sqrt((|D W_hh A| + ε) / (|u| + ε)),   ρ₁ = sqrt((|D| + ε) / (|â| + ε))

c₁, c₂ independent random signs: unbiased, memory H² + K, time O(H³) per step (the product
D W_hh A). The estimate of dL/dW[j, k] is ``Σ_t (c_tᵀ A_t)_j u_t[k]``. Only the vanilla RNN has
this Kronecker form (gated cells have several weight matrices acting through gates).

Noise: ``key`` draws ν (B, T, S) or (c₁, c₂) (B, T, 2); ``*_from_noise`` take the draws, which
is how the tests compare with a numpy reference on the same draws.

References: Tallec & Ollivier, "Unbiased online recurrent optimization", ICLR 2018
(arXiv:1702.05043); Mujika, Meier & Steger, "Approximating real-time recurrent learning with
random Kronecker factors", NeurIPS 2018.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxrnn.cells import ACTIVATIONS
from jaxrnn.online.common import Rule, draw_noise, estimate, problem_shape

EPS = 1e-7  # in ρ₀, ρ₁: keeps 0/0 (the first step) at ratio 1


def _norm(a):
    return jnp.sqrt(jnp.sum(a * a))


def _uoro_init(fc, p):
    return jnp.zeros((fc.S,), fc.theta.dtype), jnp.zeros_like(fc.theta)


def _uoro_update(fc, p, state, x, s, c, nu):
    s_tilde, th_tilde = state
    theta = fc.theta
    Js = jax.jvp(lambda s: fc.step(theta, s, x), (s,), (s_tilde,))[1]  # J s̃ (S,)
    nuI = jax.vjp(lambda th: fc.step(th, s, x), theta)[1](nu)[0]  # νᵀ I (P,)
    rho0 = jnp.sqrt((_norm(th_tilde) + EPS) / (_norm(Js) + EPS))
    rho1 = jnp.sqrt((_norm(nuI) + EPS) / (_norm(nu) + EPS))
    s_tilde, th_tilde = rho0 * Js + rho1 * nu, th_tilde / rho0 + nuI / rho1
    return (s_tilde, th_tilde), fc.unravel((c @ s_tilde) * th_tilde)


UORO = Rule(_uoro_init, _uoro_update, lambda S: (S,))


def require_rnn(cell, name):
    if cell.name != "rnn":
        raise ValueError(f"{name} is defined for the vanilla RNN only (its Kronecker/local form "
                         f"needs one weight matrix acting on [h; x; 1]); got cell {cell.name!r}. "
                         f"Use uoro, snap1 or rtrl_jac for gated cells")


def rnn_local(p, activation, x, h):
    """(â = [h; x; 1] (K,), φ'(a) (H,)) of one vanilla-RNN step (x (D,) float or int)."""
    dtype = p["W_hh"].dtype
    if jnp.issubdtype(jnp.asarray(x).dtype, jnp.integer):
        x = jax.nn.one_hot(x, p["W_xh"].shape[1], dtype=dtype)
    a = p["W_xh"] @ x + p["W_hh"] @ h
    parts = [h, x]
    if "b_h" in p:
        a, parts = a + p["b_h"], parts + [jnp.ones((1,), dtype)]
    slope = jax.jvp(ACTIVATIONS[activation], (a,), (jnp.ones_like(a),))[1]
    return jnp.concatenate(parts), slope


def split_kron(p, G):
    """A (H, K) gradient over W = [W_hh, W_xh, b_h] as the cell's params dict."""
    H, D = p["W_xh"].shape
    out = {"W_hh": G[:, :H], "W_xh": G[:, H:H + D]}
    if "b_h" in p:
        out["b_h"] = G[:, H + D]
    return {k: out[k] for k in p}


def kfrtrl_rule(activation: str) -> Rule:
    """KF-RTRL (module docstring) as a ``Rule`` for the vanilla RNN with ``activation``."""
    def init(fc, p):
        K = sum(p[k].shape[-1] if k != "b_h" else 1 for k in ("W_hh", "W_xh", "b_h") if k in p)
        return jnp.zeros((K,), fc.theta.dtype), jnp.zeros((fc.H, fc.H), fc.theta.dtype)

    def update(fc, p, state, x, s, c, signs):
        u, A = state
        a_hat, d = rnn_local(p, activation, x, s)
        HA = d[:, None] * (p["W_hh"] @ A)
        rho0 = jnp.sqrt((_norm(HA) + EPS) / (_norm(u) + EPS))
        rho1 = jnp.sqrt((_norm(d) + EPS) / (_norm(a_hat) + EPS))
        c1, c2 = signs[0], signs[1]
        u, A = c1 * rho0 * u + c2 * rho1 * a_hat, c1 * HA / rho0 + c2 * jnp.diag(d) / rho1
        return (u, A), split_kron(p, jnp.outer(c @ A, u))

    return Rule(init, update, lambda S: (2,))


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_uoro_from_noise(cell, params, xs, targets, loss, carry0=None, *, noise, window=None,
                         anchor="start"):
    """UORO's estimate given the draws ``noise`` (B, T, S) (B = 1 when xs is unbatched)."""
    return estimate(UORO, cell, params, xs, targets, loss, carry0, window, anchor, noise)


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_kfrtrl_from_noise(cell, params, xs, targets, loss, carry0=None, *, noise, window=None,
                           anchor="start"):
    """KF-RTRL's estimate given the signs ``noise`` (B, T, 2) (c₁, c₂ per step)."""
    require_rnn(cell, "KF-RTRL")
    return estimate(kfrtrl_rule(cell.activation), cell, params, xs, targets, loss, carry0,
                    window, anchor, noise)


def _noise(rule, key, cell, params, xs):
    B, T, S = problem_shape(cell, params, xs)
    return draw_noise(rule, key, B, T, S, jax.tree_util.tree_leaves(params)[0].dtype)


def grad_uoro(cell, params, xs, targets, loss, carry0=None, *, key, window=None,
              anchor="start"):
    """UORO (module docstring): an unbiased estimate of the gradient; ``key`` draws ν."""
    return grad_uoro_from_noise(cell, params, xs, targets, loss, carry0,
                                noise=_noise(UORO, key, cell, params, xs), window=window,
                                anchor=anchor)


def grad_kfrtrl(cell, params, xs, targets, loss, carry0=None, *, key, window=None,
                anchor="start"):
    """KF-RTRL (module docstring), vanilla RNN only; ``key`` draws the signs."""
    require_rnn(cell, "KF-RTRL")
    noise = _noise(kfrtrl_rule(cell.activation), key, cell, params, xs)
    return grad_kfrtrl_from_noise(cell, params, xs, targets, loss, carry0, noise=noise,
                                  window=window, anchor=anchor)
