"""Character-level text data: vocabulary, encode/decode, splits, and batches of windows.

Two ways to cut a training text of N characters into batches of B windows of T steps:

- **streams** (char-rnn, min-char-rnn): the text is cut into B contiguous streams of ``k T + 1``
  characters (``k = (N - 1) // (B T)``, the tail is dropped); window w of an epoch is columns
  ``[w T, (w + 1) T]`` of every stream, so consecutive windows continue each other and the hidden
  state can be carried from one to the next (its gradient cut at the boundary with
  ``jaxrnn.unroll.detach``). An epoch is k windows.
- **random windows** (stateless, Keras style): each step draws B independent start positions
  ``s ~ U{0, ..., N - T - 1}`` and takes ``text[s : s + T + 1]``; the state starts at zero.

Batches are time-major like ``unroll``: inputs xs (T, B) and next-character targets ys (T, B),
``ys[t] = xs[t + 1]`` within a window.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def _show(chars) -> str:
    """A readable list of characters with their code points, e.g. ``'é' (U+00E9)``."""
    return ", ".join(f"{c!r} (U+{ord(c):04X})" for c in chars)


class Vocab(NamedTuple):
    """The sorted distinct characters of a text; a character's id is its position."""

    chars: str

    @property
    def size(self) -> int:
        """V, the number of characters."""
        return len(self.chars)

    def encode(self, text: str, *, what: str = "text") -> np.ndarray:
        """(N,) int32 ids of ``text``; characters outside the vocabulary raise ValueError."""
        lookup = {c: i for i, c in enumerate(self.chars)}
        try:
            return np.fromiter((lookup[c] for c in text), np.int32, count=len(text))
        except KeyError:
            unknown = sorted(set(text) - set(self.chars))
            raise ValueError(
                f"{what} contains {len(unknown)} character(s) outside the model's vocabulary: "
                f"{_show(unknown[:10])}{' ...' if len(unknown) > 10 else ''}; the vocabulary "
                f"has {self.size} characters: {self.chars!r}. Use only those characters") from None

    def decode(self, ids) -> str:
        """The text of a sequence of ids (any int array or list)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids must be in [0, {self.size}); got min {ids.min()}, "
                             f"max {ids.max()}")
        return "".join(self.chars[i] for i in ids.tolist())


def build_vocab(text: str) -> Vocab:
    """The vocabulary of ``text``: its distinct characters in code-point order."""
    if not text:
        raise ValueError("cannot build a vocabulary from empty text; pass a non-empty file")
    return Vocab("".join(sorted(set(text))))


def read_text(path) -> str:
    """The contents of a UTF-8 text file.

    Raises:
      FileNotFoundError: no such file. ValueError: the file is empty or not valid UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text file {str(path)!r} not found (--text PATH must name a "
                                f"UTF-8 text file)")
    return decode_utf8(path.read_bytes(), str(path))


def decode_utf8(data: bytes, name: str) -> str:
    """``data`` decoded as UTF-8, with errors that name the source, the offset and the fix."""
    if not data:
        raise ValueError(f"{name} is empty; a character model needs a non-empty UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{name} is not valid UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} "
            f"({e.reason}); convert it first, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`"
        ) from None


def text_sha256(text: str) -> str:
    """sha256 hex digest of the UTF-8 encoding of ``text`` (identifies a run's data)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_ids(ids: np.ndarray, val_fraction: float, test_fraction: float = 0.0):
    """Contiguous ``(train, val, test)`` splits: the first ``1 - v - t`` of the text, then v, t.

    Sizes are ``n_val = round(N v)``, ``n_test = round(N t)``, ``n_train = N - n_val - n_test``.
    """
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= f < 1.0:
            raise ValueError(f"{name} must be in [0, 1); got {f}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1 to leave training text; got "
                         f"{val_fraction} + {test_fraction}")
    n = len(ids)
    n_val, n_test = int(round(n * val_fraction)), int(round(n * test_fraction))
    n_train = n - n_val - n_test
    return ids[:n_train], ids[n_train:n_train + n_val], ids[n_train + n_val:]


def windows_per_stream(n: int, batch: int, window: int, *, what: str = "training text") -> int:
    """k = (N - 1) // (B T), the windows in one pass over B streams; ValueError when k = 0."""
    k = (n - 1) // (batch * window)
    if k < 1:
        raise ValueError(
            f"the {what} ({n} characters) is shorter than one batch of windows: batch {batch} x "
            f"window {window} + 1 = {batch * window + 1} characters are needed; use a longer text "
            f"or a smaller --batch/--seq_len")
    return k


def make_streams(ids: np.ndarray, batch: int, window: int, *, what: str = "training text"):
    """(B, k T + 1) int32: B contiguous streams; stream b starts at character ``b k T``.

    Consecutive streams share one character (the last target of b is the first input of b + 1).
    """
    k = windows_per_stream(len(ids), batch, window, what=what)
    span = k * window
    starts = np.arange(batch)[:, None] * span + np.arange(span + 1)[None, :]  # (B, kT + 1)
    return np.asarray(ids, np.int32)[starts]


def stream_window(streams, w, window: int):
    """Window ``w`` of every stream: ``(xs (T, B), ys (T, B))``; w may be traced (jit-friendly)."""
    B = streams.shape[0]
    start = jnp.asarray(w) * window
    seg = jax.lax.dynamic_slice(streams, (jnp.zeros_like(start), start), (B, window + 1))
    return seg[:, :-1].T, seg[:, 1:].T


def random_windows(key, ids, batch: int, window: int):
    """B windows at independent uniform starts: ``(xs (T, B), ys (T, B))`` (jit-friendly).

    Args: key; ids (N,) int with N >= T + 1; batch B; window T.
    """
    n = ids.shape[0]
    if n < window + 1:
        raise ValueError(f"the text ({n} characters) is shorter than one window of {window} + 1 "
                         f"characters; use a longer text or a smaller --seq_len")
    starts = jax.random.randint(key, (batch,), 0, n - window)  # (B,)
    seg = ids[starts[:, None] + jnp.arange(window + 1)[None, :]]  # (B, T + 1)
    return seg[:, :-1].T, seg[:, 1:].T


def eval_windows(ids: np.ndarray, batch: int, window: int, *, what: str = "validation text"):
    """``(xs, ys)`` each (k, T, B'): the text as B' <= B streams of k consecutive windows.

    B' shrinks from ``batch`` until at least one window fits, so short held-out texts still
    evaluate; the tail that does not fill a window is dropped.
    """
    b = max(1, min(batch, (len(ids) - 1) // window))
    streams = make_streams(ids, b, window, what=what)  # (B', kT + 1)
    k = (streams.shape[1] - 1) // window
    xs = streams[:, :-1].reshape(b, k, window).transpose(1, 2, 0)  # (k, T, B')
    ys = streams[:, 1:].reshape(b, k, window).transpose(1, 2, 0)
    return xs, ys
