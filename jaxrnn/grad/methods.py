"""Gradient methods independent of the hand-written BPTT, each returning the params' pytree.

Every function here computes ``d sequence_loss / d params`` for the model of ``jaxrnn.model``
(cell + readout + named loss), with the same truncation semantics (``window``, ``anchor``: the
carry entering each window's first step is detached, see ``jaxrnn.unroll.window_cuts``), and a
constant initial carry ``carry0``:

=================  =====================================================================
``autodiff_scan``  ``jax.grad`` through ``jaxrnn.model.sequence_loss`` (``lax.scan``)
``autodiff_loop``  ``jax.grad`` through a Python loop over ``Cell.step`` with an explicit
                   ``lax.stop_gradient`` at every cut (shares no code with ``unroll``)
``forward``        forward mode: ``jax.jacfwd`` of the loss over the flattened params
                   (``stop_gradient`` zeroes tangents, so truncation is respected)
``rtrl``           real-time recurrent learning, vanilla RNN only: the exact influence-matrix
                   forward recursion (small H only; cost O(H^4) per step)
``finite_diff``    central differences in float64; untruncated losses only
=================  =====================================================================

Every method also takes ``lengths=`` (B,) / ``mask=`` (T, [B,]) and ``resets=`` (T, [B,]) as
``unroll``: padded steps keep the carry and count for nothing in the loss, a reset puts the carry
back to ``carry0`` (a constant) before its step, and windows count valid steps.

Finite differences perturb the *values* of the params and see the whole forward function: a
``stop_gradient`` changes no value, so they cannot measure a truncated gradient.
``finite_diff`` therefore refuses any window that cuts something (ValueError), rather than
reporting a bogus mismatch.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from jaxrnn.cells import ACTIVATIONS, readout
from jaxrnn.model import get_loss, sequence_loss
from jaxrnn.unroll import window_cuts

RTRL_MAX_HIDDEN = 64
FD_EPS = 1e-5  # the central differences' step


def _cut_flags(T: int, window, anchor) -> tuple:
    """Static tuple of T bools: True where the carry entering step t is detached."""
    if window is None:
        return (False,) * T
    with jax.ensure_compile_time_eval():  # concrete even when called under jit
        return tuple(bool(c) for c in np.asarray(window_cuts(T, window, anchor)))


def _is_batched(xs) -> bool:
    return xs.ndim == (2 if jnp.issubdtype(xs.dtype, jnp.integer) else 3)


def _per_step(xs, flags):
    """(T,) or (T, B) bools broadcast to xs's (T, [B]), or None."""
    if flags is None:
        return None
    flags = jnp.asarray(flags, bool)
    shape = xs.shape[:2] if _is_batched(xs) else xs.shape[:1]
    return jnp.broadcast_to(flags.reshape(flags.shape + (1,) * (len(shape) - flags.ndim)), shape)


def _valid_mask(xs, lengths, mask):
    """(T, [B]) bool valid steps written out here (no ``unroll`` code), or None."""
    if lengths is not None:
        return jnp.arange(xs.shape[0])[:, None] < jnp.asarray(lengths)[None, :]
    return _per_step(xs, mask)


def _cuts(xs, window, anchor, valid):
    """(T, [B]) bool cuts counted over each sequence's valid steps (``window_cuts``)."""
    T = xs.shape[0]
    shape = xs.shape[:2] if _is_batched(xs) else xs.shape[:1]
    if window is None:
        return jnp.zeros(shape, bool)
    lengths = None if valid is None else valid.sum(0)
    cuts = window_cuts(T, window, anchor, lengths)  # (T,) or (T, B)
    return jnp.broadcast_to(cuts.reshape((T,) + (1,) * (len(shape) - cuts.ndim)), shape)


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_autodiff_scan(cell, params, xs, targets, loss, carry0=None, *, window=None,
                       anchor="start", lengths=None, mask=None, resets=None):
    """``jax.grad`` of ``sequence_loss`` (``lax.scan`` with ``stop_gradient`` windows)."""
    def f(p):
        return sequence_loss(cell, p, xs, targets, loss, carry0, window=window, anchor=anchor,
                             lengths=lengths, mask=mask, resets=resets)[0]

    return jax.grad(f)(params)


def _pick(flag, a, b):
    """Leafwise ``a`` where flag (() or (B,)) else ``b``."""
    return jax.tree_util.tree_map(
        lambda u, v: jnp.where(jnp.reshape(flag, jnp.shape(flag) + (1,)), u, v), a, b)


