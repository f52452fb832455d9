"""Independent numpy float64 online estimators for the vanilla tanh RNN, used only by tests.

Written from the papers' equations in the matrix form W = [W_hh, W_xh, b_h] (H, K) acting on
â_t = [h_{t-1}; x_t; 1], with explicit loops; nothing is shared with jaxrnn.online (which
works on flat params with JVPs/VJPs/jacfwd of a step). One unbatched sequence, the
``all_steps`` loss L = (1/T) Σ_t ||W_hy h_t + b_y - y||², so δ_t = 2 (ŷ_t - y) / T.
"""
import numpy as np


def forward(p, xs, y):
    """(â (T, K), φ' (T, H), c (T, H) = W_hyᵀ δ_t, δ (T, O), hs (T, H))."""
    H = p["W_hh"].shape[0]
    h = np.zeros(H)
    a_hats, slopes, deltas, hs = [], [], [], []
    for x in xs:
        a_hat = np.concatenate([h, x, [1.0]])
        h = np.tanh(p["W_hh"] @ h + p["W_xh"] @ x + p["b_h"])
        a_hats.append(a_hat)
        slopes.append(1.0 - h ** 2)
        deltas.append(2.0 * (p["W_hy"] @ h + p["b_y"] - y) / len(xs))
        hs.append(h)
    deltas = np.array(deltas)
    return np.array(a_hats), np.array(slopes), deltas @ p["W_hy"], deltas, np.array(hs)


def split(p, G):
    H, D = p["W_xh"].shape
    return {"W_hh": G[:, :H], "W_xh": G[:, H:H + D], "b_h": G[:, H + D]}


def rtrl(p, xs, y):
    """Exact RTRL: M[i, j, k] = dh_i / dW[j, k], M_t = φ'_i (Σ_l W_hh[i, l] M_{t-1}[l] + [i=j] â_k)."""
    a_hats, slopes, c, _, _ = forward(p, xs, y)
    H, K = p["W_hh"].shape[0], a_hats.shape[1]
    M, G = np.zeros((H, H, K)), np.zeros((H, K))
    for t in range(len(xs)):
        new = np.einsum("il,ljk->ijk", p["W_hh"], M)
        for i in range(H):
            new[i, i, :] += a_hats[t]
        M = slopes[t][:, None, None] * new
        G += np.einsum("i,ijk->jk", c[t], M)
    return split(p, G)


def snap1(p, xs, y):
    """SnAp-1: m[j, k] ≈ dh_j / dW[j, k] with only the unit's own recurrence W_hh[j, j]."""
    a_hats, slopes, c, _, _ = forward(p, xs, y)
    m, G = np.zeros((p["W_hh"].shape[0], a_hats.shape[1])), 0.0
    for t in range(len(xs)):
        m = slopes[t][:, None] * (np.diag(p["W_hh"])[:, None] * m + a_hats[t][None, :])
        G = G + c[t][:, None] * m
    return split(p, G)


def balance(a, b, eps):
    """UORO's and KF-RTRL's variance-minimising factor sqrt((|a| + eps) / (|b| + eps))."""
    return np.sqrt((np.linalg.norm(a) + eps) / (np.linalg.norm(b) + eps))


def uoro(p, xs, y, nus, eps=1e-7):
    """UORO with given Rademacher draws nus (T, H): M ≈ s̃ θ̃ᵀ, θ̃ as an (H, K) matrix."""
    a_hats, slopes, c, _, _ = forward(p, xs, y)
    H, K = p["W_hh"].shape[0], a_hats.shape[1]
    s, th, G = np.zeros(H), np.zeros((H, K)), np.zeros((H, K))
    for t in range(len(xs)):
        Js = slopes[t] * (p["W_hh"] @ s)
        nuI = np.outer(nus[t] * slopes[t], a_hats[t])
        rho0 = balance(th, Js, eps)
        rho1 = balance(nuI, nus[t], eps)
        s, th = rho0 * Js + rho1 * nus[t], th / rho0 + nuI / rho1
        G += (c[t] @ s) * th
    return split(p, G)


def kfrtrl(p, xs, y, signs, eps=1e-7):
    """KF-RTRL with given signs (T, 2): M[i, (j, k)] ≈ A[i, j] u[k]."""
    a_hats, slopes, c, _, _ = forward(p, xs, y)
    H, K = p["W_hh"].shape[0], a_hats.shape[1]
    u, A, G = np.zeros(K), np.zeros((H, H)), np.zeros((H, K))
    for t in range(len(xs)):
        HA = np.diag(slopes[t]) @ p["W_hh"] @ A
        rho0 = balance(HA, u, eps)
        rho1 = balance(slopes[t], a_hats[t], eps)
        c1, c2 = signs[t]
        u, A = c1 * rho0 * u + c2 * rho1 * a_hats[t], c1 * HA / rho0 + c2 * np.diag(slopes[t]) / rho1
        G += np.outer(c[t] @ A, u)
    return split(p, G)


def rflo(p, xs, y, B, alpha):
    """Murray 2019: p_jk ← (1 - α) p_jk + α φ'(a_j) â_k;  ΔW_jk = Σ_t (B δ_t)_j p_jk (B (H, O))."""
    a_hats, slopes, _, deltas, _ = forward(p, xs, y)
    trace, G = np.zeros((p["W_hh"].shape[0], a_hats.shape[1])), 0.0
    for t in range(len(xs)):
        trace = (1 - alpha) * trace + alpha * slopes[t][:, None] * a_hats[t][None, :]
        G = G + (B @ deltas[t])[:, None] * trace
    return split(p, G)


def readout_grads(p, xs, y):
    """The readout's exact gradient: dW_hy = Σ_t δ_t h_tᵀ, db_y = Σ_t δ_t."""
    _, _, _, deltas, hs = forward(p, xs, y)
    return {"W_hy": deltas.T @ hs, "b_y": deltas.sum(0)}
