"""A one-layer model: cell + linear readout, and the named sequence losses used across jaxrnn.

Params are ``{"cell": <cell params>, "readout": {"W_hy", "b_y"}}``. ``forward`` unrolls the cell
(with the same truncation options as ``unroll``) and applies the readout at every step.

Named losses (preds are (T, [B,] O) readouts; see ``jaxrnn.losses`` for the formulas):

==================  =========================================================  ==============
``last``            ``mean_b ||ŷ_T - y||²``, target y ([B,] O)                  sine, many-to-one
``last_half_sum``   ``Σ_b ||ŷ_T - y||² / 2``                                     "vidhya"
``all_steps``       ``mean_{t,b} ||ŷ_t - y||²``, y repeated at every step        "vlasov" code
``xent_sum``        ``Σ_{t,b} -log softmax(ŷ_t)[c_t]``, labels c (T, [B,]) ints  min-char-rnn
``xent_mean``       the same averaged over every step and sequence              char-rnn
==================  =========================================================  ==============

With ``lengths``/``mask`` (``sequence_loss``) only valid steps count: Σ over valid steps, mean
divided by the number of valid steps, and ŷ_T read at each sequence's last valid step.
"""
from __future__ import annotations

import chex
import jax

from jaxrnn import losses
from jaxrnn.cells import get_cell, init_readout, readout
from jaxrnn.unroll import lengths_to_mask, unroll

LOSSES = {
    "last": lambda preds, y, mask=None: losses.squared_error_last(preds, y, reduce="mean",
                                                                  mask=mask),
    "last_half_sum": lambda preds, y, mask=None: losses.squared_error_last(preds, y, scale=0.5,
                                                                           mask=mask),
    "all_steps": losses.squared_error_all_steps,
    "xent_sum": lambda logits, c, mask=None: losses.softmax_cross_entropy(
        logits, c, reduce="sum", mask=mask),
    "xent_mean": lambda logits, c, mask=None: losses.softmax_cross_entropy(
        logits, c, reduce="mean", mask=mask),
}


def get_loss(name: str):
    """The loss called ``name`` (module table): ``loss(preds, targets, mask=None) -> scalar``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    return LOSSES[name]


def init_model(key, cell: str, D: int, H: int, O: int, *, activation="tanh", cell_kwargs=None,
               readout_init="glorot", readout_bias=True, dtype=None) -> dict:
    """``{"cell": ..., "readout": ...}`` for a cell named ``cell`` with D inputs, H units, O outputs.

    ``cell_kwargs`` go to the cell's init (``input_init``, ``recurrent_init``, ``bias``,
    ``forget_bias``); ``dtype`` defaults to float32.
    """
    import jax.numpy as jnp

    dtype = dtype or jnp.float32
    c = get_cell(cell, activation)

    def init(key):
        k_cell, k_out = jax.random.split(key)
        return {"cell": c.init(k_cell, D, H, dtype=dtype, **(cell_kwargs or {})),
                "readout": init_readout(k_out, H, O, init=readout_init, bias=readout_bias,
                                        dtype=dtype)}

    # One compiled program instead of one eager kernel per initialiser call.
    return jax.jit(init)(key)


def forward(cell, params: dict, xs, carry0=None, **unroll_kwargs):
    """Readouts at every step: ``(preds (T, [B,] O), final carry)``.

    Args: cell from ``get_cell``; params from ``init_model``; xs (T, [B,] D) or int (T, [B]);
      unroll_kwargs as ``unroll`` (window, anchor, lengths, ...).
    """
    hs, carry = unroll(cell, params["cell"], xs, carry0, **unroll_kwargs)
    return readouts(params["readout"], hs), carry


def readouts(readout_params: dict, hs):
    """The readout at every step: ``W_hy h + b_y`` for hs (T, [B,] H) -> (T, [B,] O).

    The one readout over time in jaxrnn (``forward``, the char model, the sweeps, diagnostics).
    Raises AssertionError (chex) when hs's last axis is not W_hy's H.
    """
    chex.assert_axis_dimension(hs, -1, readout_params["W_hy"].shape[1])
    out = readout
    for _ in range(hs.ndim - 1):
        out = jax.vmap(out, (None, 0))
    return out(readout_params, hs)


def sequence_loss(cell, params: dict, xs, targets, loss: str, carry0=None, **unroll_kwargs):
    """``(loss, final carry)`` of the named loss on the model's readouts.

    With ``lengths=`` (B,) or ``mask=`` (T, [B,]) among ``unroll_kwargs`` the loss ignores the
    padded steps: sums run over the valid steps, means divide by the number of valid steps
    (not T·B), and "last"/"last_half_sum" score each sequence's last valid step.
    """
    preds, carry = forward(cell, params, xs, carry0, **unroll_kwargs)
    mask = unroll_kwargs.get("mask")
    if unroll_kwargs.get("lengths") is not None:
        mask = lengths_to_mask(unroll_kwargs["lengths"], preds.shape[0])
    return get_loss(loss)(preds, targets, mask=mask), carry
