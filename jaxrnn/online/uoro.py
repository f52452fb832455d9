"""Stochastic rank-one estimators of the influence matrix: UORO (any cell), KF-RTRL (vanilla RNN).

UORO (Tallec & Ollivier 2017) keeps ``M_t ≈ s̃_t θ̃_tᵀ`` (S + P numbers) and, with a fresh
Rademacher vector ν_t (S,) each step::

    s̃_t = ρ₀ J_t s̃_{t-1} + ρ₁ ν_t,      θ̃_t = θ̃_{t-1} / ρ₀ + (ν_tᵀ I_t) / ρ₁
    ρ₀ = sqrt((|θ̃_{t-1}| + ε) / (|J_t s̃_{t-1}| + ε)),   ρ₁ = sqrt((|ν_tᵀ I_t| + ε) / (|ν_t| + ε))

``J s̃`` is one JVP and ``νᵀ I`` one VJP of a single step, so the cost per step is that of a step's
forward and backward pass, O(H²) for the vanilla RNN (memory O(P)). Unbiased: E[νν^T] = 1 and
ρ₀, ρ₁ are even in ν_t, so E[s̃_t θ̃_tᵀ | past] = J_t s̃_{t-1} θ̃_{t-1}ᵀ + I_t; the estimate is
``Σ_t (c_t · s̃_t) θ̃_t``, unbiased for the exact gradient.

KF-RTRL (Mujika, Meier & Steger 2018) uses the vanilla RNN's structure: with
``â_t = [h_{t-1}; x_t; 1]`` (K,) and W = [W_hh, W_xh, b_h] (H, K), ``∂h_t/∂W`` is
approximated in the Kronecker form ``M_t ≈ u_t ⊗ A_t`` (M[i, (j, k)] ≈ A[i, j] u[k]) with::

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
from jaxrnn.online.common import accumulate, one_hot_inputs, prepare, problem_shape, signal

EPS = 1e-7  # in ρ₀, ρ₁: keeps 0/0 (the first step) at ratio 1


def _norm(a):
    return jnp.sqrt(jnp.sum(a * a))


def _signs(key, shape, dtype):
    return jnp.where(jax.random.bernoulli(key, 0.5, shape), 1.0, -1.0).astype(dtype)


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_uoro_from_noise(cell, params, xs, targets, loss, carry0=None, *, noise, window=None,
                         anchor="start"):
    """UORO's estimate given the draws ``noise`` (B, T, S) (B = 1 when xs is unbatched)."""
    stream = prepare(cell, params, xs, targets, loss, carry0, window, anchor)
    fc = stream.fc

    def update(state, inp):
        s_tilde, th_tilde = state
        x, s, c_t, _, nu = inp
        Js = jax.jvp(lambda s: fc.step(fc.theta, s, x), (s,), (s_tilde,))[1]
        nuI = jax.vjp(lambda th: fc.step(th, s, x), fc.theta)[1](nu)[0]
        rho0 = jnp.sqrt((_norm(th_tilde) + EPS) / (_norm(Js) + EPS))
        rho1 = jnp.sqrt((_norm(nuI) + EPS) / (_norm(nu) + EPS))
        s_tilde, th_tilde = rho0 * Js + rho1 * nu, th_tilde / rho0 + nuI / rho1
        return (s_tilde, th_tilde), (c_t @ s_tilde) * th_tilde

    init = (jnp.zeros((fc.S,), fc.theta.dtype), jnp.zeros_like(fc.theta))
    g = accumulate(update, init, stream, signal(stream, stream.W_hy), noise)
    return {"cell": fc.unravel(g), "readout": stream.g_readout}


def grad_uoro(cell, params, xs, targets, loss, carry0=None, *, key, window=None,
              anchor="start"):
    """UORO (module docstring): an unbiased estimate of the gradient; ``key`` draws ν."""
    noise = _signs(key, problem_shape(cell, params, xs), jax.tree_util.tree_leaves(params)[0].dtype)
    return grad_uoro_from_noise(cell, params, xs, targets, loss, carry0, noise=noise,
                                window=window, anchor=anchor)


