"""Gradient-flow diagnostics: vanishing/exploding gradients and truncation bias, measured.

Maths only: no files, no figures (``jaxrnn gradcheck --plot`` writes them, drawn by
``jaxrnn.plots.gradflow``). Three measurements for one problem
(``jaxrnn.grad.gradcheck.make_problem``'s model and loss):

- ``carry_grad_norms``: ``||dL/dc_t||`` for every step t (over batch and units), the total
  gradient reaching the carry after step t (h, and c for the LSTM), the one carry-gradient norm
  every task and sweep uses. Under full BPTT with a loss on the last step only, it shrinks
  (vanishes) or grows (explodes) going back in time at the rate set by the step Jacobians.
- ``step_jacobians`` / ``jacobian_spectra``: the Jacobians ``J_t = d s_t / d s_{t-1}`` of one
  step (s = h, or [h; c] for the LSTM) along the first sequence, by ``jax.jacfwd`` of
  ``Cell.step``, and their singular values. ``dL/dh_t`` is the product of the transposed J's, so
  ``||J_t||_2 < 1`` over many steps means vanishing gradients. (Vanilla RNN:
  ``J_t = diag(φ'(a_t)) W_hh``.)
- ``truncation_bias``: for windows k, ``gradient_bias`` (the one truncation-bias measure: cosine
  similarity and relative error ``||g_k - g||/||g||``) of the truncated gradient g_k
  (``window=k``) against the full-BPTT gradient g, over the *cell* params (the readout's
  gradient does not depend on k).

``gradient_flow(problem)`` computes these with the recurrent weights scaled by 0.5, 1 and 2
(contracting, as drawn, expanding).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrnn.cells import LSTMCarry
from jaxrnn.model import get_loss, readouts
from jaxrnn.grad.manual_bptt import manual_bptt

SCALES = (0.5, 1.0, 2.0)


def scaled_norm(x, axis=-1):
    """Euclidean norm along ``axis``, each slice divided by its largest entry first, so that a
    vanished gradient (1e-25 in float32) is not squared into 0 (or a huge one into inf)."""
    scale = jnp.max(jnp.abs(x), axis=axis, keepdims=True)
    safe = jnp.where(scale > 0, scale, jnp.ones_like(scale))
    return jnp.squeeze(scale, axis) * jnp.sqrt(jnp.sum((x / safe) ** 2, axis=axis))


def _flat(tree):
    """One vector of a pytree's leaves: a carry's [h; c], or a gradient's every entry."""
    return jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def _unflat(cell, s):
    if cell.name == "lstm":
        H = s.shape[0] // 2
        return LSTMCarry(s[:H], s[H:])
    return s


def step_jacobians(cell, params, xs, carry0=None):
    """(T, S, S) Jacobians ``d s_t / d s_{t-1}`` along the first sequence of xs.

    Args: cell, params (model or cell params), xs (T, [B,] D) or int (T, [B]); carry0 as the
      unroll's (its first sequence is used). S = H (2H for the LSTM: s = [h; c]).
    """
    p = params.get("cell", params)
    xs = jnp.asarray(xs)
    is_index = jnp.issubdtype(xs.dtype, jnp.integer)
    if xs.ndim == (2 if is_index else 3):
        xs = xs[:, 0]
        carry0 = None if carry0 is None else jax.tree_util.tree_map(lambda c: c[0], carry0)
    dtype = jax.tree_util.tree_leaves(p)[0].dtype
    if carry0 is None:
        carry0 = cell.init_carry(p, (), dtype if is_index else jnp.result_type(dtype, xs.dtype))

    def step(s, x):
        return _flat(cell.step(p, _unflat(cell, s), x)[0])

    def body(s, x):
        return step(s, x), jax.jacfwd(step)(s, x)

    return lax.scan(body, _flat(carry0), xs)[1]


def jacobian_spectra(jacobians):
    """(T, S) singular values of each step Jacobian, largest first (column 0: ``||J_t||_2``)."""
    return jnp.linalg.svd(jacobians, compute_uv=False)


def truncation_bias(cell, params, xs, targets, loss, carry0=None, *, windows, anchor="start"):
    """``{"window", "cosine", "rel_error"}``: lists over ``windows`` of ``gradient_bias`` of the
    truncated cell-param gradient (``window=k``, manual BPTT) against the full-BPTT one."""
    def cell_grads(window):
        return manual_bptt(cell, params, xs, targets, loss, carry0, window=window,
                           anchor=anchor).grads["cell"]

    full = cell_grads(None)
    biases = [gradient_bias(cell_grads(int(k)), full) for k in windows]
    return {"window": [int(k) for k in windows], "cosine": [float(b["cos"]) for b in biases],
            "rel_error": [float(b["rel"]) for b in biases]}


