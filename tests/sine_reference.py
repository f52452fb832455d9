"""numpy float64 reference for the sine tests: a vanilla RNN's forward pass, its hand-derived
(truncated) BPTT, and per-sample SGD as a plain Python loop. Written independently of jaxrnn.

Model: ``a_t = W_xh x_t + W_hh h_{t-1} + b_h``, ``h_t = f(a_t)``, ``ŷ_t = W_hy h_t + b_y``.
Losses (times ``scale``): ``all_steps`` ``(1/T) Σ_t ||ŷ_t - y||²``; ``last`` ``||ŷ_T - y||²``;
``last_half_sum`` ``½ ||ŷ_T - y||²``. Truncation window k anchored at the end: the carry entering
step s (s > 0, (T - s) mod k = 0) passes no gradient back.
"""
import numpy as np

ACT = {"tanh": (np.tanh, lambda h: 1.0 - h * h),
       "sigmoid": (lambda a: 1.0 / (1.0 + np.exp(-a)), lambda h: h * (1.0 - h))}


def forward(p, xs, activation):
    """hs (T+1, H) with hs[0] = 0, and ŷ (T, O)."""
    f, _ = ACT[activation]
    H = p["W_hh"].shape[0]
    hs = [np.zeros(H)]
    for x in xs:
        hs.append(f(p["W_xh"] @ x + p["W_hh"] @ hs[-1] + p.get("b_h", 0.0)))
    hs = np.array(hs)
    ys = hs[1:] @ p["W_hy"].T + p.get("b_y", 0.0)
    return hs, ys


def loss(p, xs, y, activation, name, scale=1.0):
    _, ys = forward(p, xs, activation)
    if name == "all_steps":
        return scale * np.mean(np.sum((ys - y) ** 2, axis=-1))
    err = np.sum((ys[-1] - y) ** 2)
    return scale * (err if name == "last" else 0.5 * err)


def grads(p, xs, y, activation, name, scale=1.0, window=0):
    """Gradient of ``loss`` by hand-derived BPTT (truncated when ``window`` > 0)."""
    _, dact = ACT[activation]
    hs, ys = forward(p, xs, activation)
    T = len(xs)
    dy = np.zeros_like(ys)
    if name == "all_steps":
        dy = scale * (2.0 / T) * (ys - y)
    else:
        dy[-1] = scale * (2.0 if name == "last" else 1.0) * (ys[-1] - y)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dh_next = np.zeros(p["W_hh"].shape[0])
    for t in range(T - 1, -1, -1):
        h, h_prev = hs[t + 1], hs[t]
        dh = p["W_hy"].T @ dy[t] + dh_next
        da = dh * dact(h)
        g["W_hy"] += np.outer(dy[t], h)
        g["W_xh"] += np.outer(da, xs[t])
        g["W_hh"] += np.outer(da, h_prev)
        if "b_h" in g:
            g["b_h"] += da
            g["b_y"] += dy[t]
        cut = window and t > 0 and (T - t) % window == 0
        dh_next = np.zeros_like(dh) if cut else p["W_hh"].T @ da
    return g


def per_sample_sgd(p, X, Y, *, epochs, lr, activation, name, scale=1.0, window=0,
                   clip_value=None):
    """Plain per-sample SGD, samples in order, element-wise clipping: a Python loop."""
    p = {k: v.copy() for k, v in p.items()}
    for _ in range(epochs):
        for xs, y in zip(X, Y):
            g = grads(p, xs, y, activation, name, scale, window)
            for k in p:
                d = g[k] if clip_value is None else np.clip(g[k], -clip_value, clip_value)
                p[k] = p[k] - lr * d
    return p
