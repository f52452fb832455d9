"""Gradients of numpy float64 forward passes by the complex step, for tests only.

``d f / d p_i = Im f(p + i h e_i) / h`` with ``h = 1e-30`` is exact to rounding (no difference
is taken, so no cancellation), for any f built from analytic numpy operations on the params;
``reference.py``'s cells are. A gradient cut (``stop_gradient``) is the imaginary part dropped:
``detach(c) = c.real``. The forward passes here are per-sequence Python loops written from the
documented rules (truncation windows along the processing order over each sequence's valid
steps; TBPTT(k1, k2) blocks recomputed from the exact carry at ``(s + 1) k1 - k2``).
"""
import numpy as np

import reference as ref

STEP = 1e-30


def complex_step_grad(loss, params):
    """{name: dloss/dparams[name]} of ``loss(params) -> complex scalar``; params numpy float."""
    base = {k: np.asarray(v, np.float64).astype(complex) for k, v in params.items()}
    grads = {}
    for name, value in base.items():
        g = np.zeros(value.shape)
        for i in np.ndindex(value.shape):
            bumped = value.copy()
            bumped[i] += 1j * STEP
            g[i] = loss({**base, name: bumped}).imag / STEP
        grads[name] = g
    return grads


def detach(carry):
    return tuple(c.real + 0j for c in carry) if isinstance(carry, tuple) else carry.real + 0j


def cut_before(j, n, window, anchor):
    """Whether the carry entering processing position j (of n valid steps) is detached."""
    if window is None or j == 0:
        return False
    return j % window == 0 if anchor == "start" else (n - j) % window == 0


def unroll_seq(step, p, xs, carry0, *, length, reverse=False, window=None, anchor="start"):
    """One sequence xs (T, D): outputs (T, H), zero past ``length``, and the final carry."""
    T, carry = len(xs), carry0
    order = range(length - 1, -1, -1) if reverse else range(length)
    ys = [None] * T
    for j, t in enumerate(order):
        if cut_before(j, length, window, anchor):
            carry = detach(carry)
        carry, ys[t] = step(p, carry, xs[t])
    h = ys[order[0]] if length else (carry[0] if isinstance(carry, tuple) else carry)
    for t in range(length, T):
        ys[t] = np.zeros_like(h)
    return np.stack(ys), carry


def unroll_batch(step, p, xs, carries0, lengths, **kw):
    """xs (T, B, D), carries0 a list of per-sequence carries: outputs (T, B, H)."""
    return np.stack([unroll_seq(step, p, xs[:, b], carries0[b], length=lengths[b], **kw)[0]
                     for b in range(xs.shape[1])], axis=1)


def tbptt_seq(step, p, xs, carry0, k1, k2):
    """TBPTT(k1, k2) outputs of one sequence xs (T, D): step t's output recomputed from the
    detached exact carry at ``max(0, (t // k1 + 1) k1 - k2)``."""
    exact = [carry0]
    for x in xs:
        exact.append(step(p, exact[-1], x)[0])
    ys = []
    for t in range(len(xs)):
        start = max(0, (t // k1 + 1) * k1 - k2)
        carry = detach(exact[start])
        for u in range(start, t + 1):
            carry, y = step(p, carry, xs[u])
        ys.append(y)
    return np.stack(ys)


def step_fn(cell, activation="tanh"):
    return ref.step_fn(cell, activation)
