"""Scoring a trained character model on any text (``jaxrnn eval --run DIR --text FILE``).

Every character after the first is predicted from the ones before it, and the score is the
mean over those N - 1 predictions::

    nats/char = -(1 / (N - 1)) Σ_{t=2..N} log p(c_t | c_1 .. c_{t-1}),   bits/char = nats / ln 2

The whole file counts (no tail is dropped). As the run's own validation does, the text runs in
windows of the run's ``seq_len``: with ``carry_state`` the carry flows from window to window
(the file is one sequence), without it every window starts from zeros.

Out-of-vocabulary rule: characters the run never saw (absent from its ``vocab.json``) are
*skipped*: removed from the text before scoring, so the text around them is read as if they
were not there. Their number and the distinct characters are reported (``oov_chars``,
``oov_distinct``); no probability is given to them, so a text with many of them scores better
than the model deserves: compare ``oov_chars`` with ``chars``.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrnn.data.text import Vocab, read_text
from jaxrnn.tasks.char.model import ModelSpec, init_carries, window_nll
from jaxrnn.tasks.char.saved import load_model


@functools.partial(jax.jit, static_argnames=("spec", "carry_state"))
def _windows_nll(spec: ModelSpec, params: dict, xs, ys, carries, carry_state: bool):
    """(k,) summed nats of each of k windows xs, ys (k, T) and the final carries."""
    zero = init_carries(spec, params)

    def body(c, window):
        nll, c = window_nll(spec, params, window[0], window[1], c if carry_state else zero)
        return c, nll

    carries, nll = lax.scan(body, carries, (xs, ys))
    return nll, carries


def score_ids(spec: ModelSpec, params: dict, ids: np.ndarray, seq_len: int,
              carry_state: bool) -> tuple[float, int]:
    """``(summed nats, predictions)`` over (N,) ids: k full windows of ``seq_len``, then the
    tail window (shorter) with the carry the full ones left; summed on the host in float64."""
    n = len(ids) - 1
    if n < 1:
        raise ValueError("the text has fewer than 2 characters in the model's vocabulary; "
                         "nothing to score")
    k, r = divmod(n, seq_len)
    carries, total = init_carries(spec, params), 0.0
    for start, count, length in ((0, k, seq_len), (k * seq_len, 1 if r else 0, r)):
        if count:
            x = ids[start:start + count * length].reshape(count, length)
            y = ids[start + 1:start + 1 + count * length].reshape(count, length)
            nll, carries = _windows_nll(spec, params, jnp.asarray(x), jnp.asarray(y), carries,
                                        carry_state)
            total += float(np.sum(np.asarray(nll, np.float64)))
    return total, n


def score_text(spec: ModelSpec, params: dict, vocab: Vocab, text: str, *, seq_len: int,
               carry_state: bool) -> dict:
    """The scores of ``text`` (module docstring), out-of-vocabulary characters skipped."""
    known = set(vocab.chars)
    kept = "".join(c for c in text if c in known)
    oov = sorted(set(text) - known)
    nats, n = score_ids(spec, params, vocab.encode(kept), seq_len, carry_state)
    return {"nats_per_char": nats / n, "bits_per_char": nats / n / math.log(2),
            "predictions": n, "chars": len(text), "oov_chars": len(text) - len(kept),
            "oov_distinct": "".join(oov), "oov_rule": "skipped", "seq_len": seq_len,
            "carry_state": carry_state}


def score_file(run_dir, path, *, checkpoint: str = "best") -> dict:
    """``score_text`` of the UTF-8 file ``path`` by the run in ``run_dir`` (its ``checkpoint``:
    best, latest or a file), with the run's ``seq_len`` and ``carry_state``."""
    spec, params, vocab, cfg = load_model(run_dir, checkpoint)
    scores = score_text(spec, params, vocab, read_text(str(path)), seq_len=cfg.seq_len,
                        carry_state=cfg.carry_state)
    return {"run": str(run_dir), "text": str(path), "checkpoint": checkpoint, **scores}
