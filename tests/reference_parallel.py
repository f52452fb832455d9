"""Independent numpy float64 references for ``jaxrnn.parallel``: written from the equations.

- ``linear_loop``: ``s_t = A_t s_{t-1} + b_t`` by a Python loop;
- ``damped_newton_dense``: ELK's damped Newton step as one dense least-squares solve over the
  whole trajectory (no Kalman filter);
- ``rnn_jacobians``: a tanh RNN's step Jacobians ``diag(1 - h_t²) W_hh`` from a numpy unroll;
- ``qr_lyapunov``: the Lyapunov spectrum by numpy QR iteration.
"""
import numpy as np


def linear_loop(A, b, s0):
    """(T, S) states; A (T, S, S) or (T, S) diagonal, b (T, S), s0 (S,)."""
    s, out = np.asarray(s0, np.float64), []
    for A_t, b_t in zip(np.asarray(A, np.float64), np.asarray(b, np.float64)):
        s = (A_t * s if A_t.ndim == 1 else A_t @ s) + b_t
        out.append(s)
    return np.stack(out)


def damped_newton_dense(A, b, s0, observed, damping):
    """argmin over s_1..s_T of Σ||s_t - A_t s_{t-1} - b_t||² + λ Σ||s_t - observed_t||²."""
    A, b, observed = (np.asarray(a, np.float64) for a in (A, b, observed))
    T, S = b.shape
    D = np.eye(T * S)  # the residual map s -> (s_t - A_t s_{t-1})_t, as a matrix
    for t in range(1, T):
        D[t * S:(t + 1) * S, (t - 1) * S:t * S] = -A[t]
    rhs = b.copy()
    rhs[0] += A[0] @ np.asarray(s0, np.float64)
    M = np.vstack([D, np.sqrt(damping) * np.eye(T * S)])
    y = np.concatenate([rhs.ravel(), np.sqrt(damping) * observed.ravel()])
    return np.linalg.lstsq(M, y, rcond=None)[0].reshape(T, S)


def rnn_jacobians(p, xs, h0):
    """(T, H, H) ``diag(1 - h_t²) W_hh`` along a tanh RNN's numpy unroll of xs (T, D)."""
    h, out = np.asarray(h0, np.float64), []
    for x in np.asarray(xs, np.float64):
        h = np.tanh(p["W_xh"] @ x + p["W_hh"] @ h + p["b_h"])
        out.append((1.0 - h ** 2)[:, None] * p["W_hh"])
    return np.stack(out)


def qr_lyapunov(jacobians):
    """(S,) exponents, largest first: mean log|diag R| of the QR iteration Q_t R_t = J_t Q_{t-1}."""
    Q = np.eye(jacobians.shape[-1])
    total = np.zeros(jacobians.shape[-1])
    for J in jacobians:
        Q, R = np.linalg.qr(J @ Q)
        total += np.log(np.abs(np.diag(R)))
    return np.sort(total / len(jacobians))[::-1]
