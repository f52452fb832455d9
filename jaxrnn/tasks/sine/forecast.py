"""Forecasting with a window-to-next-value predictor: one step ahead, and closed loop.

A predictor maps windows ``(S, T, C)`` to next values ``(S, C)`` (a trained model, or a
baseline from ``jaxrnn.tasks.sine.baselines``). Closed loop feeds its own predictions back::

    w_0 = (s_{k}, ..., s_{k+T-1})                (true values: the start window)
    ŝ_{k+T+j} = f(w_j),   w_{j+1} = (w_j[1:], ŝ_{k+T+j})      for j = 0 .. steps-1

so after T steps the model sees only its own outputs. For jax windows the loop is one
``lax.scan`` over steps, vectorised over the S start windows; numpy windows (the baselines) run
the same recursion as a plain loop, with nothing to compile.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax


def closed_loop(predict, windows, steps: int):
    """Feeds predictions back for ``steps`` steps from each start window.

    Args:
      predict: ``(S, T, C) -> (S, C)``, jax-traceable.
      windows: (S, T, C) true start windows.
      steps: number of values to forecast (>= 1).
    Returns: (S, steps, C) forecasts ``ŝ_{k+T}, ..., ŝ_{k+T+steps-1}``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}")
    if np.ndim(windows) != 3:
        raise ValueError(f"windows must be (S, T, C); got shape {np.shape(windows)}")
    if isinstance(windows, np.ndarray):
        return _closed_loop_numpy(predict, windows, steps)

    def body(w, _):
        pred = predict(w)  # (S, C)
        if pred.shape != (w.shape[0], w.shape[2]):
            raise ValueError(f"closed loop needs predictions of every input channel, (S, C) = "
                             f"{(w.shape[0], w.shape[2])}; got {pred.shape}")
        return jnp.concatenate([w[:, 1:], pred[:, None].astype(w.dtype)], axis=1), pred

    _, preds = lax.scan(body, windows, None, length=steps)  # (steps, S, C)
    return jnp.swapaxes(preds, 0, 1)


def _closed_loop_numpy(predict, windows, steps):
    w, preds = windows, []
    for _ in range(steps):
        pred = np.asarray(predict(w))
        if pred.shape != (w.shape[0], w.shape[2]):
            raise ValueError(f"closed loop needs predictions of every input channel, (S, C) = "
                             f"{(w.shape[0], w.shape[2])}; got {pred.shape}")
        preds.append(pred)
        w = np.concatenate([w[:, 1:], pred[:, None].astype(w.dtype)], axis=1)
    return np.stack(preds, axis=1)


def start_indices(first: int, last: int, count: int) -> np.ndarray:
    """Up to ``count`` evenly spaced start windows in ``[first, last]`` (distinct ints)."""
    if last < first:
        raise ValueError(f"no start window fits: first {first} > last {last}; shorten the "
                         f"forecast (forecast_steps) or the window")
    return np.unique(np.linspace(first, last, max(int(count), 1)).round().astype(int))


def forecast_windows(series: np.ndarray, starts, T: int, steps: int):
    """Start windows (S, T, C) and the true continuations (S, steps, C) from a series (n, C)."""
    starts = np.asarray(starts)
    if starts.max() + T + steps > len(series):
        raise ValueError(f"the series has {len(series)} values; a start at {starts.max()} needs "
                         f"{starts.max() + T + steps}")
    w = series[starts[:, None] + np.arange(T)[None]]  # (S, T, C)
    truth = series[starts[:, None] + T + np.arange(steps)[None]]  # (S, steps, C)
    return w, truth


def rmse_by_horizon(forecasts, truth) -> np.ndarray:
    """RMSE at each horizon h = 1..steps over starts and channels: (steps,)."""
    forecasts, truth = np.asarray(forecasts, np.float64), np.asarray(truth, np.float64)
    if forecasts.shape != truth.shape:
        raise ValueError(f"forecasts {forecasts.shape} and truth {truth.shape} differ in shape")
    return np.sqrt(np.mean((forecasts - truth) ** 2, axis=(0, 2)))
