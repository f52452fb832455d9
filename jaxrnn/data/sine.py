"""Sine-wave series and their windows: the seeds' data, harder variants, and several channels.

A series is sampled at ``x_i = i * step`` (``step = x_stop / (n_points - 1)``, so ``n_points``
samples span ``[0, x_stop]`` exactly as ``linspace(0, x_stop, n_points)``), and can be sampled
past its end (``n_extra`` more points) to give closed-loop forecasts a true future.

=============  =================================================================  ===========
kind           value at x (channels)                                              linear AR
=============  =================================================================  ===========
``sine``       ``sin(x)``                                                         exact (2 lags)
``noisy``      ``sin(x) + ε``, ``ε ~ N(0, noise²)`` i.i.d.                        not exact
``two_freq``   ``sin(x) + 0.5 sin(√2 x)`` (incommensurate: never periodic)         exact (4 lags)
``am_fm``      ``(1 + 0.6 sin(0.13 x)) sin(x + 5 sin(0.11 x))``                    not exact
``sincos``     ``(sin(x), cos(x))``: two input channels, two outputs              exact
=============  =================================================================  ===========

A sum of k sinusoids obeys a linear recurrence of order 2k, so least squares on a window of at
least 2k values predicts it exactly; frequency modulation and noise break that. Beware that any
smooth series sampled finely is *nearly* linearly predictable (a linear predictor can extrapolate
a polynomial): at a spacing of 0.1 even ``am_fm`` is predicted to ~1e-10 by 10 lags. The
``am-fm`` preset therefore samples one point per radian, as the "vidhya" data do. ``noise`` adds
i.i.d. Gaussian noise to any kind (``noisy`` is ``sine`` with it); the clean series is kept.

Windows (``make_windows``) are sample-major: inputs ``X (N, T, C_in)``, next values
``Y (N, C_out)``, ``X[n] = s[n : n+T]``, ``Y[n] = s[n+T]``, ``N = n_points - T``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

SYNTHETIC = ("sine", "noisy", "two_freq", "am_fm", "sincos")


def _channels(kind: str, x: np.ndarray) -> np.ndarray:
    """The clean series (n, C) of ``kind`` at points x (n,)."""
    if kind in ("sine", "noisy"):
        return np.sin(x)[:, None]
    if kind == "two_freq":
        return (np.sin(x) + 0.5 * np.sin(np.sqrt(2.0) * x))[:, None]
    if kind == "am_fm":
        return ((1.0 + 0.6 * np.sin(0.13 * x)) * np.sin(x + 5.0 * np.sin(0.11 * x)))[:, None]
    if kind == "sincos":
        return np.stack([np.sin(x), np.cos(x)], axis=1)
    raise ValueError(f"unknown series {kind!r}; expected one of {', '.join(SYNTHETIC)}")


def make_series(kind: str, n_points: int, x_stop: float, *, noise: float = 0.0, seed: int = 0,
                n_extra: int = 0):
    """A synthetic series and its clean version, ``n_points + n_extra`` samples.

    Args:
      kind: one of ``SYNTHETIC`` (module table).
      n_points, x_stop: ``n_points`` samples spanning ``[0, x_stop]``; ``n_extra`` more continue
        at the same spacing.
      noise: standard deviation of the additive noise (``noisy`` needs it > 0).
      seed: numpy seed of the noise (a data seed, separate from the model's key).
    Returns:
      ``(values, clean)``, both float64 (n_points + n_extra, C).
    """
    if not isinstance(n_points, int) or n_points < 3:
        raise ValueError(f"n_points must be an int >= 3; got {n_points!r}")
    if not x_stop > 0:
        raise ValueError(f"x_stop must be > 0 (the series spans [0, x_stop]); got {x_stop!r}")
    if noise < 0 or (kind == "noisy" and noise == 0):
        raise ValueError(f"noise must be >= 0 (and > 0 for 'noisy'); got {noise!r}")
    x = np.arange(n_points + n_extra) * (x_stop / (n_points - 1))
    clean = _channels(kind, x)
    values = clean + noise * np.random.default_rng(seed).standard_normal(clean.shape)
    return values, clean


def make_windows(series: np.ndarray, T: int, in_channels=None, out_channels=None):
    """Sliding windows of ``T`` values and the value after each: ``(X (N, T, D), Y (N, O))``.

    Args:
      series: (n, C).
      T: window length; ``N = n - T`` windows.
      in_channels, out_channels: channel indices for inputs and targets (None: all).
    """
    series = np.asarray(series)
    if series.ndim != 2:
        raise ValueError(f"series must be (n, C); got shape {series.shape}")
    if not isinstance(T, int) or not 1 <= T < series.shape[0]:
        raise ValueError(f"window T must be an int in [1, n={series.shape[0]}); got {T!r}")
    ins = list(range(series.shape[1])) if in_channels is None else list(in_channels)
    outs = list(range(series.shape[1])) if out_channels is None else list(out_channels)
    N = series.shape[0] - T
    idx = np.arange(N)[:, None] + np.arange(T)[None, :]  # (N, T)
    return series[idx][:, :, ins], series[T:][:, outs]


class Split(NamedTuple):
    """Windows split in time order: train first, then held-out."""

    x_train: np.ndarray  # (N_train, T, D)
    y_train: np.ndarray  # (N_train, O)
    x_test: np.ndarray   # (N_test, T, D)
    y_test: np.ndarray   # (N_test, O)


def n_train_windows(N: int, train_fraction: float) -> int:
    """``round(train_fraction * N)``: 100 of 150 for "vidhya" (2/3), 792 of 990 for "vlasov"."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1); got {train_fraction!r}")
    n = int(round(train_fraction * N))
    if not 1 <= n < N:
        raise ValueError(f"train_fraction {train_fraction} leaves {n} of {N} windows for "
                         f"training; both parts need at least one window")
    return n


def split(X, Y, train_fraction: float) -> Split:
    """The first ``round(train_fraction * N)`` windows train, the rest are held out (no shuffle)."""
    n = n_train_windows(len(X), train_fraction)
    return Split(X[:n], Y[:n], X[n:], Y[n:])


def encode_positions(X: np.ndarray) -> np.ndarray:
    """The "vidhya" input encoding: step t sees a length-T vector, zero except ``x_t`` at t.

    ``x̃_t = x_t e_t``, so ``U x̃_t = x_t U[:, t]``: the input weight ``U (H, T)`` holds one
    column per time step (a per-position input weight) instead of one shared ``(H, 1)`` column.

    Args: X (N, T, 1), numpy or jax. Returns: (N, T, T), ``out[n, t, s] = X[n, t, 0] [s == t]``.
    """
    if X.ndim != 3 or X.shape[-1] != 1:
        raise ValueError(f"the position encoding needs one input channel, X (N, T, 1); "
                         f"got shape {X.shape} (use encoding='value' for several channels)")
    T = X.shape[1]
    return X * np.eye(T, dtype=X.dtype)[None]


def normalise(series: np.ndarray, n_fit: int):
    """``(series - mean) / std`` with mean and std of the first ``n_fit`` samples only.

    Returns: ``(normalised (n, C), mean (C,), std (C,))``.
    """
    if not 2 <= n_fit <= len(series):
        raise ValueError(f"n_fit must be in [2, {len(series)}]; got {n_fit}")
    mean = series[:n_fit].mean(axis=0)
    std = series[:n_fit].std(axis=0)
    if np.any(std == 0):
        raise ValueError("the training part of the series is constant; cannot normalise it")
    return (series - mean) / std, mean, std
