"""numpy float64 reference for truncated BPTT, independent of jaxrnn's jnp code (tests only).

A different algorithm from ``jaxrnn.grad.manual_bptt``'s single reverse sweep: one example at a
time, and for *each* loss term at step u a separate backward walk from u down to the first step
of u's truncation window, ``start(u)`` (O(T²), the textbook per-output form). ``start(u)`` is
computed directly: ``u - u mod k`` for windows anchored at the start, the largest ``t <= u``
with ``t ≡ T (mod k)`` for windows anchored at the end (0 if none, and 0 without a window).
"""
import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def window_start(u, T, window, anchor):
    """First step of the truncation window containing step u."""
    if window is None:
        return 0
    start = u - u % window if anchor == "start" else u - (u - T) % window
    return max(start, 0)


def rnn_step(p, h, x, act):
    a = p["W_xh"] @ x + p["W_hh"] @ h + p.get("b_h", 0.0)
    h_new = {"tanh": np.tanh, "sigmoid": sigmoid, "relu": lambda v: np.maximum(v, 0.0)}[act](a)
    return h_new, {"h_prev": h, "a": a, "h": h_new, "x": x}


def rnn_step_back(p, cache, dh, grads, act):
    h = cache["h"]
    slope = {"tanh": 1.0 - h ** 2, "sigmoid": h * (1.0 - h),
             "relu": (cache["a"] > 0).astype(float)}[act]
    da = slope * dh
    grads["W_xh"] += np.outer(da, cache["x"])
    grads["W_hh"] += np.outer(da, cache["h_prev"])
    if "b_h" in grads:
        grads["b_h"] += da
    return p["W_hh"].T @ da


def lstm_step(p, state, x):
    h, c = state
    a = {q: p[f"W_x{q}"] @ x + p[f"W_h{q}"] @ h + p[f"b_{q}"] for q in "ifgo"}
    i, f, o, g = sigmoid(a["i"]), sigmoid(a["f"]), sigmoid(a["o"]), np.tanh(a["g"])
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return (h_new, c_new), dict(h_prev=h, c_prev=c, x=x, i=i, f=f, o=o, g=g, c=c_new)


def lstm_step_back(p, k, dstate, grads):
    dh, dc = dstate
    tc = np.tanh(k["c"])
    dc = dc + dh * k["o"] * (1.0 - tc ** 2)
    da = {"o": dh * tc * k["o"] * (1 - k["o"]), "i": dc * k["g"] * k["i"] * (1 - k["i"]),
          "f": dc * k["c_prev"] * k["f"] * (1 - k["f"]), "g": dc * k["i"] * (1 - k["g"] ** 2)}
    dh_prev = np.zeros_like(dh)
    for q in "ifgo":
        grads[f"W_x{q}"] += np.outer(da[q], k["x"])
        grads[f"W_h{q}"] += np.outer(da[q], k["h_prev"])
        grads[f"b_{q}"] += da[q]
        dh_prev += p[f"W_h{q}"].T @ da[q]
    return dh_prev, dc * k["f"]


def gru_step(p, h, x):
    r = sigmoid(p["W_xr"] @ x + p["W_hr"] @ h + p["b_r"])
    z = sigmoid(p["W_xz"] @ x + p["W_hz"] @ h + p["b_z"])
    m = p["W_hn"] @ h + p["b_hn"]
    n = np.tanh(p["W_xn"] @ x + p["b_xn"] + r * m)
    return (1 - z) * n + z * h, dict(h_prev=h, x=x, r=r, z=z, m=m, n=n)


def gru_step_back(p, k, dh, grads):
    dz_pre = dh * (k["h_prev"] - k["n"]) * k["z"] * (1 - k["z"])
    dn_pre = dh * (1 - k["z"]) * (1 - k["n"] ** 2)
    dr_pre = dn_pre * k["m"] * k["r"] * (1 - k["r"])
    dm = dn_pre * k["r"]
    for q, d in (("r", dr_pre), ("z", dz_pre)):
        grads[f"W_x{q}"] += np.outer(d, k["x"])
        grads[f"W_h{q}"] += np.outer(d, k["h_prev"])
        grads[f"b_{q}"] += d
    grads["W_xn"] += np.outer(dn_pre, k["x"])
    grads["b_xn"] += dn_pre
    grads["W_hn"] += np.outer(dm, k["h_prev"])
    grads["b_hn"] += dm
    return (dh * k["z"] + p["W_hr"].T @ dr_pre + p["W_hz"].T @ dz_pre + p["W_hn"].T @ dm)