def loop_loss(cell, params, xs, targets, loss, carry0, cuts, valid=None, resets=None):
    """The loss by a Python loop over ``cell.step``: ``stop_gradient`` on the carry before each
    step t with ``cuts[t]``; xs (T, [B,] ...), carry0 [B,] (H,) (not None); cuts, valid (the
    mask) and resets (T, [B]) bools (a tuple of T bools for cuts without masks)."""
    step, out = cell.step, readout
    if _is_batched(xs):
        step, out = jax.vmap(step, (None, 0, 0)), jax.vmap(out, (None, 0))
    carry, preds = carry0, []
    for t in range(xs.shape[0]):
        if resets is not None:
            carry = _pick(resets[t], carry0, carry)
        if isinstance(cuts, tuple) and cuts[t]:
            carry = jax.tree_util.tree_map(lax.stop_gradient, carry)
        elif not isinstance(cuts, tuple):
            carry = _pick(cuts[t], jax.tree_util.tree_map(lax.stop_gradient, carry), carry)
        new, h = step(params["cell"], carry, xs[t])
        if valid is not None:
            new, h = _pick(valid[t], new, carry), jnp.where(valid[t][..., None], h, 0.0)
        carry = new
        preds.append(out(params["readout"], h))
    return get_loss(loss)(jnp.stack(preds), targets, mask=valid)


def _default_carry(cell, params, xs, carry0):
    if carry0 is not None:
        return carry0
    batch = xs.shape[1:2] if _is_batched(xs) else ()
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    if jnp.issubdtype(xs.dtype, jnp.floating):
        dtype = jnp.result_type(dtype, xs.dtype)
    return cell.init_carry(params["cell"], batch, dtype)


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_autodiff_loop(cell, params, xs, targets, loss, carry0=None, *, window=None,
                       anchor="start", lengths=None, mask=None, resets=None):
    """``jax.grad`` through a Python-unrolled loop of ``Cell.step`` (see ``loop_loss``)."""
    valid = _valid_mask(xs, lengths, mask)
    cuts = _cut_flags(xs.shape[0], window, anchor) if valid is None else _cuts(
        xs, window, anchor, valid)
    carry0 = _default_carry(cell, params, xs, carry0)
    return jax.grad(loop_loss, argnums=1)(cell, params, xs, targets, loss, carry0, cuts, valid,
                                          _per_step(xs, resets))


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_forward(cell, params, xs, targets, loss, carry0=None, *, window=None, anchor="start",
                 lengths=None, mask=None, resets=None):
    """Forward mode: ``jax.jacfwd`` of the loss w.r.t. the flattened params (one JVP per entry)."""
    flat, unravel = ravel_pytree(params)

    def f(v):
        return sequence_loss(cell, unravel(v), xs, targets, loss, carry0, window=window,
                             anchor=anchor, lengths=lengths, mask=mask, resets=resets)[0]

    return unravel(jax.jacfwd(f)(flat))


