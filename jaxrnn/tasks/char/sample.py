"""Sampling text from a character model: a prime, then ``length`` characters in one ``lax.scan``.

The prime is run through the model in one unroll; from its last logits z, each step draws::

    c ~ softmax(z / τ)                 (temperature τ > 0; τ < 1 sharpens, τ > 1 flattens)
    top-k: logits below the k-th largest set to -inf before drawing (k = 0: no restriction)
    argmax: c = argmax z               (greedy; τ and k are ignored)

then feeds c back in for the next logits. The whole loop is one jitted ``lax.scan`` (no
per-character Python loop); it is compiled once per (model, prime length, length, k, argmax).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxrnn.tasks.char.model import ModelSpec, apply, init_carries
from jaxrnn.data.text import Vocab


def choose(key, logits, temperature, *, top_k: int = 0, argmax: bool = False):
    """One character id from (V,) logits (module docstring)."""
    if argmax:
        return jnp.argmax(logits).astype(jnp.int32)
    z = logits / temperature
    if top_k:
        kth = lax.top_k(z, top_k)[0][-1]
        z = jnp.where(z < kth, -jnp.inf, z)
    return jax.random.categorical(key, z).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("spec", "length", "top_k", "argmax"))
def sample_ids(spec: ModelSpec, params: dict, prime, key, temperature=1.0, *, length: int,
               top_k: int = 0, argmax: bool = False):
    """(length,) int32 ids that follow ``prime`` ((P,) int ids, P >= 1)."""
    logits, carries = apply(spec, params, prime, init_carries(spec, params))  # (P, V)

    def body(state, k):
        z, carries = state
        c = choose(k, z, temperature, top_k=top_k, argmax=argmax)
        z, carries = apply(spec, params, c[None], carries)  # (1, V)
        return (z[0], carries), c

    _, ids = lax.scan(body, (logits[-1], carries), jax.random.split(key, length))
    return ids


def check_sampling(temperature: float, top_k: int, length: int, vocab_size: int) -> None:
    """ValueError naming the argument when a sampling option is out of range."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0 (use --argmax for greedy); got {temperature}")
    if not 0 <= top_k <= vocab_size:
        raise ValueError(f"top_k must be in [0, V={vocab_size}] (0: all characters); got {top_k}")
    if length < 1:
        raise ValueError(f"length must be a positive number of characters; got {length}")


def sample_text(spec: ModelSpec, params: dict, vocab: Vocab, prime: str, key, *,
                length: int = 200, temperature: float = 1.0, top_k: int = 0,
                argmax: bool = False) -> str:
    """``length`` characters generated after ``prime`` (not including the prime).

    Raises:
      ValueError: an empty prime, a prime with characters outside ``vocab``, or a bad option.
    """
    if not prime:
        raise ValueError("prime must be at least one character (the model needs an input to "
                         "start from)")
    check_sampling(temperature, top_k, length, vocab.size)
    ids = vocab.encode(prime, what=f"prime {prime!r}")
    out = sample_ids(spec, params, jnp.asarray(ids), key, temperature, length=length,
                     top_k=top_k, argmax=argmax)
    return vocab.decode(jax.device_get(out))