def loss_terms(loss, preds, targets):
    """(value, dL/dpreds) for preds (T, B, O); targets (B, O) or int labels (T, B)."""
    T, B, _ = preds.shape
    d = np.zeros_like(preds)
    if loss in ("last", "last_half_sum"):
        scale = 1.0 / B if loss == "last" else 0.5
        err = preds[-1] - targets
        d[-1] = 2 * scale * err
        return scale * np.sum(err ** 2), d
    if loss == "all_steps":
        err = preds - targets[None]
        return np.sum(err ** 2) / (T * B), 2 * err / (T * B)
    value = 0.0
    for t in range(T):
        for b in range(B):
            z = preds[t, b] - preds[t, b].max()
            p = np.exp(z) / np.exp(z).sum()
            value -= np.log(p[targets[t, b]])
            d[t, b] = p
            d[t, b, targets[t, b]] -= 1.0
    n = T * B if loss == "xent_mean" else 1
    return value / n, d / n


def reference_bptt(cell, activation, params, xs, targets, loss, carry0=None, window=None,
                   anchor="start"):
    """(loss, grads) in float64 for ``jaxrnn.model.sequence_loss``'s model; batched or not.

    carry0: None (zeros), an (H,)/(B, H) array, or an (h, c) pair for the LSTM.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params["cell"].items()}
    r = {k: np.asarray(v, np.float64) for k, v in params["readout"].items()}
    xs, targets = np.asarray(xs), np.asarray(targets)
    is_index = np.issubdtype(xs.dtype, np.integer)
    batched = xs.ndim == (2 if is_index else 3)
    if not batched:
        xs = xs[:, None]
        targets = targets[None] if loss in ("last", "last_half_sum", "all_steps") else \
            targets[:, None]
    H = (p.get("W_hh") if cell == "rnn" else p["W_hi" if cell == "lstm" else "W_hr"]).shape[0]
    D = (p["W_xh"] if cell == "rnn" else p["W_xi" if cell == "lstm" else "W_xr"]).shape[1]
    T, B = xs.shape[:2]
    if is_index:
        xs = np.eye(D)[xs]
    c0 = [np.zeros((B, H))] * (2 if cell == "lstm" else 1) if carry0 is None else \
        [np.asarray(c, np.float64).reshape(B, H) for c in
         (carry0 if cell == "lstm" else [carry0])]
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    g_r = {k: np.zeros_like(v) for k, v in r.items()}
    hs, caches = np.zeros((T, B, H)), [[None] * B for _ in range(T)]
    for b in range(B):
        state = tuple(c[b] for c in c0) if cell == "lstm" else c0[0][b]
        for t in range(T):
            if cell == "rnn":
                state, caches[t][b] = rnn_step(p, state, xs[t, b], activation)
            elif cell == "lstm":
                state, caches[t][b] = lstm_step(p, state, xs[t, b])
            else:
                state, caches[t][b] = gru_step(p, state, xs[t, b])
            hs[t, b] = state[0] if cell == "lstm" else state
    preds = np.einsum("oh,tbh->tbo", r["W_hy"], hs) + r.get("b_y", 0.0)
    value, dpreds = loss_terms(loss, preds, targets)
    for b in range(B):
        for u in range(T):
            if not np.any(dpreds[u, b]):
                continue
            g_r["W_hy"] += np.outer(dpreds[u, b], hs[u, b])
            if "b_y" in g_r:
                g_r["b_y"] += dpreds[u, b]
            dh, dc = r["W_hy"].T @ dpreds[u, b], np.zeros(H)
            for t in range(u, window_start(u, T, window, anchor) - 1, -1):
                if cell == "rnn":
                    dh = rnn_step_back(p, caches[t][b], dh, grads, activation)
                elif cell == "lstm":
                    dh, dc = lstm_step_back(p, caches[t][b], (dh, dc), grads)
                else:
                    dh = gru_step_back(p, caches[t][b], dh, grads)
    return value, {"cell": grads, "readout": g_r}