def require_rnn(cell, name):
    if cell.name != "rnn":
        raise ValueError(f"{name} is defined for the vanilla RNN only (its Kronecker/local form "
                         f"needs one weight matrix acting on [h; x; 1]); got cell {cell.name!r}. "
                         f"Use uoro, snap1 or rtrl_jac for gated cells")


def kron_inputs(p, stream):
    """(â (T, B, K) = [h_{t-1}; x_t; 1], a (T, B, H) pre-activations) of the vanilla RNN."""
    H = stream.fc.H
    x = one_hot_inputs(stream.xs, p["W_xh"].shape[1], stream.fc.theta.dtype)
    h = stream.s_prev[..., :H]
    parts = [h, x] + ([jnp.ones(h.shape[:2] + (1,), h.dtype)] if "b_h" in p else [])
    a = jnp.einsum("tbk,hk->tbh", x, p["W_xh"]) + jnp.einsum("tbk,hk->tbh", h, p["W_hh"])
    if "b_h" in p:
        a = a + p["b_h"][None, None, :]
    return jnp.concatenate(parts, -1), a


def split_kron(p, G):
    """A (H, K) gradient over W = [W_hh, W_xh, b_h] as the cell's params dict."""
    H, D = p["W_xh"].shape
    out = {"W_hh": G[:, :H], "W_xh": G[:, H:H + D]}
    if "b_h" in p:
        out["b_h"] = G[:, H + D]
    return {k: out[k] for k in p}


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_kfrtrl_from_noise(cell, params, xs, targets, loss, carry0=None, *, noise, window=None,
                           anchor="start"):
    """KF-RTRL's estimate given the signs ``noise`` (B, T, 2) (c₁, c₂ per step)."""
    require_rnn(cell, "KF-RTRL")
    stream = prepare(cell, params, xs, targets, loss, carry0, window, anchor)
    p = params["cell"]
    a_hat, a = kron_inputs(p, stream)
    slope = jax.vmap(jax.vmap(lambda a: jax.jvp(ACTIVATIONS[cell.activation], (a,),
                                                (jnp.ones_like(a),))[1]))(a)  # (T, B, H)

    def update(state, inp):
        u, A = state
        (a_hat_t, d), _, c_t, _, (c1, c2) = inp
        HA = d[:, None] * (p["W_hh"] @ A)
        rho0 = jnp.sqrt((_norm(HA) + EPS) / (_norm(u) + EPS))
        rho1 = jnp.sqrt((_norm(d) + EPS) / (_norm(a_hat_t) + EPS))
        u, A = c1 * rho0 * u + c2 * rho1 * a_hat_t, c1 * HA / rho0 + c2 * jnp.diag(d) / rho1
        return (u, A), jnp.outer(c_t @ A, u)

    H, K = stream.fc.H, a_hat.shape[-1]
    init = (jnp.zeros((K,), a_hat.dtype), jnp.zeros((H, H), a_hat.dtype))
    stream = stream._replace(xs=(a_hat, slope))
    G = accumulate(update, init, stream, signal(stream, stream.W_hy), (noise[..., 0],
                                                                        noise[..., 1]))
    return {"cell": split_kron(p, G), "readout": stream.g_readout}


def grad_kfrtrl(cell, params, xs, targets, loss, carry0=None, *, key, window=None,
                anchor="start"):
    """KF-RTRL (module docstring), vanilla RNN only; ``key`` draws the signs."""
    B, T, _ = problem_shape(cell, params, xs)
    noise = _signs(key, (B, T, 2), jax.tree_util.tree_leaves(params)[0].dtype)
    return grad_kfrtrl_from_noise(cell, params, xs, targets, loss, carry0, noise=noise,
                                  window=window, anchor=anchor)
