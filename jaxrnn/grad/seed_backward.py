"""The seeds' published backward passes, re-written from their descriptions, for auditing.

Neither seed's code is reproduced: these follow ``shared/SEEDS.md``'s description of the recipes
(numpy float64, one record at a time, like the originals) so that ``jaxrnn gradcheck``-style
comparisons can show what they compute. jaxrnn trains with the correct gradient
(``jaxrnn.grad.manual_bptt``); these exist to be compared with it (experiments/vidhya_backward_audit).

"vidhya" (sigmoid RNN, no biases, ``s_t = σ(U x̃_t + W s_{t-1})``, ``ŷ = V s_T``, loss
``½(ŷ - y)²``, truncation window k = 5). The recipe, with its defects switchable::

    e = ŷ - y                                     (the only output error)
    for t in OUTER:                               "error_every_step": every t; fixed: t = T-1
        dV += e s_t^T
        δs = V^T e
        for i = t, t-1, ..., t-k+1 (>= 0):         k steps of truncated BPTT
            q = t  ("inner_loop_reuse": the outer step's quantities)   fixed: q = i
            δadd = add_q ⊙ (1 - add_q) ⊙ δs  ("sigmoid_derivative": pre-activation add_q)
                                          fixed: s_q ⊙ (1 - s_q) ⊙ δs
            dU += δadd x̃_q^T
            dW += W s_{q-1} (a column, numpy-broadcast over dW's columns; "dW_term")
                                          fixed: δadd s_{q-1}^T
            δs = W^T δadd

The three defects named in SEEDS.md are ``sigmoid_derivative``, ``dW_term`` and
``inner_loop_reuse``. ``error_every_step`` (the outer loop crediting the last output's error
to every step's state, as in the tutorial's loop over all T steps) is not in SEEDS.md's list; it
is kept separate so it can be left out. Where the description is silent, the *correct* form is
used (dU as ``δadd x̃^T``, δs propagated by ``W^T δadd``): the measured disagreement is what the
named defects cause. With every defect fixed the recipe equals the true gradient of the
window-k loss (``unroll(window=k, anchor="end")``), which the tests check.

"vlasov" (tanh RNN with biases, loss printed as the MSE ``(1/T) Σ_t (ŷ_t - y)²`` against a
repeated target): the paper's equations (SEEDS.md C) with ``dL/dŷ_t = ŷ_t - y``, the published
code's choice (factor 2/T dropped). That is the gradient of ``½ Σ_t (ŷ_t - y)²`` = T/2 times the
gradient of the MSE it prints.
"""
from __future__ import annotations

import numpy as np

VIDHYA_DEFECTS = ("sigmoid_derivative", "dW_term", "inner_loop_reuse", "error_every_step")
SEEDS_LISTED = VIDHYA_DEFECTS[:3]


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _np(params):
    return {k: np.asarray(v, np.float64) for k, v in params.items()}


def vidhya_backward(params: dict, xs, y, *, window: int = 5, defects=VIDHYA_DEFECTS) -> dict:
    """The vidhya recipe's gradient for one record (module docstring), with ``defects`` on.

    Args:
      params: ``{"cell": {"W_xh": U (H, D), "W_hh": W (H, H)}, "readout": {"W_hy": V (O, H)}}``.
      xs: (T, D) inputs x̃_t (the vidhya encoding: ``x̃_t = x[t] e_t``, D = T).
      y: (O,) target. window: k. defects: names from ``VIDHYA_DEFECTS``.
    Returns: grads with the params' structure (numpy float64).
    """
    unknown = set(defects) - set(VIDHYA_DEFECTS)
    if unknown:
        raise ValueError(f"unknown defects {sorted(unknown)}; expected some of {VIDHYA_DEFECTS}")
    if set(params["cell"]) != {"W_xh", "W_hh"} or set(params["readout"]) != {"W_hy"}:
        raise ValueError("the vidhya model has no biases: params must be {'cell': {W_xh, W_hh}, "
                         "'readout': {W_hy}} (init_model(..., cell_kwargs={'bias': False}, "
                         "readout_bias=False))")
    U, W = _np(params["cell"])["W_xh"], _np(params["cell"])["W_hh"]
    V = _np(params["readout"])["W_hy"]
    xs, y = np.asarray(xs, np.float64), np.asarray(y, np.float64)
    T, H = xs.shape[0], W.shape[0]
    s, adds, states = np.zeros(H), [], [np.zeros(H)]  # states[t] = s_{t-1}
    for t in range(T):
        adds.append(U @ xs[t] + W @ s)
        s = _sigmoid(adds[-1])
        states.append(s)
    e = V @ s - y  # (O,)
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    for t in (range(T) if "error_every_step" in defects else [T - 1]):
        dV += np.outer(e, states[t + 1])
        ds = V.T @ e
        for i in range(t, max(t - window, -1), -1):
            q = t if "inner_loop_reuse" in defects else i
            s_q, prev_q = states[q + 1], states[q]
            slope = adds[q] * (1 - adds[q]) if "sigmoid_derivative" in defects else \
                s_q * (1 - s_q)
            dadd = slope * ds
            dU += np.outer(dadd, xs[q])
            dW += (W @ prev_q)[:, None] if "dW_term" in defects else np.outer(dadd, prev_q)
            ds = W.T @ dadd
    return {"cell": {"W_xh": dU, "W_hh": dW}, "readout": {"W_hy": dV}}


def vlasov_backward(params: dict, xs, y) -> dict:
    """The vlasov paper's full-BPTT equations for one window, with ``dL/dŷ_t = ŷ_t - y``.

    Args: params ``{"cell": {W_xh (H, D), W_hh, b_h}, "readout": {W_hy (O, H), b_y}}``, tanh
      RNN; xs (T, D); y (O,) the target repeated at every step.
    Returns: grads (numpy float64) = T/2 times the gradient of the printed MSE.
    """
    c, r = _np(params["cell"]), _np(params["readout"])
    xs, y = np.asarray(xs, np.float64), np.asarray(y, np.float64)
    T, H = xs.shape[0], c["W_hh"].shape[0]
    hs = [np.zeros(H)]
    for t in range(T):
        hs.append(np.tanh(c["W_xh"] @ xs[t] + c["W_hh"] @ hs[-1] + c["b_h"]))
    g = {"cell": {k: np.zeros_like(v) for k, v in c.items()},
         "readout": {k: np.zeros_like(v) for k, v in r.items()}}
    dh_next = np.zeros(H)  # (1 - h_{t+1}²) ⊙ dL/dh_{t+1}
    for t in range(T - 1, -1, -1):
        dy = r["W_hy"] @ hs[t + 1] + r["b_y"] - y  # dL/dŷ_t, the published (no 2/T)
        dh = r["W_hy"].T @ dy + c["W_hh"].T @ dh_next
        da = (1 - hs[t + 1] ** 2) * dh
        g["readout"]["W_hy"] += np.outer(dy, hs[t + 1])
        g["readout"]["b_y"] += dy
        g["cell"]["W_xh"] += np.outer(da, xs[t])
        g["cell"]["W_hh"] += np.outer(da, hs[t])
        g["cell"]["b_h"] += da
        dh_next = da
    return g
