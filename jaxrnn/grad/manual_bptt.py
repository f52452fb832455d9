"""Hand-derived backpropagation through time (BPTT), written without autodiff (plain ``jnp``).

The model is ``jaxrnn.model``'s: one cell, a linear readout at every step, a named loss::

    h_t = cell(h_{t-1}, x_t)      ŷ_t = W_hy h_t + b_y      L = loss(ŷ_1..T, targets)

Vanilla RNN (the "vlasov" equations, with any activation φ in tanh, sigmoid, relu)::

    a_t = W_xh x_t + W_hh h_{t-1} + b_h          h_t = φ(a_t)
    δh_t = W_hy^T δŷ_t + [t+1 not cut] W_hh^T δa_{t+1}
    δa_t = φ'(a_t) ⊙ δh_t    φ' = 1 - h_t² (tanh), h_t ⊙ (1 - h_t) (sigmoid), [h_t > 0] (relu)
    dW_hy = Σ_t δŷ_t h_t^T   db_y = Σ_t δŷ_t
    dW_xh = Σ_t δa_t x_t^T   dW_hh = Σ_t δa_t h_{t-1}^T   db_h = Σ_t δa_t

where ``δv = dL/dv`` and every Σ also runs over the batch. (vlasov writes the recursion as
``W_hh^T ((1 - h_{t+1}²) ⊙ dL/dh_{t+1})``: the same thing.) The LSTM and GRU steps are in
``jaxrnn.grad.manual_bptt_gates`` (the LSTM, both GRUs). The loss gradients δŷ_t, for B
sequences (B = 1 unbatched), N the number of valid steps (T·B without a mask), S the number of
sequences with a valid step (B without a mask), ŷ_T read at each sequence's last valid step::

    last           L = (1/S) Σ_b ||ŷ_T - y||²           δŷ_T = (2/S)(ŷ_T - y), δŷ_{t<T} = 0
    last_half_sum  L = ½ Σ_b ||ŷ_T - y||²               δŷ_T = ŷ_T - y,        δŷ_{t<T} = 0
    all_steps      L = (1/N) Σ_{t,b valid} ||ŷ_t - y||² δŷ_t = (2/N)(ŷ_t - y) on valid steps
    xent_sum       L = -Σ_{t,b valid} log p_t[c_t]      δŷ_t = p_t - onehot(c_t), p_t = softmax(ŷ_t)
    xent_mean      L = xent_sum / N                     δŷ_t = (p_t - onehot(c_t)) / N

δŷ_t = 0 on padded steps.

Truncation is the indicator ``[t+1 not cut]``: where ``jaxrnn.unroll.window_cuts`` says the carry
entering step t+1 is detached (``window=k``, ``anchor="start"|"end"``), the gradient coming back
from step t+1 into the carry (h_t, and c_t for the LSTM) is dropped. That is exactly the
``stop_gradient`` of ``unroll(window=k)``. The initial carry is a constant (a streamed window's
carried state): its gradient is not returned.

Masks and resets, as ``unroll``'s ``lengths=``/``mask=``/``resets=``: with m_t the step's mask
and r_t its reset flag, the forward pass is ``c_in = r_t ? carry0 : c_{t-1}``, ``c_t = m_t ?
cell(c_in, x_t) : c_in``. Backward, the gradient δc_t reaches the cell's step only where m_t
(where not, it passes to c_in unchanged), and δc_{t-1} = 0 where r_t (carry0 is a constant).
Windows count valid steps, as ``unroll`` does.
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrnn.cells import Cell, LSTMCarry, hidden_size
from jaxrnn.grad.manual_bptt_gates import (gru_backward, gru_cho_backward, gru_cho_forward,
                                           gru_forward, lstm_backward, lstm_forward)
from jaxrnn.model import LOSSES
from jaxrnn.unroll import cast_carry, lengths_to_mask, window_cuts

SQUARED_LOSSES = ("last", "last_half_sum", "all_steps")


class BPTTResult(NamedTuple):
    """``manual_bptt``'s result. dhs: (T, [B,] H) total gradients δh_t (for diagnostics)."""

    loss: jax.Array
    grads: dict
    carry: Any
    dhs: jax.Array


