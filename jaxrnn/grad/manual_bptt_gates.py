"""Hand-derived forward caches and backward steps of the LSTM and the GRU (no autodiff).

Used by ``jaxrnn.grad.manual_bptt``, which runs them over time. Every function works on a batch,
rows are examples: ``x (B, D)``, ``h (B, H)``; a weight ``W (out, in)`` acts on a row as
``x @ W.T`` (``W x`` per example, as in ``jaxrnn.cells``). In the equations below, ``δv`` is the
gradient of the loss with respect to ``v`` (``dL/dv``), ``⊙`` the element-wise product, sums run
over the batch, and ``σ' = σ(1 - σ)``, ``tanh' = 1 - tanh²`` are written with the *outputs* of the
non-linearities, which is what the caches store.

LSTM (gates i, f, g, o; ``jaxrnn.cells.lstm_step``)::

    a_q = W_xq x_t + W_hq h_{t-1} + b_q           q in {i, f, g, o}
    i, f, o = σ(a_i), σ(a_f), σ(a_o)    g = tanh(a_g)
    c_t = f ⊙ c_{t-1} + i ⊙ g           h_t = o ⊙ tanh(c_t)

  backward, given δh_t and δc_t (the carry's gradients arriving at step t)::

    δo = δh_t ⊙ tanh(c_t)
    δc = δc_t + δh_t ⊙ o ⊙ (1 - tanh²(c_t))
    δi = δc ⊙ g    δg = δc ⊙ i    δf = δc ⊙ c_{t-1}    δc_{t-1} = δc ⊙ f
    δa_i = δi ⊙ i(1-i)  δa_f = δf ⊙ f(1-f)  δa_g = δg ⊙ (1-g²)  δa_o = δo ⊙ o(1-o)
    dW_xq += δa_q x_t^T    dW_hq += δa_q h_{t-1}^T    db_q += δa_q
    δh_{t-1} = Σ_q W_hq^T δa_q

GRU (reset after the recurrent product; ``jaxrnn.cells.gru_step``)::

    r = σ(W_xr x_t + W_hr h_{t-1} + b_r)          z = σ(W_xz x_t + W_hz h_{t-1} + b_z)
    m = W_hn h_{t-1} + b_hn                       n = tanh(W_xn x_t + b_xn + r ⊙ m)
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

  backward, given δh_t::

    δn = δh_t ⊙ (1 - z)    δz = δh_t ⊙ (h_{t-1} - n)
    δa_n = δn ⊙ (1 - n²)   δm = δa_n ⊙ r    δr = δa_n ⊙ m
    δa_r = δr ⊙ r(1-r)     δa_z = δz ⊙ z(1-z)
    dW_xn += δa_n x_t^T    db_xn += δa_n    dW_hn += δm h_{t-1}^T    db_hn += δm
    dW_xr += δa_r x_t^T    dW_hr += δa_r h_{t-1}^T    db_r += δa_r    (z likewise)
    δh_{t-1} = δh_t ⊙ z + W_hr^T δa_r + W_hz^T δa_z + W_hn^T δm

Cho GRU (reset before the recurrent product; ``jaxrnn.cells.gru_cho_step``)::

    r, z as above (biases b_r, b_z)               s = r ⊙ h_{t-1}
    n = tanh(W_xn x_t + W_hn s + b_n)             h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

  backward, given δh_t::

    δa_n = δh_t ⊙ (1 - z) ⊙ (1 - n²)    δs = W_hn^T δa_n    δr = δs ⊙ h_{t-1}
    δa_r = δr ⊙ r(1-r)     δa_z = δh_t ⊙ (h_{t-1} - n) ⊙ z(1-z)
    dW_xn += δa_n x_t^T    dW_hn += δa_n s^T    db_n += δa_n    (r, z as above)
    δh_{t-1} = δh_t ⊙ z + δs ⊙ r + W_hr^T δa_r + W_hz^T δa_z
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrnn.cells import LSTMCarry

LSTM_GATES = ("i", "f", "g", "o")


def _affine(params, gate, x, h, bias):
    """``W_x{gate} x + W_h{gate} h + bias`` on rows: (B, H)."""
    return x @ params[f"W_x{gate}"].T + h @ params[f"W_h{gate}"].T + bias[None, :]


def lstm_forward(params, carry: LSTMCarry, x):
    """One LSTM step on a batch: ``(LSTMCarry(h_t, c_t), cache)``; x (B, D), carry (B, H) each."""
    h_prev, c_prev = carry
    a = {q: _affine(params, q, x, h_prev, params[f"b_{q}"]) for q in LSTM_GATES}
    i, f, o = jax.nn.sigmoid(a["i"]), jax.nn.sigmoid(a["f"]), jax.nn.sigmoid(a["o"])
    g = jnp.tanh(a["g"])
    c = f * c_prev + i * g
    tanh_c = jnp.tanh(c)
    h = o * tanh_c
    return LSTMCarry(h, c), (h_prev, c_prev, i, f, g, o, tanh_c)


def lstm_backward(params, cache, x, dcarry: LSTMCarry):
    """Backward of one LSTM step: ``(grads of the step, LSTMCarry(δh_{t-1}, δc_{t-1}))``.

    Args: cache from ``lstm_forward``; x (B, D); dcarry: the gradients δh_t, δc_t (B, H).
    """
    h_prev, c_prev, i, f, g, o, tanh_c = cache
    dh, dc_in = dcarry
    do = dh * tanh_c
    dc = dc_in + dh * o * (1.0 - tanh_c ** 2)
    da = {"i": dc * g * i * (1.0 - i), "f": dc * c_prev * f * (1.0 - f),
          "g": dc * i * (1.0 - g ** 2), "o": do * o * (1.0 - o)}
    grads = {}
    dh_prev = jnp.zeros_like(h_prev)
    for q in LSTM_GATES:
        grads[f"W_x{q}"] = da[q].T @ x  # (H, D)
        grads[f"W_h{q}"] = da[q].T @ h_prev  # (H, H)
        grads[f"b_{q}"] = da[q].sum(0)
        dh_prev = dh_prev + da[q] @ params[f"W_h{q}"]
    return grads, LSTMCarry(dh_prev, dc * f)


def gru_forward(params, h_prev, x):
    """One GRU step on a batch: ``(h_t, cache)``; x (B, D), h_prev (B, H)."""
    r = jax.nn.sigmoid(_affine(params, "r", x, h_prev, params["b_r"]))
    z = jax.nn.sigmoid(_affine(params, "z", x, h_prev, params["b_z"]))
    m = h_prev @ params["W_hn"].T + params["b_hn"][None, :]
    n = jnp.tanh(x @ params["W_xn"].T + params["b_xn"][None, :] + r * m)
    h = (1.0 - z) * n + z * h_prev
    return h, (h_prev, r, z, m, n)


def gru_backward(params, cache, x, dh):
    """Backward of one GRU step: ``(grads of the step, δh_{t-1})``; dh = δh_t (B, H)."""
    h_prev, r, z, m, n = cache
    da_n = dh * (1.0 - z) * (1.0 - n ** 2)
    dm = da_n * r
    da_r = da_n * m * r * (1.0 - r)
    da_z = dh * (h_prev - n) * z * (1.0 - z)
    grads = {"W_xr": da_r.T @ x, "W_hr": da_r.T @ h_prev, "b_r": da_r.sum(0),
             "W_xz": da_z.T @ x, "W_hz": da_z.T @ h_prev, "b_z": da_z.sum(0),
             "W_xn": da_n.T @ x, "b_xn": da_n.sum(0),
             "W_hn": dm.T @ h_prev, "b_hn": dm.sum(0)}
    dh_prev = (dh * z + da_r @ params["W_hr"] + da_z @ params["W_hz"]
               + dm @ params["W_hn"])
    return grads, dh_prev


def gru_cho_forward(params, h_prev, x):
    """One Cho GRU step on a batch: ``(h_t, cache)``; x (B, D), h_prev (B, H)."""
    r = jax.nn.sigmoid(_affine(params, "r", x, h_prev, params["b_r"]))
    z = jax.nn.sigmoid(_affine(params, "z", x, h_prev, params["b_z"]))
    s = r * h_prev  # (B, H)
    n = jnp.tanh(_affine(params, "n", x, s, params["b_n"]))
    h = (1.0 - z) * n + z * h_prev
    return h, (h_prev, r, z, s, n)


def gru_cho_backward(params, cache, x, dh):
    """Backward of one Cho GRU step: ``(grads of the step, δh_{t-1})``; dh = δh_t (B, H)."""
    h_prev, r, z, s, n = cache
    da_n = dh * (1.0 - z) * (1.0 - n ** 2)
    ds = da_n @ params["W_hn"]
    da_r = ds * h_prev * r * (1.0 - r)
    da_z = dh * (h_prev - n) * z * (1.0 - z)
    grads = {"W_xr": da_r.T @ x, "W_hr": da_r.T @ h_prev, "b_r": da_r.sum(0),
             "W_xz": da_z.T @ x, "W_hz": da_z.T @ h_prev, "b_z": da_z.sum(0),
             "W_xn": da_n.T @ x, "W_hn": da_n.T @ s, "b_n": da_n.sum(0)}
    dh_prev = dh * z + ds * r + da_r @ params["W_hr"] + da_z @ params["W_hz"]
    return grads, dh_prev
