"""Baselines for next-value prediction from a window, on the same split as the models.

Each predictor maps windows ``X (N, T, C)`` to next values ``(N, C)`` (targets are the same
channels as the inputs), and is written with array operations that work on numpy and jax
arrays alike, so closed-loop forecasts (``jaxrnn.tasks.sine.forecast``) can feed any of them back.

==================  ===========================================================================
``zero``            ``ŷ = 0``
``last_value``      ``ŷ = x_T`` (persistence)
``linear_ar``       ``ŷ = w · vec(X) + b``, least squares on the training windows (all T lags of
                    every channel). Exact on a pure sine: ``sin(x + d) = 2 cos(d) sin(x) -
                    sin(x - d)`` is a linear recurrence of order 2 (order 2k for k sinusoids).
``seasonal_naive``  ``ŷ = x_{T+1-m}``: the value one season (m steps) before the target (m <= T)
==================  ===========================================================================
"""
from __future__ import annotations

import numpy as np


def predict_zero(X):
    """Zeros (N, C)."""
    return X[:, -1, :] * 0.0


def predict_last_value(X):
    """The window's last value (N, C)."""
    return X[:, -1, :]


def fit_linear_ar(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Least-squares weights ``(T*C + 1, C_out)`` of ``Y ≈ [vec(X), 1] @ w`` (float64, lstsq)."""
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    if X.ndim != 3 or Y.ndim != 2 or len(X) != len(Y):
        raise ValueError(f"need X (N, T, C) and Y (N, O) with the same N; got {X.shape}, "
                         f"{Y.shape}")
    A = np.concatenate([X.reshape(len(X), -1), np.ones((len(X), 1))], axis=1)
    w, *_ = np.linalg.lstsq(A, Y, rcond=None)
    return w


def linear_ar(w):
    """A predictor ``X (N, T, C) -> (N, C_out)`` from ``fit_linear_ar``'s weights."""

    def predict(X):
        flat = X.reshape(X.shape[0], -1)  # (N, T*C)
        return flat @ w[:-1].astype(flat.dtype) + w[-1:].astype(flat.dtype)

    return predict


def seasonal_naive(season: int, T: int):
    """A predictor returning the value ``season`` steps before the target: ``X[:, T - season]``."""
    if not isinstance(season, int) or not 1 <= season <= T:
        raise ValueError(f"season must be an int in [1, seq_len={T}] (the value one season back "
                         f"must be inside the window); got {season!r}")

    def predict(X):
        return X[:, T - season, :]

    return predict


def rmse(pred, target) -> float:
    """Root mean squared error over every element."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {pred.shape} != target shape {target.shape}")
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def make_baselines(x_train, y_train, *, season: int | None = None) -> dict:
    """Name -> predictor for every baseline that applies (seasonal-naive only with a season)."""
    T = x_train.shape[1]
    out = {"zero": predict_zero, "last_value": predict_last_value,
           "linear_ar": linear_ar(fit_linear_ar(x_train, y_train))}
    if season is not None:
        out["seasonal_naive"] = seasonal_naive(season, T)
    return out