def _act_and_slope(activation):
    """(φ, φ' written with h = φ(a))."""
    if activation == "tanh":
        return jnp.tanh, lambda h: 1.0 - h ** 2
    if activation == "sigmoid":
        return jax.nn.sigmoid, lambda h: h * (1.0 - h)
    return jax.nn.relu, lambda h: (h > 0).astype(h.dtype)


def rnn_forward(params, h_prev, x, activation="tanh"):
    """One vanilla RNN step on a batch: ``(h_t, (h_{t-1}, h_t))``; x (B, D), h_prev (B, H)."""
    act, _ = _act_and_slope(activation)
    a = x @ params["W_xh"].T + h_prev @ params["W_hh"].T
    if "b_h" in params:
        a = a + params["b_h"][None, :]
    h = act(a)
    return h, (h_prev, h)


def rnn_backward(params, cache, x, dh, activation="tanh"):
    """Backward of one RNN step: ``(grads, δh_{t-1})``; dh = δh_t (B, H)."""
    h_prev, h = cache
    da = dh * _act_and_slope(activation)[1](h)  # (B, H)
    grads = {"W_xh": da.T @ x, "W_hh": da.T @ h_prev}
    if "b_h" in params:
        grads["b_h"] = da.sum(0)
    return grads, da @ params["W_hh"]


def _rules(name, activation):
    if name == "rnn":
        return (functools.partial(rnn_forward, activation=activation),
                functools.partial(rnn_backward, activation=activation))
    return {"lstm": (lstm_forward, lstm_backward), "gru": (gru_forward, gru_backward),
            "gru_cho": (gru_cho_forward, gru_cho_backward)}[name]


LOSS_FORMS = {  # name -> (form, scale c(N, S)): L = c * (the form's sum); N, S as above
    "last": ("last", lambda N, S: 1.0 / S),
    "last_half_sum": ("last", lambda N, S: 0.5),
    "all_steps": ("all_steps", lambda N, S: 1.0 / N),
    "xent_sum": ("xent", lambda N, S: 1.0),
    "xent_mean": ("xent", lambda N, S: 1.0 / N),
}


def _loss_form(form, c, preds, targets, mask):
    """``L = c Σ_b ||ŷ_T - y||²`` ("last", ŷ_T at each last valid step), ``c Σ_{t,b} ||ŷ_t -
    y||²`` ("all_steps") or ``-c Σ_{t,b} log softmax(ŷ_t)[c_t]`` ("xent") over the valid steps
    of mask (T, B), and δŷ. c may be traced."""
    w = mask[..., None].astype(preds.dtype)  # (T, B, 1)
    if form == "last":
        T, B = mask.shape
        last = T - 1 - jnp.argmax(mask[::-1], axis=0)  # (B,)
        b = jnp.arange(B)
        err = (preds[last, b] - targets) * jnp.any(mask, 0)[:, None]  # (B, O)
        return c * jnp.sum(err ** 2), jnp.zeros_like(preds).at[last, b].set(2.0 * c * err)
    if form == "all_steps":
        err = (preds - targets[None]) * w  # (T, B, O)
        return c * jnp.sum(err ** 2), 2.0 * c * err
    z = preds - jnp.max(preds, axis=-1, keepdims=True)
    logp = z - jnp.log(jnp.sum(jnp.exp(z), axis=-1, keepdims=True))  # (T, B, O)
    onehot = jax.nn.one_hot(targets, preds.shape[-1], dtype=preds.dtype)
    return -c * jnp.sum(onehot * logp * w), c * (jnp.exp(logp) - onehot) * w


def _h(carry):
    return carry.h if isinstance(carry, LSTMCarry) else carry


def _with_h(carry, h):
    return LSTMCarry(h, carry.c) if isinstance(carry, LSTMCarry) else h


def _where(flag, a, b):
    """Leafwise ``where(flag, a, b)`` of carries (B, H) with a (B,) flag."""
    return jax.tree_util.tree_map(lambda u, v: jnp.where(flag[:, None], u, v), a, b)


