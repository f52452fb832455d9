"""Character language model: one-hot or embedded input, stacked cells, dropout, readout to V.

::

    x_t = onehot(c_t) (the cell gathers column c_t of W_x)   or   x_t = E[c_t]  (E: (V, E))
    h^1_t = cell_1(h^1_{t-1}, x_t),  h^l_t = cell_l(h^l_{t-1}, dropout(h^{l-1}_t))
    z_t = W_hy h^L_t + b_y  (V logits),   p(c_{t+1} | c_{<=t}) = softmax(z_t)

Params: ``{"embed": (V, E) (only when embed > 0), "layers": [cell params per layer],
"readout": {"W_hy": (V, H), "b_y": (V,)}}``. The loss of a window is the summed negative log
likelihood in nats, ``Σ_{t,b} -log softmax(z_{t,b})[y_{t,b}]``; a preset divides it by T B
("mean", char-rnn) or not ("sum", min-char-rnn).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrnn import losses
from jaxrnn.cells import get_cell, init_readout
from jaxrnn.initializers import get_initializer
from jaxrnn.model import readouts
from jaxrnn.unroll import unroll_stack


class ModelSpec(NamedTuple):
    """Static description of a character model (hashable: a static argument under jit)."""

    cell: str
    vocab_size: int
    hidden: int
    layers: int = 1
    embed: int = 0  # 0: one-hot input
    activation: str = "tanh"
    dropout: float = 0.0
    input_init: str = "glorot"
    recurrent_init: str = "orthogonal"
    readout_init: str = "glorot"
    bias_init: str = "zeros"  # every bias; the LSTM forget bias is then set to forget_bias
    forget_bias: float = 1.0
    embed_init: str = "uniform(0.05)"
    dtype: str = "float32"
    backward: str = "scan"  # unroll's backward: "fused" is the RNN's hand-written one


def _reinit_biases(key, params: dict, spec: ModelSpec) -> dict:
    """Biases drawn from ``spec.bias_init`` (char-rnn draws them U(±0.08) like the weights)."""
    if spec.bias_init == "zeros":
        return params
    init, out = get_initializer(spec.bias_init), dict(params)
    for i, name in enumerate(sorted(n for n in params if n.startswith("b_"))):
        out[name] = init(jax.random.fold_in(key, i), params[name].shape, params[name].dtype)
    if "b_f" in out:
        out["b_f"] = jnp.full_like(out["b_f"], spec.forget_bias)
    return out


@functools.partial(jax.jit, static_argnums=1)
def init_params(key, spec: ModelSpec) -> dict:
    """Fresh params for ``spec`` (module docstring), all in ``spec.dtype`` (jitted: one
    compilation instead of one per initialiser call)."""
    dtype = jnp.dtype(spec.dtype)
    cell = get_cell(spec.cell, spec.activation)
    k_embed, k_out, k_bias, *k_layers = jax.random.split(key, 3 + spec.layers)
    kwargs = {"input_init": spec.input_init, "recurrent_init": spec.recurrent_init}
    if spec.cell == "lstm":
        kwargs["forget_bias"] = spec.forget_bias
    params = {}
    if spec.embed:
        params["embed"] = get_initializer(spec.embed_init)(
            k_embed, (spec.vocab_size, spec.embed), dtype)
    D = spec.embed or spec.vocab_size
    layers = []
    for layer, k in enumerate(k_layers):
        p = cell.init(k, D if layer == 0 else spec.hidden, spec.hidden, dtype=dtype, **kwargs)
        layers.append(_reinit_biases(jax.random.fold_in(k_bias, layer), p, spec))
    params["layers"] = layers
    out = init_readout(k_out, spec.hidden, spec.vocab_size, init=spec.readout_init, dtype=dtype)
    params["readout"] = _reinit_biases(jax.random.fold_in(k_bias, spec.layers), out, spec)
    return params


def init_carries(spec: ModelSpec, params: dict, batch_shape: tuple = ()) -> list:
    """Zero carries, one per layer, each ``batch_shape + (H,)``."""
    cell = get_cell(spec.cell, spec.activation)
    return [cell.init_carry(p, batch_shape) for p in params["layers"]]


def apply(spec: ModelSpec, params: dict, ids, carries, *, key=None, train: bool = False):
    """Logits for every step: ``(z (T, [B,] V), final carries)``.

    Args:
      spec, params: the model. ids: (T,) or (T, B) int character ids.
      carries: per-layer carries (``init_carries``); pass ``detach(carries)`` between windows.
      key: PRNG key for dropout, needed when ``train`` and ``spec.dropout > 0``.
    """
    xs = params["embed"][ids] if spec.embed else ids  # (T, [B,] E) or int (T, [B])
    rate = spec.dropout if train else 0.0
    cell = get_cell(spec.cell, spec.activation)
    hs, carries = unroll_stack(cell, params["layers"], xs, carries, dropout=rate,
                               key=key if rate else None, backward=spec.backward)  # (T, [B,] H)
    return readouts(params["readout"], hs), carries  # (T, [B,] V)


def window_nll(spec: ModelSpec, params: dict, xs, ys, carries, *, key=None, train=False):
    """``(Σ_{t,b} -log p(y_{t,b}), final carries)``: summed nats of a window.

    Args: xs, ys (T, [B]) int inputs and next-character targets; the rest as ``apply``.
    """
    logits, carries = apply(spec, params, xs, carries, key=key, train=train)
    return losses.softmax_cross_entropy(logits, ys, reduce="sum"), carries