@functools.partial(jax.jit, static_argnames=("cell", "loss", "window", "anchor"))
def grad_rtrl(cell, params, xs, targets, loss, carry0=None, *, window=None, anchor="start",
              lengths=None, mask=None, resets=None):
    """Exact RTRL for the vanilla RNN: influence matrices carried forward in time.

    With ``a_t = W_xh x_t + W_hh h_{t-1} + b_h``, ``h_t = φ(a_t)``, the influence of a weight
    ``θ = W[j, k]`` on the state, ``M_t[i, j, k] = dh_{t,i} / dW[j, k]``, obeys::

        M_t[i, j, k] = φ'(a_{t,i}) (Σ_l W_hh[i, l] M_{t-1}[l, j, k] + [i = j] u_{t,k})

    with ``u_t = x_t`` for W_xh, ``h_{t-1}`` for W_hh and 1 for b_h; ``M_{t-1} = 0`` where the
    carry entering step t is cut (and at t = 0: the carry0 is a constant). The gradient is
    ``Σ_t Σ_i ∂L/∂h_{t,i} M_t[i, j, k]`` with the *direct* ``∂L/∂h_t`` (through ŷ_t only),
    taken, with the readout's gradient, by ``jax.grad`` of the loss of the readout of the states.
    φ' comes from ``jax.jvp`` of the activation. Batched inputs carry one M per sequence.
    A reset zeroes M like a cut (carry0 is a constant); on a padded step h and M pass unchanged.
    """
    if cell.name != "rnn":
        raise ValueError(f"RTRL is implemented for the vanilla RNN only; got cell {cell.name!r}")
    p = params["cell"]
    H = p["W_hh"].shape[0]
    if H > RTRL_MAX_HIDDEN:
        raise ValueError(f"RTRL costs O(H^4) per step; H={H} > {RTRL_MAX_HIDDEN}: use a smaller "
                         f"--hidden for the rtrl method")
    batched = _is_batched(xs)
    valid, resets = _valid_mask(xs, lengths, mask), _per_step(xs, resets)
    T, ones = xs.shape[0], jnp.ones(xs.shape[:2] if batched else xs.shape[:1], bool)
    valid_b = (ones if valid is None else valid).reshape(T, -1)  # (T, B)
    reset_b = (~ones if resets is None else resets).reshape(T, -1)
    zero_b = _cuts(xs, window, anchor, valid).reshape(T, -1) | reset_b  # where M restarts
    carry0 = _default_carry(cell, params, xs, carry0)
    dtype = carry0.dtype
    if jnp.issubdtype(xs.dtype, jnp.integer):
        xs = jax.nn.one_hot(xs, p["W_xh"].shape[1], dtype=dtype)
    if not batched:
        xs, carry0 = xs[:, None], carry0[None]
    act = ACTIVATIONS[cell.activation]
    b = p.get("b_h", jnp.zeros((H,), dtype))

    def forward(h, inp):
        x, m, r = inp
        h = jnp.where(r[:, None], carry0, h)
        a = x @ p["W_xh"].T + h @ p["W_hh"].T + b[None, :]  # (B, H)
        h_new, slope = jax.jvp(act, (a,), (jnp.ones_like(a),))
        y = jnp.where(m[:, None], h_new, jnp.zeros_like(h_new))
        return jnp.where(m[:, None], h_new, h), (h, y, slope)

    _, (h_prev, hs, slopes) = lax.scan(forward, carry0, (xs, valid_b, reset_b))  # (T, B, H)

    def loss_of_states(r, hs):
        preds = jnp.einsum("tbh,oh->tbo", hs, r["W_hy"])
        if "b_y" in r:
            preds = preds + r["b_y"][None, None, :]
        return get_loss(loss)(preds if batched else preds[:, 0], targets, mask=valid)

    g_readout, dh_direct = jax.grad(loss_of_states, argnums=(0, 1))(params["readout"], hs)
    eye = jnp.eye(H, dtype=dtype)
    units = {"W_xh": xs, "W_hh": h_prev}
    if "b_h" in p:
        units["b_h"] = jnp.ones(hs.shape[:2] + (1,), dtype)

    def step(M, inp):
        u, slope, dh, zero, valid_t = inp
        new, grads = {}, {}
        for name, m in M.items():
            m = jnp.where(zero[:, None, None, None], jnp.zeros_like(m), m)  # (B, H, H, K)
            m_t = jnp.einsum("il,bljk->bijk", p["W_hh"], m) + jnp.einsum("ij,bk->bijk", eye,
                                                                         u[name])
            m_t = slope[:, :, None, None] * m_t
            new[name] = jnp.where(valid_t[:, None, None, None], m_t, m)
            grads[name] = jnp.einsum("bi,bijk->jk", dh, new[name])
        return new, grads

    B = hs.shape[1]
    M0 = {k: jnp.zeros((B, H, H, u.shape[-1]), dtype) for k, u in units.items()}
    _, g = lax.scan(step, M0, (units, slopes, dh_direct, zero_b, valid_b))
    g_cell = {k: v.sum(0) for k, v in g.items()}
    if "b_h" in g_cell:
        g_cell["b_h"] = g_cell["b_h"][:, 0]
    return {"cell": g_cell, "readout": g_readout}


def grad_finite_diff(cell, params, xs, targets, loss, carry0=None, *, window=None,
                     anchor="start", eps=FD_EPS, lengths=None, mask=None, resets=None):
    """Central differences ``(L(θ + ε e_i) - L(θ - ε e_i)) / 2ε`` in float64, for every entry.

    Params (and float inputs) are promoted to float64 (needs ``jax_enable_x64``); the result has
    the params' dtypes. Raises ValueError for a truncating window (see the module docstring).
    """
    T = jnp.shape(xs)[0]
    if window is not None and any(_cut_flags(T, window, anchor)):
        raise ValueError(
            f"finite differences cannot check a truncated gradient (window={window}, "
            f"anchor={anchor!r} cuts the carry): stop_gradient changes no forward value, so "
            f"finite differences see the full-BPTT gradient. Use window=None (or window >= T), "
            f"or compare the truncated gradient with the autodiff/forward/RTRL methods")
    if not jax.config.jax_enable_x64:
        raise ValueError("finite differences need float64: enable jax_enable_x64 first")
    to64 = functools.partial(jax.tree_util.tree_map, lambda a: jnp.asarray(
        a, jnp.float64) if jnp.issubdtype(jnp.asarray(a).dtype, jnp.floating) else a)
    flags = dict(lengths=lengths, mask=mask, resets=resets)
    grads = _central_differences(cell, to64(params), to64(xs), to64(targets), loss,
                                 to64(carry0), eps, flags)
    return jax.tree_util.tree_map(lambda g, q: g.astype(q.dtype), grads, params)


@functools.partial(jax.jit, static_argnames=("cell", "loss"))
def _central_differences(cell, params, xs, targets, loss, carry0, eps, flags):
    flat, unravel = ravel_pytree(params)

    def f(v):
        return sequence_loss(cell, unravel(v), xs, targets, loss, carry0, **flags)[0]

    steps = eps * jnp.eye(flat.size, dtype=flat.dtype)  # (P, P)
    return unravel((jax.vmap(f)(flat[None, :] + steps) - jax.vmap(f)(flat[None, :] - steps))
                   / (2.0 * eps))