@functools.partial(jax.jit, static_argnames=("name", "activation", "form"))
def _bptt(params, xs, targets, carry0, flags, scale, *, name, activation, form):
    """The batched core: xs (T, B, D) float, flags (mask, resets, cuts) each (T, B) bool, the
    loss as (form, scale) of ``LOSS_FORMS`` (the scale is traced: losses of one form share a
    compilation)."""
    forward, backward = _rules(name, activation)
    p, r = params["cell"], params["readout"]
    mask, resets, cuts = flags

    def fwd(carry, inputs):
        x, m, reset = inputs
        c_in = _where(reset, carry0, carry)
        new, cache = forward(p, c_in, x)
        h = jnp.where(m[:, None], _h(new), jnp.zeros_like(_h(new)))
        return _where(m, new, c_in), (cache, h)

    carry, (caches, hs) = lax.scan(fwd, carry0, (xs, mask, resets))  # hs (T, B, H)
    preds = hs @ r["W_hy"].T  # (T, B, O)
    if "b_y" in r:
        preds = preds + r["b_y"][None, None, :]
    value, dpreds = _loss_form(form, scale.astype(preds.dtype), preds, targets, mask)
    g_readout = {"W_hy": jnp.einsum("tbo,tbh->oh", dpreds, hs)}
    if "b_y" in r:
        g_readout["b_y"] = dpreds.sum((0, 1))
    dh_direct = dpreds @ r["W_hy"]  # (T, B, H)

    def bwd(state, inputs):
        dcarry, acc = state
        cache, x, dh_t, m, reset, cut = inputs
        dcarry = _with_h(dcarry, _h(dcarry) + dh_t)  # all of δh_t (and δc_t)
        none = jax.tree_util.tree_map(jnp.zeros_like, dcarry)
        grads, dprev = backward(p, cache, x, _where(m, dcarry, none))  # zero rows: no grads
        acc = jax.tree_util.tree_map(jnp.add, acc, grads)
        dprev = _where(m, dprev, dcarry)  # a padded step passes its carry's gradient through
        dprev = _where(cut | reset, none, dprev)
        return (dprev, acc), _h(dcarry)

    zeros = (jax.tree_util.tree_map(jnp.zeros_like, carry0),
             jax.tree_util.tree_map(jnp.zeros_like, p))
    (_, g_cell), dhs = lax.scan(bwd, zeros, (caches, xs, dh_direct, mask, resets, cuts),
                                reverse=True)
    return value, {"cell": g_cell, "readout": g_readout}, carry, dhs


def _check_targets(loss, targets, T, batch, O):
    if loss in SQUARED_LOSSES:
        want, kind = batch + (O,), "float"
        ok = jnp.issubdtype(targets.dtype, jnp.floating) and targets.shape == want
    else:
        want, kind = (T,) + batch, "int labels"
        ok = jnp.issubdtype(targets.dtype, jnp.integer) and targets.shape == want
    if not ok:
        raise ValueError(f"targets for loss {loss!r} must be {kind} of shape {want}; got "
                         f"{targets.dtype} {targets.shape}")


def _step_flags(name, flags, T, batch):
    """A (T,) or (T, B) bool flag array as (T, B') bool (B' = B, or 1 unbatched); zeros if None."""
    width = batch[0] if batch else 1
    if flags is None:
        return jnp.zeros((T, width), bool)
    flags = jnp.asarray(flags)
    if flags.shape not in ((T,), (T,) + batch):
        raise ValueError(f"{name} must have shape (T,) or (T, B) = {(T,) + batch}; got "
                         f"{flags.shape}")
    return jnp.broadcast_to(flags.reshape(T, -1), (T, width)).astype(bool)


def _mask(lengths, mask, T, batch):
    """(T, B') bool valid steps from lengths (B,) or mask, as ``unroll``."""
    if lengths is not None and mask is not None:
        raise ValueError("pass lengths or mask, not both")
    if lengths is not None:
        if not batch or jnp.shape(lengths) != batch:
            raise ValueError(f"lengths needs batched xs (T, B, ...) and shape (B,) = {batch}; "
                             f"got {jnp.shape(lengths)}")
        return lengths_to_mask(lengths, T)
    return _step_flags("mask", jnp.ones((T,), bool) if mask is None else mask, T, batch)


