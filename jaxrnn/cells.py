"""Recurrent cells as pure functions: vanilla RNN, LSTM, two GRUs, and a linear readout.

The two GRU variants differ in where the reset gate acts: ``"gru"`` applies it after the
recurrent product, ``r ⊙ (W_hn h + b_hn)`` (PyTorch, Flax, cuDNN; Keras ``reset_after=True``);
``"gru_cho"`` applies it before, ``W_hn (r ⊙ h)`` (Cho et al. 2014; Keras ``reset_after=False``).
Every preset in jaxrnn that uses a GRU uses ``"gru"`` (reset after).

Every cell has one signature for one example::

    step(params, carry, x) -> (carry, y)      x: (D,) float, or () int (a one-hot index)

and is batched with ``jax.vmap``. Params are flat dicts named like the maths; weights are
``(out, in)`` and applied as ``W @ x``. For speed, ``unroll`` splits a step in two: ``project``
(the input part, hoisted out of the scan and done for all time steps at once) and ``recur`` (the
part that needs the previous carry), both on *fused* params (gate matrices stacked in
``GATES[name]`` order, see ``Cell.fuse``). ``step`` is exactly ``recur(fuse(p), carry,
project(fuse(p), x))``.

An integer input ``x`` stands for a one-hot vector of length D: ``W @ onehot(x)`` is computed
as the column gather ``W[:, x]``, which gives the same numbers without the matmul.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxrnn.initializers import get_initializer

Array = jax.Array
ACTIVATIONS = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu}
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"),
         "gru_cho": ("r", "z", "n")}
CELLS = tuple(GATES)


class LSTMCarry(NamedTuple):
    """The LSTM carry: hidden state ``h`` and cell state ``c``, each (H,)."""

    h: Array
    c: Array


class Cell(NamedTuple):
    """A cell's pure functions (see the module docstring); build one with ``get_cell``.

    A ``Cell`` is a pytree with no leaves (registered with ``jax.tree_util.register_static``:
    the whole cell is static auxiliary data, as equinox marks such fields static), so it can be
    passed straight to a jitted function, ``jax.jit(unroll)(cell, params, xs)``, and is hashed
    into the compilation key. ``get_cell`` returns the same object for the same arguments, so
    repeated calls reuse one compilation.
    """

    name: str
    activation: str
    init: Callable[..., dict]
    fuse: Callable[[dict], dict]
    recur: Callable[[dict, Any, Array], tuple]

    def project(self, fused: dict, x: Array) -> Array:
        """Input part of the pre-activations for one example: ``W_x x + b``, shape (G,)."""
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.integer):
            return fused["W_x"][:, x] + fused["b_x"]
        return fused["W_x"] @ x + fused["b_x"]

    def step(self, params: dict, carry, x: Array):
        """One time step for one example: ``(carry, y)``."""
        fused = self.fuse(params)
        return self.recur(fused, carry, self.project(fused, x))

    def init_carry(self, params: dict, batch_shape: tuple = (), dtype=None):
        """Zero carry of shape ``batch_shape + (H,)`` (an ``LSTMCarry`` for the LSTM)."""
        size = hidden_size(params)
        dtype = dtype or _param_dtype(params)
        zeros = jnp.zeros(tuple(batch_shape) + (size,), dtype)
        return LSTMCarry(zeros, zeros) if self.name == "lstm" else zeros


jax.tree_util.register_static(Cell)


def hidden_size(params: dict) -> int:
    """H, read from a cell's params."""
    for key in ("W_hh", "W_hi", "W_hr"):
        if key in params:
            return params[key].shape[0]
    raise ValueError(f"not a cell's params: no W_hh/W_hi/W_hr among keys {sorted(params)}")


def _param_dtype(params: dict):
    return jax.tree_util.tree_leaves(params)[0].dtype


