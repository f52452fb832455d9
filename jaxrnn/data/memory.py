"""Synthetic tasks that need memory over many steps: the adding problem and the copy task.

**Adding problem** (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015): each
sequence has T steps of two channels, a value ``u_t ~ U(0, 1)`` and a marker ``m_t`` that is 1 at
exactly two steps, one drawn uniformly in the first half ``[0, T//2)`` and one in the second half
``[T//2, T)``, and 0 elsewhere. The target, read after the last step, is the sum of the two marked
values ``y = Σ_t m_t u_t``. Predicting the mean ``E[y] = 1`` scores ``MSE = Var(y) = 2/12 = 1/6``,
so a model that beats 1/6 has carried the first marked value across at least ``T//2`` steps.

**Copy task** (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): ``n_symbols`` random symbols
from ``{1..K}``, then ``delay`` blanks (0), a go marker (K + 1), and ``n_symbols - 1`` blanks;
the targets are blanks until the go marker, then the symbols in order. Memoryless guessing scores
``n_symbols log K / T`` nats per step (Arjovsky et al.'s baseline).

Both generators are pure jax functions of a key, so a training program draws a fresh batch at
every step inside ``jit`` and ``vmap``. Shapes are time-major like ``unroll``.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

ADDING_BASELINE_MSE = 1.0 / 6.0


def _check(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}")


def adding_batch(key, T: int, B: int, dtype=jnp.float32):
    """A batch of the adding problem (module docstring).

    Args: key; T >= 2 steps; B sequences; dtype of the values.
    Returns: ``(xs (T, B, 2), y (B, 1))``: channel 0 the values u, channel 1 the markers m.
    """
    _check("T", T, 2)
    _check("B", B, 1)
    k_u, k_1, k_2 = jax.random.split(key, 3)
    u = jax.random.uniform(k_u, (T, B), dtype)
    first = jax.random.randint(k_1, (B,), 0, T // 2)
    second = jax.random.randint(k_2, (B,), T // 2, T)
    t = jnp.arange(T)[:, None]  # (T, 1)
    m = ((t == first[None, :]) | (t == second[None, :])).astype(dtype)  # (T, B)
    return jnp.stack([u, m], axis=-1), jnp.sum(u * m, axis=0)[:, None]


def copy_batch(key, n_symbols: int, delay: int, K: int, B: int):
    """A batch of the copy task (module docstring); ``T = 2 n_symbols + delay``.

    Returns: ``(xs (T, B) int, ys (T, B) int)`` in ``{0..K+1}``: inputs with 0 blank and K + 1
    the go marker; targets 0 except the last ``n_symbols`` steps, which repeat the symbols.
    """
    _check("n_symbols", n_symbols, 1)
    _check("delay", delay, 0)
    _check("K", K, 1)
    _check("B", B, 1)
    symbols = jax.random.randint(key, (n_symbols, B), 1, K + 1)
    blanks = jnp.zeros((delay, B), symbols.dtype)
    go = jnp.full((1, B), K + 1, symbols.dtype)
    tail = jnp.zeros((n_symbols - 1, B), symbols.dtype)
    xs = jnp.concatenate([symbols, blanks, go, tail])
    ys = jnp.concatenate([jnp.zeros((n_symbols + delay, B), symbols.dtype), symbols])
    return xs, ys


def copy_baseline_nats(n_symbols: int, delay: int, K: int) -> float:
    """Per-step cross-entropy of memoryless guessing: ``n_symbols log K / T``."""
    return n_symbols * math.log(K) / (2 * n_symbols + delay)
