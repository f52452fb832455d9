"""Online training: params updated every k steps while an episode's sequences stream.

An episode is a batch of sequences xs (T, B, ...) with per-step targets ys (T, B, ...) and
per-step weights w (T,); its loss is ``L = (1/T) Σ_t w_t ℓ(ŷ_t, y_t)`` (ℓ averaged over the
batch). Every ``every`` steps the gradient accumulated over the last ``every`` steps goes through
the optimizer; the carry flows on unchanged (it is not reset within an episode), so the
estimator's state keeps the influence of the params before the update, as online RTRL does.

- an online rule (``rtrl_jac``, ``uoro``, ``snap<n>``, ...) accumulates ``c_tᵀ M̂_t`` step by
  step (``Rule.update``), with the readout's exact per-step gradient;
- ``tbptt``: ``jax.grad`` of each window's loss from its detached start carry (TBPTT(k) with
  k = every); with every = T it is full BPTT, one update per episode.

``make_episode`` returns a pure ``episode(state, batch) -> (state, metrics)``, scanned over
episodes by the caller (``jaxrnn.train.scan_steps``-style, driven by ``train.run_chunks``).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxrnn.losses import softmax_cross_entropy
from jaxrnn.model import readouts
from jaxrnn.online.common import draw_noise, flat_cell
from jaxrnn.online.local import random_feedback
from jaxrnn.online.registry import resolve_rule

STEP_LOSSES = ("squared", "xent")


class OnlineState(NamedTuple):
    """params, optax state, the key of the estimators' draws, RFLO's fixed feedback (O, H)."""

    params: dict
    opt_state: object
    key: jax.Array
    feedback: jax.Array


def init_state(params, optimizer, key) -> OnlineState:
    """The state at the first episode (the random feedback drawn once from ``key``)."""
    k_fb, key = jax.random.split(key)
    return OnlineState(params, optimizer.init(params), key,
                       random_feedback(k_fb, params["readout"]["W_hy"]))


def step_loss(kind: str, preds, ys):
    """ℓ(ŷ_t, y_t) averaged over the batch: preds (B, O); ys (B, O) floats or (B,) labels."""
    if kind == "squared":
        return jnp.mean(jnp.sum((preds - ys) ** 2, -1))
    return softmax_cross_entropy(preds[None], ys[None], reduce="mean")


def _window_tbptt(cell, kind, T, params, s0, window):
    """(grads, loss, s_end) of one window by ``jax.grad`` from the detached carry s0 (B, S)."""
    def loss_fn(p):
        fc = flat_cell(cell, p["cell"])

        def body(s, inp):
            x, y, w = inp
            s = jax.vmap(fc.step, (None, 0, 0))(fc.theta, s, x)
            return s, w * step_loss(kind, readouts(p["readout"], s[:, :fc.H]), y) / T

        s_end, losses = lax.scan(body, lax.stop_gradient(s0), window)
        return losses.sum(), s_end

    (loss, s_end), g = jax.value_and_grad(loss_fn, has_aux=True)(params)
    return g, loss, s_end


def _window_rule(cell, rule, kind, T, params, feedback, s0, est, noise, window):
    """(grads, loss, s_end, est) of one window by the rule's per-step updates."""
    fc = flat_cell(cell, params["cell"])
    p, r = params["cell"], params["readout"]

    def body(carry, inp):
        s, est, g = carry
        (x, y, w), nz = inp
        s_new = jax.vmap(fc.step, (None, 0, 0))(fc.theta, s, x)

        def loss_t(r, h):
            return w * step_loss(kind, readouts(r, h), y) / T

        h = s_new[:, :fc.H]
        loss, g_r = jax.value_and_grad(loss_t)(r, h)
        delta = jax.grad(lambda yhat: w * step_loss(kind, yhat, y) / T)(readouts(r, h))
        c = delta @ (r["W_hy"] if feedback is None else feedback)  # (B, H)
        c = jnp.pad(c, ((0, 0), (0, fc.S - fc.H)))
        est, g_c = jax.vmap(rule.update, (None, None, 0, 0, 0, 0, 0))(fc, p, est, x, s, c, nz)
        g_t = {"cell": jax.tree_util.tree_map(lambda a: a.sum(0), g_c), "readout": g_r}
        return (s_new, est, jax.tree_util.tree_map(jnp.add, g, g_t)), loss

    g0 = jax.tree_util.tree_map(jnp.zeros_like, params)
    (s_end, est, g), losses = lax.scan(body, (s0, est, g0), (window, noise))
    return g, losses.sum(), s_end, est


def make_episode(cell, method: str, optimizer, every: int, kind: str):
    """A pure ``episode(state, (xs, ys, w)) -> (state, {"loss"})`` (module docstring).

    Args: cell; method: "tbptt" or an estimator name (``registry``); optimizer: optax; every:
      steps between updates (T must be a multiple); kind: "squared" or "xent".
    """
    if kind not in STEP_LOSSES:
        raise ValueError(f"step loss must be one of {STEP_LOSSES}; got {kind!r}")
    make_rule, feedback = (None, None) if method == "tbptt" else resolve_rule(method, cell)

    def episode(state, batch):
        fc = flat_cell(cell, state.params["cell"])
        xs, ys, w = (a.astype(fc.theta.dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a
                     for a in batch)  # dtypes follow the params
        T, B = xs.shape[:2]
        n = T // every
        rule = None if make_rule is None else make_rule(fc)
        windows = jax.tree_util.tree_map(lambda a: a.reshape((n, every) + a.shape[1:]),
                                         (xs, ys, w))
        key, k_noise = jax.random.split(state.key)
        noise = None if rule is None else draw_noise(rule, k_noise, T, B, fc.S, fc.theta.dtype)
        est = None if rule is None else jax.vmap(lambda _: rule.init(fc, state.params["cell"]))(
            jnp.arange(B))

        def body(carry, inp):
            params, opt_state, s, est = carry
            window, nz = inp
            if rule is None:
                g, loss, s = _window_tbptt(cell, kind, T, params, s, window)
            else:
                fb = state.feedback if feedback == "random" else None
                g, loss, s, est = _window_rule(cell, rule, kind, T, params, fb, s, est, nz, window)
            updates, opt_state = optimizer.update(g, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, s, est), loss

        nz = None if noise is None else noise.reshape((n, every) + noise.shape[1:])
        s0 = jnp.zeros((B, fc.S), fc.theta.dtype)
        (params, opt_state, _, _), losses = lax.scan(
            body, (state.params, state.opt_state, s0, est), (windows, nz))
        return state._replace(params=params, opt_state=opt_state, key=key), {
            "loss": losses.sum()}

    return episode
