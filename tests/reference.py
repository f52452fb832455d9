"""Independent numpy float64 re-implementations, used only by tests.

Written from the equations, not from jaxrnn's code: separate gate matrices (no fusion), plain
Python loops over time and batch.
"""
import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


ACT = {"tanh": np.tanh, "sigmoid": sigmoid, "relu": lambda a: np.maximum(a, 0.0)}


def to_np(params):
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


def rnn_step(p, h, x, activation="tanh"):
    a = p["W_xh"] @ x + p["W_hh"] @ h + p.get("b_h", 0.0)
    h = ACT[activation](a)
    return h, h


def lstm_step(p, carry, x):
    h, c = carry
    pre = {g: p[f"W_x{g}"] @ x + p[f"W_h{g}"] @ h + p[f"b_{g}"] for g in "ifgo"}
    c = sigmoid(pre["f"]) * c + sigmoid(pre["i"]) * np.tanh(pre["g"])
    h = sigmoid(pre["o"]) * np.tanh(c)
    return (h, c), h


def gru_step(p, h, x):
    r = sigmoid(p["W_xr"] @ x + p["W_hr"] @ h + p["b_r"])
    z = sigmoid(p["W_xz"] @ x + p["W_hz"] @ h + p["b_z"])
    n = np.tanh(p["W_xn"] @ x + p["b_xn"] + r * (p["W_hn"] @ h + p["b_hn"]))
    h = (1.0 - z) * n + z * h
    return h, h


def step_fn(cell, activation="tanh"):
    if cell == "rnn":
        return lambda p, h, x: rnn_step(p, h, x, activation)
    return {"lstm": lstm_step, "gru": gru_step}[cell]


def zero_carry(cell, H):
    z = np.zeros(H)
    return (z, z.copy()) if cell == "lstm" else z


def unroll_one(step, p, xs, carry0, *, reverse=False, length=None, resets=None):
    """One sequence xs (T, D): outputs (T, H) and final carry, by a Python loop."""
    T = len(xs)
    length = T if length is None else length
    ys = [None] * T
    carry = carry0
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        if resets is not None and resets[t]:
            carry = carry0
        if t >= length:
            ys[t] = np.zeros_like(np.asarray(carry[0] if isinstance(carry, tuple) else carry))
            continue
        carry, ys[t] = step(p, carry, xs[t])
    return np.stack(ys), carry


def unroll_batch(step, p, xs, carry0, **kw):
    """xs (T, B, D): loops over the batch; per-sequence kwargs given as lists (length, resets)."""
    B = xs.shape[1]
    outs, carries = [], []
    for b in range(B):
        per = {k: (v[b] if v is not None else None) for k, v in kw.items()}
        c0 = tuple(c[b] for c in carry0) if isinstance(carry0, tuple) else carry0[b]
        ys, c = unroll_one(step, p, xs[:, b], c0, **per)
        outs.append(ys)
        carries.append(c)
    ys = np.stack(outs, axis=1)
    if isinstance(carries[0], tuple):
        return ys, tuple(np.stack(parts) for parts in zip(*carries))
    return ys, np.stack(carries)


def gru_cho_step(p, h, x):
    """Cho et al. (2014): the reset gate multiplies h before W_hn."""
    r = sigmoid(p["W_xr"] @ x + p["W_hr"] @ h + p["b_r"])
    z = sigmoid(p["W_xz"] @ x + p["W_hz"] @ h + p["b_z"])
    n = np.tanh(p["W_xn"] @ x + p["W_hn"] @ (r * h) + p["b_n"])
    h = (1.0 - z) * n + z * h
    return h, h


def masked_sequence_loss(step, params, readout, xs, targets, loss, lengths):
    """A named loss over a batch with lengths, by a loop per sequence that never sees padding.

    xs (T, B, D); targets (B, O) floats or (T, B) int labels; readout {W_hy, b_y}.
    """
    B = xs.shape[1]
    total, count, seqs = 0.0, 0, 0
    for b in range(B):
        L = int(lengths[b])
        h = np.zeros(params[next(k for k in params if k.startswith("W_h"))].shape[0])
        preds = []
        for t in range(L):
            h, y = step(params, h, xs[t, b])
            preds.append(readout["W_hy"] @ y + readout["b_y"])
        count, seqs = count + L, seqs + (L > 0)
        if loss in ("last", "last_half_sum") and L:
            total += (0.5 if loss == "last_half_sum" else 1.0) * np.sum(
                (preds[-1] - targets[b]) ** 2)
        elif loss == "all_steps":
            total += sum(np.sum((q - targets[b]) ** 2) for q in preds)
        elif loss.startswith("xent"):
            for t, z in enumerate(preds):
                total -= z[targets[t, b]] - z.max() - np.log(np.exp(z - z.max()).sum())
    return total / {"last": seqs, "all_steps": count, "xent_mean": count}.get(loss, 1)