def _weights(key, D, H, n_gates, input_init, recurrent_init, dtype):
    """(input weights, recurrent weights): lists of n_gates arrays (H, D) and (H, H)."""
    keys = jax.random.split(key, 2 * n_gates)
    w_in, w_rec = get_initializer(input_init), get_initializer(recurrent_init)
    W_x = [w_in(keys[i], (H, D), dtype) for i in range(n_gates)]
    W_h = [w_rec(keys[n_gates + i], (H, H), dtype) for i in range(n_gates)]
    return W_x, W_h


def _check_sizes(D, H):
    for name, value in (("input size D", D), ("hidden size H", H)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def init_rnn(key, D: int, H: int, *, input_init="glorot", recurrent_init="orthogonal",
             bias: bool = True, dtype=jnp.float32) -> dict:
    """Params of a vanilla RNN: ``W_xh (H, D)``, ``W_hh (H, H)`` and, if ``bias``, ``b_h (H,)``."""
    _check_sizes(D, H)
    (W_xh,), (W_hh,) = _weights(key, D, H, 1, input_init, recurrent_init, dtype)
    params = {"W_xh": W_xh, "W_hh": W_hh}
    if bias:
        params["b_h"] = jnp.zeros((H,), dtype)
    return params


def init_lstm(key, D: int, H: int, *, input_init="glorot", recurrent_init="orthogonal",
              forget_bias: float = 1.0, dtype=jnp.float32) -> dict:
    """Params of an LSTM: ``W_x{i,f,g,o} (H, D)``, ``W_h{i,f,g,o} (H, H)``, ``b_{i,f,g,o} (H,)``.

    ``b_f`` starts at ``forget_bias`` (1 as in char-rnn and Keras; 0 as in PyTorch).
    """
    _check_sizes(D, H)
    W_x, W_h = _weights(key, D, H, 4, input_init, recurrent_init, dtype)
    params = {}
    for gate, wx, wh in zip(GATES["lstm"], W_x, W_h):
        params[f"W_x{gate}"], params[f"W_h{gate}"] = wx, wh
        params[f"b_{gate}"] = jnp.full((H,), forget_bias if gate == "f" else 0.0, dtype)
    return params


def init_gru(key, D: int, H: int, *, input_init="glorot", recurrent_init="orthogonal",
             dtype=jnp.float32) -> dict:
    """Params of a GRU: ``W_x{r,z,n} (H, D)``, ``W_h{r,z,n} (H, H)``, ``b_r, b_z, b_xn, b_hn (H,)``."""
    _check_sizes(D, H)
    W_x, W_h = _weights(key, D, H, 3, input_init, recurrent_init, dtype)
    params = {}
    for gate, wx, wh in zip(GATES["gru"], W_x, W_h):
        params[f"W_x{gate}"], params[f"W_h{gate}"] = wx, wh
    for name in ("b_r", "b_z", "b_xn", "b_hn"):
        params[name] = jnp.zeros((H,), dtype)
    return params


def init_gru_cho(key, D: int, H: int, *, input_init="glorot", recurrent_init="orthogonal",
                 dtype=jnp.float32) -> dict:
    """Params of the Cho GRU: ``W_x{r,z,n} (H, D)``, ``W_h{r,z,n} (H, H)``, ``b_r, b_z, b_n (H,)``."""
    _check_sizes(D, H)
    W_x, W_h = _weights(key, D, H, 3, input_init, recurrent_init, dtype)
    params = {}
    for gate, wx, wh in zip(GATES["gru_cho"], W_x, W_h):
        params[f"W_x{gate}"], params[f"W_h{gate}"] = wx, wh
        params[f"b_{gate}"] = jnp.zeros((H,), dtype)
    return params


def _fuse_rnn(params):
    b = params.get("b_h")
    if b is None:
        b = jnp.zeros(params["W_hh"].shape[:1], params["W_hh"].dtype)
    return {"W_x": params["W_xh"], "W_h": params["W_hh"], "b_x": b}


def _fuse_gates(params, gates, biases):
    return {
        "W_x": jnp.concatenate([params[f"W_x{g}"] for g in gates]),  # (G, D), G = len(gates) * H
        "W_h": jnp.concatenate([params[f"W_h{g}"] for g in gates]),  # (G, H)
        "b_x": jnp.concatenate([params[b] for b in biases]),  # (G,)
    }


def _fuse_lstm(params):
    return _fuse_gates(params, GATES["lstm"], [f"b_{g}" for g in GATES["lstm"]])


def _fuse_gru(params):
    fused = _fuse_gates(params, GATES["gru"], ["b_r", "b_z", "b_xn"])
    fused["b_hn"] = params["b_hn"]
    return fused


def _fuse_gru_cho(params):
    """W_x, b_x fused over r, z, n; W_h over r, z only (2H, H): W_hn acts on r ⊙ h, kept apart."""
    fused = _fuse_gates(params, GATES["gru_cho"], ["b_r", "b_z", "b_n"])
    fused["W_h"] = jnp.concatenate([params["W_hr"], params["W_hz"]])  # (2H, H)
    fused["W_hn"] = params["W_hn"]
    return fused


def _recur_rnn(activation):
    act = ACTIVATIONS[activation]

    def recur(fused, h, px):
        """``h_t = act(W_xh x_t + b_h + W_hh h_{t-1})``; y_t = h_t."""
        h = act(px + fused["W_h"] @ h)
        return h, h

    return recur


def _recur_lstm(fused, carry, px):
    """``i, f, o = σ(·)``, ``g = tanh(·)``, ``c_t = f ⊙ c_{t-1} + i ⊙ g``, ``h_t = o ⊙ tanh(c_t)``."""
    pre = px + fused["W_h"] @ carry.h  # (4H,)
    i, f, g, o = jnp.split(pre, 4)
    c = jax.nn.sigmoid(f) * carry.c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return LSTMCarry(h, c), h


def _recur_gru(fused, h, px):
    """Reset applied after the recurrent product (PyTorch/Flax/cuDNN; Keras ``reset_after``)."""
    x_r, x_z, x_n = jnp.split(px, 3)
    h_r, h_z, h_n = jnp.split(fused["W_h"] @ h, 3)
    r = jax.nn.sigmoid(x_r + h_r)
    z = jax.nn.sigmoid(x_z + h_z)
    n = jnp.tanh(x_n + r * (h_n + fused["b_hn"]))
    h = (1.0 - z) * n + z * h
    return h, h


def _recur_gru_cho(fused, h, px):
    """Reset applied to h before the recurrent product (Cho et al. 2014; Keras ``reset_after=False``)."""
    x_r, x_z, x_n = jnp.split(px, 3)
    h_r, h_z = jnp.split(fused["W_h"] @ h, 2)
    r = jax.nn.sigmoid(x_r + h_r)
    z = jax.nn.sigmoid(x_z + h_z)
    n = jnp.tanh(x_n + fused["W_hn"] @ (r * h))
    h = (1.0 - z) * n + z * h
    return h, h


@functools.lru_cache(maxsize=None)
def get_cell(name: str, activation: str = "tanh") -> Cell:
    """The cell called ``name`` ("rnn", "lstm", "gru" or "gru_cho"); ``activation``: "rnn" only.

    "gru" is the reset-after GRU (``gru_step``), "gru_cho" the reset-before one
    (``gru_cho_step``, Cho et al. 2014).

    The same arguments return the same object, so a cell is a stable static argument under jit.
    """
    if name not in GATES:
        raise ValueError(f"unknown cell {name!r}; expected one of {', '.join(CELLS)}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    if name == "rnn":
        return Cell("rnn", activation, init_rnn, _fuse_rnn, _recur_rnn(activation))
    if activation != "tanh":
        raise ValueError(f"activation applies to the 'rnn' cell only; {name!r} has fixed gates")
    if name == "lstm":
        return Cell("lstm", "tanh", init_lstm, _fuse_lstm, _recur_lstm)
    if name == "gru_cho":
        return Cell("gru_cho", "tanh", init_gru_cho, _fuse_gru_cho, _recur_gru_cho)
    return Cell("gru", "tanh", init_gru, _fuse_gru, _recur_gru)


def rnn_step(params: dict, h: Array, x: Array, activation: str = "tanh"):
    """Vanilla RNN step: ``h_t = act(W_xh x_t + W_hh h_{t-1} + b_h)``; returns ``(h_t, h_t)``.

    Args:
      params: ``W_xh (H, D)``, ``W_hh (H, H)``, optional ``b_h (H,)``.
      h: (H,) previous hidden state.
      x: (D,) input, or an int index of a one-hot input.
      activation: "tanh", "sigmoid" or "relu".
    """
    return get_cell("rnn", activation).step(params, h, x)


def lstm_step(params: dict, carry: LSTMCarry, x: Array):
    """LSTM step (no peepholes), gates lettered i (input), f (forget), g (candidate), o (output)::

        i = σ(W_xi x + W_hi h + b_i)     f = σ(W_xf x + W_hf h + b_f)
        g = tanh(W_xg x + W_hg h + b_g)  o = σ(W_xo x + W_ho h + b_o)
        c_t = f ⊙ c_{t-1} + i ⊙ g        h_t = o ⊙ tanh(c_t)

    Args: params from ``init_lstm``; carry ``LSTMCarry(h (H,), c (H,))``; x (D,) or int.
    Returns: ``(LSTMCarry(h_t, c_t), h_t)``.
    """
    return get_cell("lstm").step(params, carry, x)


def gru_step(params: dict, h: Array, x: Array):
    """GRU step, the variant with the reset gate applied *after* ``W_hn h + b_hn``::

        r = σ(W_xr x + W_hr h + b_r)     z = σ(W_xz x + W_hz h + b_z)
        n = tanh(W_xn x + b_xn + r ⊙ (W_hn h + b_hn))
        h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    This is PyTorch's, Flax's and cuDNN's GRU (Keras with ``reset_after=True``), not Cho et
    al. (2014), who apply r to h before ``W_hn`` (that one is ``gru_cho_step``). Every jaxrnn
    preset with a GRU uses this variant.

    Args: params from ``init_gru``; h (H,); x (D,) or int. Returns: ``(h_t, h_t)``.

    References: Cho et al., 2014, arXiv:1406.1078.
    """
    return get_cell("gru").step(params, h, x)


def gru_cho_step(params: dict, h: Array, x: Array):
    """GRU step of Cho et al. (2014), the reset gate applied to h *before* ``W_hn``::

        r = σ(W_xr x + W_hr h + b_r)     z = σ(W_xz x + W_hz h + b_z)
        n = tanh(W_xn x + W_hn (r ⊙ h) + b_n)
        h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    Keras's GRU with ``reset_after=False``; ``get_cell("gru_cho")``.

    Args: params from ``init_gru_cho``; h (H,); x (D,) or int. Returns: ``(h_t, h_t)``.

    References: Cho et al., 2014, arXiv:1406.1078, eqs. (5)-(8).
    """
    return get_cell("gru_cho").step(params, h, x)


def init_readout(key, H: int, O: int, *, init="glorot", bias: bool = True,
                 dtype=jnp.float32) -> dict:
    """Params of the linear readout: ``W_hy (O, H)`` and, if ``bias``, ``b_y (O,)`` (zeros)."""
    _check_sizes(O, H)
    params = {"W_hy": get_initializer(init)(key, (O, H), dtype)}
    if bias:
        params["b_y"] = jnp.zeros((O,), dtype)
    return params


def readout(params: dict, h: Array) -> Array:
    """``y = W_hy h + b_y`` for one example: h (H,) -> y (O,). vmap it for batches."""
    y = params["W_hy"] @ h
    return y + params["b_y"] if "b_y" in params else y
