"""Losses, with the conventions that change the numbers spelled out.

Shapes are time-major like ``unroll``'s outputs: predictions (T, [B,] O), logits (T, [B,] V).

=============================  ==========================================================
``squared_error_last``         ``scale * Σ_b ||ŷ_{T,b} - y_b||²`` (last step only; "vidhya"
                               uses scale 1/2 summed over records)
``squared_error_all_steps``    ``(1/T) Σ_t ||ŷ_t - y||²`` against a target repeated at every
                               step ("vlasov"); averaged over the batch
``softmax_cross_entropy``      ``-Σ_t log softmax(z_t)[c_t]`` in nats, ``reduce="sum"`` (min-char-rnn)
                               or ``"mean"`` over every step and sequence (char-rnn, Keras)
=============================  ==========================================================

Every loss takes ``mask=`` ((T, [B,]) bool, True on valid steps): padded steps count for
nothing, sums run over the valid steps and means divide by the number of valid steps (by the
number of non-empty sequences for ``squared_error_last``, which reads each one's last valid step).
"""
from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

REDUCTIONS = ("sum", "mean")


def _check_reduce(reduce):
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}; got {reduce!r}")


def _check_mask(mask, preds):
    """The mask as a (T, [B,]) bool array of preds' shape minus the output axis, or None."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    want = preds.shape[:-1]
    if mask.shape != want[:1]:
        chex.assert_shape(mask, want)  # (T, [B,]); AssertionError naming both shapes
    return jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (len(want) - mask.ndim)),
                            want).astype(bool)


def _last_valid(preds, mask):
    """(each sequence's prediction at its last valid step ([B,] O), has a valid step ([B],))."""
    T = preds.shape[0]
    last = T - 1 - jnp.argmax(mask[::-1], axis=0)  # ([B],) index of the last True
    pred = jnp.take_along_axis(preds, last[None, ..., None], axis=0)[0]
    return pred, jnp.any(mask, axis=0)


def squared_error_last(preds, target, *, scale=1.0, reduce="sum", mask=None):
    """Squared error of the last step's prediction only (many-to-one).

    Args:
      preds: (T, [B,] O) per-step predictions; only ``preds[-1]`` is used (with ``mask``: each
        sequence's last valid step, ``preds[L_b - 1, b]`` for lengths L).
      target: ([B,] O) the value to predict.
      scale: factor on each example's error (1/2 for ``(y - ŷ)^2 / 2``).
      reduce: "sum" or "mean" over the batch; with ``mask`` the mean is over the sequences that
        have a valid step (an all-padding sequence counts for nothing).
      mask: optional (T, [B,]) bool, True on valid steps.
    Returns: scalar.
    """
    _check_reduce(reduce)
    if preds.shape[1:] != jnp.shape(target):
        raise ValueError(f"target shape {jnp.shape(target)} must equal preds shape minus time "
                         f"{preds.shape[1:]}")
    mask = _check_mask(mask, preds)
    if mask is None:
        err = scale * jnp.sum((preds[-1] - target) ** 2, axis=-1)  # ([B],)
        return jnp.sum(err) if reduce == "sum" else jnp.mean(err)
    last, has = _last_valid(preds, mask)
    err = jnp.where(has, scale * jnp.sum((last - target) ** 2, axis=-1), 0.0)  # ([B],)
    return jnp.sum(err) if reduce == "sum" else jnp.sum(err) / jnp.maximum(jnp.sum(has), 1)


def squared_error_all_steps(preds, target, *, mask=None):
    """Mean over the T steps (and the batch) of ``||ŷ_t - y||²``, one target repeated at each step.

    With ``mask`` ((T, [B,]) bool) the mean is over the valid steps only: the sum over valid
    (t, b) divided by their count (not by T·B).

    Args: preds (T, [B,] O); target ([B,] O). Returns: scalar.
    """
    if preds.shape[1:] != jnp.shape(target):
        raise ValueError(f"target shape {jnp.shape(target)} must equal preds shape minus time "
                         f"{preds.shape[1:]}")
    err = jnp.sum((preds - target[None]) ** 2, axis=-1)  # (T, [B])
    mask = _check_mask(mask, preds)
    if mask is None:
        return jnp.mean(err)
    return jnp.sum(jnp.where(mask, err, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def softmax_cross_entropy(logits, labels, *, reduce="mean", mask=None):
    """Cross-entropy in nats of integer labels under ``softmax(logits)``.

    Args:
      logits: (T, [B,] V); labels: (T, [B,]) ints in [0, V).
      reduce: "sum" over all steps and sequences, or "mean" per character.
      mask: optional (T,) or (T, B) bool; masked-out steps count for nothing: "sum" is over
        the valid steps, "mean" divides by their count (not by T·B).
    Returns: scalar nats (divide by ``log 2`` for bits: ``nats_to_bits``).
    Raises: ValueError on a labels shape that does not fit the logits; AssertionError (chex)
      on a mask whose shape is neither (T,) nor the labels'.
    """
    _check_reduce(reduce)
    if logits.shape[:-1] != jnp.shape(labels):
        raise ValueError(f"labels shape {jnp.shape(labels)} must equal logits shape minus the "
                         f"vocabulary axis {logits.shape[:-1]}")
    if mask is not None:
        mask = _check_mask(mask, logits)
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    if mask is None:
        return jnp.sum(nll) if reduce == "sum" else jnp.mean(nll)
    nll = jnp.where(mask, nll, jnp.zeros_like(nll))
    return jnp.sum(nll) if reduce == "sum" else jnp.sum(nll) / jnp.maximum(jnp.sum(mask), 1)


def nats_to_bits(nats):
    """Nats per character to bits per character."""
    return nats / math.log(2.0)
