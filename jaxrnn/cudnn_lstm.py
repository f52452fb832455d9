"""The LSTM through cuDNN (``jax.experimental.rnn.lstm``): ``unroll(..., backward="cudnn")``.

cuDNN runs the whole sequence, forward and backward, as one fused kernel on an NVIDIA GPU. It
computes jaxrnn's LSTM (``cells.lstm_step``)::

    i, f, g, o = σ(W_xi x + W_hi h + b_i), σ(..f), tanh(..g), σ(..o)
    c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')

with the weights packed into cuDNN's flat vector for one layer and one direction (``pack``):
``W_ih (4H, D)`` then ``W_hh (4H, H)`` (rows in the gate order i, f, g, o = ``GATES["lstm"]``,
PyTorch's), then ``b_ih (4H,)`` = jaxrnn's ``b`` and ``b_hh (4H,)`` = 0 (cuDNN adds two biases,
jaxrnn has one).

Supported: batched float inputs (T, B, D), an initial carry, ``lengths`` (B,) (outputs past a
sequence's end are zero, its carry stops there, as ``unroll``). Not supported (refused):
truncation windows, masks other than lengths, resets, reverse, checkpointing, one-hot int
inputs, unbatched inputs, other cells.

CPU: jax 0.10.2 still ships ``jax.experimental.rnn``, but its ``lstm`` needs jaxlib's GPU RNN
module (on CPU it fails inside jaxlib), so ``unroll(backward="cudnn")`` is refused off a GPU.
``unroll_cudnn(kernel=reference_kernel)`` runs the same packing through jax's own reference
``lstm_ref`` instead: that is how the packing and the gradients are cross-checked on CPU in
float64 (``tests/test_cudnn_lstm.py``); the cuDNN kernel itself is checked only on a GPU.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrnn.cells import GATES, LSTMCarry

UNSUPPORTED = ("reverse", "mask", "resets", "window", "checkpoint")


def pack(params: dict) -> jax.Array:
    """cuDNN's flat weights (4HD + 4HH + 8H,) for one layer of jaxrnn LSTM ``params``."""
    W_ih = jnp.concatenate([params[f"W_x{g}"] for g in GATES["lstm"]])  # (4H, D)
    W_hh = jnp.concatenate([params[f"W_h{g}"] for g in GATES["lstm"]])  # (4H, H)
    b_ih = jnp.concatenate([params[f"b_{g}"] for g in GATES["lstm"]])  # (4H,)
    return jnp.concatenate([W_ih.ravel(), W_hh.ravel(), b_ih, jnp.zeros_like(b_ih)])


def cudnn_kernel(x, h0, c0, weights, lengths, D: int, H: int):
    """``jax.experimental.rnn.lstm``: batch-first x (B, T, D) -> (y (B, T, H), h_n, c_n)."""
    from jax.experimental import rnn

    return rnn.lstm(x, h0, c0, weights, lengths, D, H, 1, 0.0, False)


def reference_kernel(x, h0, c0, weights, lengths, D: int, H: int):
    """The same call through jax's reference ``lstm_ref`` (runs on CPU; weights unpacked by
    jax's ``unpack_lstm_weights``, so the packing is checked against jax's own layout)."""
    from jax.experimental import rnn

    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(weights, D, H, 1, False)
    return rnn.lstm_ref(x, h0, c0, W_ih, W_hh, b_ih, b_hh, lengths, D, H, 1, 0.0, False)


def unroll_cudnn(cell, params: dict, xs, carry0=None, *, lengths=None, kernel=None,
                 **options):
    """``unroll`` of the LSTM by cuDNN (module docstring).

    Args:
      cell: ``get_cell("lstm")``. params: its params. xs: (T, B, D) floats.
      carry0: ``LSTMCarry`` of (B, H) leaves (zeros when None). lengths: (B,) int or None.
      kernel: ``cudnn_kernel`` (default; needs a GPU) or ``reference_kernel``.
      options: unroll's other options; any set to a non-default value is refused.
    Returns:
      ``(ys (T, B, H), LSTMCarry(h, c))``, as ``unroll``.
    """
    used = [k for k in UNSUPPORTED if options.get(k) is not None and options.get(k) is not False]
    if cell.name != "lstm" or used:
        raise ValueError(f"backward='cudnn' runs the 'lstm' cell without {', '.join(UNSUPPORTED)}"
                         f"; got cell {cell.name!r}{' with ' + ', '.join(used) if used else ''}; "
                         f"use backward='scan'")
    xs = jnp.asarray(xs)
    if xs.ndim != 3 or not jnp.issubdtype(xs.dtype, jnp.floating):
        raise ValueError(f"backward='cudnn' needs batched float xs (T, B, D); got {xs.dtype}"
                         f"{list(xs.shape)} (one-hot ints: embed them first; unbatched: add B)")
    if kernel is None:
        if jax.default_backend() != "gpu":
            raise ValueError(f"backward='cudnn' needs an NVIDIA GPU (cuDNN); this process runs "
                             f"on {jax.default_backend()!r}: use backward='scan'")
        kernel = cudnn_kernel
    T, B, D = xs.shape
    H = params["W_hi"].shape[0]
    if carry0 is None:
        carry0 = cell.init_carry(params, (B,))
    lengths = jnp.full((B,), T, jnp.int32) if lengths is None else jnp.asarray(lengths, jnp.int32)
    ys, h, c = kernel(xs.transpose(1, 0, 2), carry0.h[None], carry0.c[None], pack(params),
                      lengths, D, H)
    return ys.transpose(1, 0, 2), LSTMCarry(h[0], c[0])