def scale_recurrent(params, scale):
    """A copy of model params with every recurrent weight (``W_h*``) multiplied by ``scale``."""
    cell = {k: scale * v if k.startswith("W_h") else v for k, v in params["cell"].items()}
    return {"cell": cell, "readout": params["readout"]}


def gradient_flow(problem, scales=SCALES, anchor="end") -> dict:
    """All three measurements, as lists, for the problem with its recurrent weights scaled.

    Returns: ``{"runs": [{"scale", "grad_norms" (T,) (``carry_grad_norms``, full BPTT),
    "jacobian_norm" (T,), "jacobian_min_sv" (T,), "truncation": truncation_bias(...)}]}``.
    """
    cell, params, xs, targets, loss, carry0 = problem[:6]
    T = xs.shape[0]
    runs = []

    def loss_of_preds(preds):
        return get_loss(loss)(preds, targets)

    for s in scales:
        p = scale_recurrent(params, s)
        sv = np.asarray(jacobian_spectra(step_jacobians(cell, p, xs, carry0)))
        runs.append({
            "scale": float(s),
            "grad_norms": np.asarray(carry_grad_norms(cell, p, xs, loss_of_preds,
                                                      carry0=carry0)).tolist(),
            "jacobian_norm": sv[:, 0].tolist(), "jacobian_min_sv": sv[:, -1].tolist(),
            "truncation": truncation_bias(cell, p, xs, targets, loss, carry0,
                                          windows=range(1, T + 1), anchor=anchor)})
    return {"runs": runs}


def gradient_bias(g_trunc, g_full) -> dict:
    """``{"cos": <g_k, g> / (|g_k| |g|), "rel": |g_k - g| / |g|}`` of two gradient pytrees.

    Both are NaN (undefined) when the full gradient g is exactly zero, e.g. a saturated sigmoid.
    """
    a, b = _flat(g_trunc), _flat(g_full)
    na, nb = jnp.linalg.norm(a), jnp.linalg.norm(b)
    nan = jnp.asarray(jnp.nan, a.dtype)
    ok = nb > 0
    return {"cos": jnp.where(ok & (na > 0), jnp.dot(a, b) / jnp.where(ok, na * nb, 1.0), nan),
            "rel": jnp.where(ok, jnp.linalg.norm(a - b) / jnp.where(ok, nb, 1.0), nan)}


def carry_grad_norms(cell, params: dict, xs, loss_of_preds, *, per_example: bool = False,
                     carry0=None):
    """``||∂L/∂c_t||`` (full BPTT), c_t the carry after step t: the one carry-gradient norm.

    Computed as the gradient of L with respect to a zero perturbation added to each step's new
    carry (both h and c for the LSTM). ``loss_of_preds(preds (T, [B,] O)) -> scalar``.
    Args: params ``{"cell", "readout"}``; xs (T, [B,] D) or int (T, [B]); per_example: norms
      over the units of each example separately (batched xs only). When L sums per-example
      losses, example b's row is ``||∂L_b/∂c_t||``, its own loss's dependence on its state.
      carry0: the initial carry (batch_shape + (H,)); default zeros.
    Returns: (T,) norms over batch and units, or (T, B) with ``per_example``.
    """
    xs = jnp.asarray(xs)
    is_index = jnp.issubdtype(xs.dtype, jnp.integer)
    batch_shape = xs.shape[1:] if is_index else xs.shape[1:-1]
    p = params["cell"]
    step = cell.step
    for _ in batch_shape:
        step = jax.vmap(step, (None, 0, 0))
    dtype = jax.tree_util.tree_leaves(p)[0].dtype
    carry0 = cell.init_carry(p, batch_shape, dtype) if carry0 is None else carry0

    def total(deltas):
        def body(c, inp):
            x, d = inp
            c, _ = step(p, c, x)
            c = jax.tree_util.tree_map(jnp.add, c, d)
            return c, c.h if hasattr(c, "h") else c

        _, hs = lax.scan(body, carry0, (xs, deltas))
        return loss_of_preds(readouts(params["readout"], hs))

    T = xs.shape[0]
    zeros = jax.tree_util.tree_map(lambda c: jnp.zeros((T,) + c.shape, c.dtype), carry0)
    grads = jax.grad(total)(zeros)
    if per_example:
        if len(batch_shape) != 1:
            raise ValueError(f"per_example needs batched xs (T, B, ...); got {xs.shape}")
        g = jnp.concatenate(jax.tree_util.tree_leaves(grads), axis=-1)  # (T, B, S)
        return scaled_norm(g, axis=-1)  # (T, B), underflow-safe in float32
    g = jnp.concatenate([x.reshape(T, -1) for x in jax.tree_util.tree_leaves(grads)], axis=1)
    return scaled_norm(g, axis=1)  # (T,), underflow-safe in float32
