"""numpy float64 references for the character-model tests (written without jax).

- ``rnn_window``: min-char-rnn's forward pass and hand-derived BPTT over one window, for B
  independent streams (summed loss), with one-hot inputs.
- ``adagrad``: the hand-written AdaGrad step of min-char-rnn (eps inside the sqrt) and of the
  min-char seed (eps outside).
- ``lstm_step``, ``gru_step``, ``stack_logits``: a stacked one-hot/embedding model's logits.
"""
from __future__ import annotations

import numpy as np


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def rnn_window(p, xs, ys, h0):
    """Summed cross-entropy of a window and its gradient, min-char-rnn style.

    Args: p: W_xh (H, V), W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,); xs, ys (T, B) ints;
      h0 (B, H). Returns: (loss, grads dict, h_T (B, H)).
    """
    T, B = xs.shape
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    loss, h_last = 0.0, np.zeros_like(h0)
    for b in range(B):
        hs, ps = {-1: h0[b]}, {}
        for t in range(T):
            hs[t] = np.tanh(p["W_xh"][:, xs[t, b]] + p["W_hh"] @ hs[t - 1] + p["b_h"])
            ps[t] = softmax(p["W_hy"] @ hs[t] + p["b_y"])
            loss -= np.log(ps[t][ys[t, b]])
        dh_next = np.zeros_like(h0[b])
        for t in reversed(range(T)):
            dy = ps[t].copy()
            dy[ys[t, b]] -= 1.0
            grads["W_hy"] += np.outer(dy, hs[t])
            grads["b_y"] += dy
            dh = p["W_hy"].T @ dy + dh_next
            draw = (1.0 - hs[t] ** 2) * dh
            grads["b_h"] += draw
            grads["W_xh"][:, xs[t, b]] += draw
            grads["W_hh"] += np.outer(draw, hs[t - 1])
            dh_next = p["W_hh"].T @ draw
        h_last[b] = hs[T - 1]
    return loss, grads, h_last


def adagrad_updates(g, mem, lr, *, clip=5.0, eps=1e-8, eps_inside_sqrt=True):
    """AdaGrad updates of dicts (``mem`` updated in place): clip g to ±clip, ``mem += g²``,
    ``u = -lr g / sqrt(mem + eps)`` (inside) or ``-lr g / (sqrt(mem) + eps)`` (outside)."""
    out = {}
    for k in g:
        gk = np.clip(g[k], -clip, clip)
        mem[k] += gk * gk
        denom = np.sqrt(mem[k] + eps) if eps_inside_sqrt else np.sqrt(mem[k]) + eps
        out[k] = -lr * gk / denom
    return out


def adagrad(p, g, mem, lr, **kwargs):
    """In-place AdaGrad step on a dict of params."""
    for k, u in adagrad_updates(g, mem, lr, **kwargs).items():
        p[k] += u


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_step(p, h, c, x):
    """x: (D,) vector. Gates i, f, g, o; returns (h, c)."""
    def pre(g):
        return p[f"W_x{g}"] @ x + p[f"W_h{g}"] @ h + p[f"b_{g}"]
    i, f, o = sigmoid(pre("i")), sigmoid(pre("f")), sigmoid(pre("o"))
    c = f * c + i * np.tanh(pre("g"))
    return o * np.tanh(c), c


def gru_step(p, h, x):
    """Reset gate applied to (W_hn h + b_hn)."""
    r = sigmoid(p["W_xr"] @ x + p["W_hr"] @ h + p["b_r"])
    z = sigmoid(p["W_xz"] @ x + p["W_hz"] @ h + p["b_z"])
    n = np.tanh(p["W_xn"] @ x + p["b_xn"] + r * (p["W_hn"] @ h + p["b_hn"]))
    return (1 - z) * n + z * h


def stack_logits(params, ids, cell, V):
    """(T, V) logits of a stacked model on one sequence of ids, from zero states."""
    layers = params["layers"]
    H = layers[0]["W_hr" if cell == "gru" else "W_hi"].shape[0]
    hs = [np.zeros(H) for _ in layers]
    cs = [np.zeros(H) for _ in layers]
    out = []
    for c_id in ids:
        x = params["embed"][c_id] if "embed" in params else np.eye(V)[c_id]
        for i, p in enumerate(layers):
            if cell == "lstm":
                hs[i], cs[i] = lstm_step(p, hs[i], cs[i], x)
            else:
                hs[i] = gru_step(p, hs[i], x)
            x = hs[i]
        out.append(params["readout"]["W_hy"] @ x + params["readout"]["b_y"])
    return np.array(out)