def manual_bptt(cell: Cell, params: dict, xs, targets, loss: str, carry0=None, *,
                window=None, anchor="start", lengths=None, mask=None,
                resets=None) -> BPTTResult:
    """Loss and gradient of ``jaxrnn.model.sequence_loss`` by the hand-derived BPTT above.

    Args:
      cell: from ``jaxrnn.cells.get_cell`` (rnn with tanh/sigmoid/relu, lstm, gru, gru_cho).
      params: ``{"cell": ..., "readout": {"W_hy", optional "b_y"}}`` (``init_model``).
      xs: (T, [B,] D) float inputs, or (T, [B]) int one-hot indices.
      targets: ([B,] O) floats for "last", "last_half_sum", "all_steps"; (T, [B]) int labels
        in [0, O) for "xent_sum", "xent_mean".
      loss: a name in ``jaxrnn.model.LOSSES``.
      carry0: initial carry [B,] (H,) (``LSTMCarry`` for the LSTM), a constant; zeros if None;
        cast to the params' dtype (promoted with float xs').
      window, anchor: truncation as ``jaxrnn.unroll.unroll`` (None: full BPTT).
      lengths: (B,) valid lengths, or mask: (T,) / (T, B) bool valid steps; resets: (T,) /
        (T, B) bool, the carry reset to carry0 before step t. As ``unroll``; the loss ignores
        padded steps as ``sequence_loss`` does.
    Returns:
      ``BPTTResult(loss, grads, carry, dhs)``: grads has the structure of params; carry is the
      final carry; dhs (T, [B,] H) the gradients δh_t.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be a jaxrnn Cell (from get_cell), got {type(cell).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if set(params) != {"cell", "readout"}:
        raise ValueError(f"params must be {{'cell': ..., 'readout': ...}} (init_model); got keys "
                         f"{sorted(params)}")
    xs, targets = jnp.asarray(xs), jnp.asarray(targets)
    xs, carry0, batched = _inputs(cell, params, xs, targets, loss, carry0)
    T, batch = xs.shape[0], xs.shape[1:2] if batched else ()
    if not batched:
        targets = targets[None] if loss in SQUARED_LOSSES else targets[:, None]
    mask = _mask(lengths, mask, T, batch)
    valid = mask.sum(0)  # (B',) valid steps per sequence
    cuts = jnp.zeros_like(mask) if window is None else jnp.broadcast_to(
        window_cuts(T, window, anchor, valid), mask.shape)
    form, scale = LOSS_FORMS[loss]
    n_steps, n_seqs = jnp.maximum(valid.sum(), 1), jnp.maximum(jnp.sum(valid > 0), 1)
    flags = (mask, _step_flags("resets", resets, T, batch), cuts)
    value, grads, carry, dhs = _bptt(params, xs, targets, carry0, flags,
                                     jnp.asarray(scale(n_steps, n_seqs)), name=cell.name,
                                     activation=cell.activation, form=form)
    grads = jax.tree_util.tree_map(lambda g, q: g.astype(q.dtype), grads, params)
    if not batched:
        carry, dhs = jax.tree_util.tree_map(lambda c: c[0], carry), dhs[:, 0]
    return BPTTResult(value, grads, carry, dhs)


def _inputs(cell, params, xs, targets, loss, carry0):
    """Checked (xs (T, B', D) float, carry0 (B', H), batched); B' = 1 for unbatched xs."""
    D = next(v.shape[1] for k, v in sorted(params["cell"].items()) if k.startswith("W_x"))
    H, O = hidden_size(params["cell"]), params["readout"]["W_hy"].shape[0]
    is_index = jnp.issubdtype(xs.dtype, jnp.integer)
    batched = xs.ndim == (2 if is_index else 3)
    if xs.ndim != (1 if is_index else 2) + batched or (not is_index and xs.shape[-1] != D):
        raise ValueError(f"xs must be (T, [B,] D={D}) floats or (T, [B]) ints; got {xs.dtype} "
                         f"{xs.shape}")
    T, batch = xs.shape[0], xs.shape[1:2] if batched else ()
    _check_targets(loss, targets, T, batch, O)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    dtype = dtype if is_index else jnp.result_type(dtype, xs.dtype)
    xs = jax.nn.one_hot(xs, D, dtype=dtype) if is_index else xs.astype(dtype)
    if carry0 is None:
        carry0 = cell.init_carry(params["cell"], batch, dtype)
    for leaf in jax.tree_util.tree_leaves(carry0):
        if leaf.shape != batch + (H,):
            raise ValueError(f"carry0 leaves must have shape {batch + (H,)}; got {leaf.shape}")
    carry0 = cast_carry(carry0, dtype)
    if not batched:
        xs, carry0 = xs[:, None], jax.tree_util.tree_map(lambda c: c[None], carry0)
    return xs, carry0, batched
