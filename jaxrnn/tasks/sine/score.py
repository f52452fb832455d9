"""Scoring a trained sine model next to the baselines, and writing the run's CSV files.

Everything is scored on the held-out windows of the same split:

- one step ahead: the model's last-step prediction for each window, as it was trained;
- closed loop: ``forecast_steps`` values fed back from ``forecast_starts`` start windows in the
  held-out part, RMSE at each horizon (``jaxrnn.tasks.sine.forecast``);
- gradient norm per time step, ``||∂L/∂c_t||``, at init and after training;
- for the position encoding only: a clearly labelled *replay* of the "vidhya" tutorial's
  prediction loop, which feeds the whole window at every step (unlike training).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import model
from jaxrnn.cells import get_cell
from jaxrnn.io import runs
from jaxrnn.tasks.sine import baselines, forecast
from jaxrnn.tasks.sine.fit import carry_grad_profile, make_predict


def published_replay_inputs(X):
    """The "vidhya" prediction loop's inputs: the whole window x (T,) at every step: (N, T, T)."""
    N, T, _ = X.shape
    return jnp.broadcast_to(X[:, None, :, 0], (N, T, T))


def forecast_plan(cfg, data):
    """(start indices, steps) of the closed-loop forecasts, inside the held-out part."""
    T, first = cfg.seq_len, len(data.split.x_train)
    n_avail = len(data.series)
    last = min(data.n_obs - T - 1, n_avail - T - 1)
    steps = min(cfg.forecast_steps, n_avail - T - first)
    last = min(last, n_avail - T - steps)
    return forecast.start_indices(first, last, cfg.forecast_starts), steps


def score(cfg, data, params, params_init) -> dict:
    """Every number and array the run reports (see the module docstring)."""
    predict = make_predict(cfg, data.encode)
    model_fn = jax.jit(lambda X: predict(params, X))
    sp = data.split
    dtype = data.xe_train.dtype
    x_test = jnp.asarray(sp.x_test, dtype)
    preds = {"model": np.asarray(model_fn(x_test))}
    predictors = baselines.make_baselines(sp.x_train, sp.y_train, season=data.season)
    for name, fn in predictors.items():
        preds[name] = np.asarray(fn(np.asarray(sp.x_test)))
    rmse = {name: baselines.rmse(p, sp.y_test) for name, p in preds.items()}
    if cfg.encoding == "position":
        rmse["published_loop_replay"] = baselines.rmse(
            _replay_predict(cfg, params, x_test), sp.y_test)
    starts, steps = forecast_plan(cfg, data)
    windows, truth = forecast.forecast_windows(data.series, starts, cfg.seq_len, steps)
    closed = {"model": np.asarray(forecast.closed_loop(model_fn, jnp.asarray(windows, dtype),
                                                       steps))}
    for name, fn in predictors.items():  # numpy windows: a plain loop, nothing to compile
        closed[name] = forecast.closed_loop(fn, np.asarray(windows, np.float64), steps)
    xe, yt = data.xe_test, jnp.asarray(sp.y_test, dtype)
    return {"preds": preds, "rmse": rmse, "starts": starts, "steps": steps, "truth": truth,
            "closed": closed,
            "horizon_rmse": {k: forecast.rmse_by_horizon(v, truth) for k, v in closed.items()},
            "grad_init": carry_grad_profile(cfg, params_init, xe, yt),
            "grad_final": carry_grad_profile(cfg, params, xe, yt)}


def _replay_predict(cfg, params, x_test):
    """Last-step predictions when every step is fed the whole window (the published loop)."""
    xs = jnp.swapaxes(published_replay_inputs(x_test), 0, 1)  # (T, N, T)
    return model.forward(get_cell(cfg.cell, cfg.activation), params, xs)[0][-1]


def write_csvs(out, cfg, data, scored: dict, history: list[dict]) -> None:
    """metrics.csv, predictions.csv, forecast.csv, forecast_example.csv, grad_steps.csv."""
    runs.write_csv(out / "metrics.csv", history)
    sp = data.split
    first_target = len(sp.x_train) + cfg.seq_len
    C = sp.y_test.shape[1]
    rows = []
    for i in range(len(sp.y_test)):
        row = {"index": first_target + i}
        for c in range(C):
            sfx = f"_{c}" if C > 1 else ""
            row[f"truth{sfx}"] = float(sp.y_test[i, c])
            row.update({f"{k}{sfx}": float(v[i, c]) for k, v in scored["preds"].items()})
        rows.append(row)
    runs.write_csv(out / "predictions.csv", rows)
    runs.write_csv(out / "forecast.csv", [
        {"horizon": h + 1, **{k: float(v[h]) for k, v in scored["horizon_rmse"].items()}}
        for h in range(scored["steps"])])
    start = int(scored["starts"][0])
    example = []
    for j in range(scored["steps"]):
        row = {"index": start + cfg.seq_len + j}
        for c in range(C):
            sfx = f"_{c}" if C > 1 else ""
            row[f"truth{sfx}"] = float(scored["truth"][0, j, c])
            row.update({f"{k}{sfx}": float(v[0, j, c]) for k, v in scored["closed"].items()})
        example.append(row)
    runs.write_csv(out / "forecast_example.csv", example)
    runs.write_csv(out / "grad_steps.csv", [
        {"t": t + 1, "init": float(a), "final": float(b)}
        for t, (a, b) in enumerate(zip(scored["grad_init"], scored["grad_final"]))])
    history_series = data.series[:data.n_obs]
    runs.write_csv(out / "series.csv", [
        {"index": i, **{f"value_{c}" if C > 1 else "value": float(history_series[i, c])
                        for c in range(C)}} for i in range(len(history_series))])
