"""Figures of a sine run, drawn only from the files in its run directory.

``draw_all(run_dir)`` reads ``metrics.csv``, ``predictions.csv``, ``forecast.csv``,
``forecast_example.csv``, ``grad_steps.csv``, ``series.csv`` and ``summary.json`` and writes
``loss.png``, ``predictions.png``, ``forecast.png`` and ``grad_steps.png``, so figures can be
redrawn without retraining (``python -m jaxrnn.plots.sine RUN_DIR``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from jaxrnn.io import runs
from jaxrnn.plots import common as plotting
from jaxrnn.plots.common import subplots, suptitle
from jaxrnn.plots.labels import carry_grad_label, channel_names, fmt

BASELINE_STYLE = {"zero": dict(color="0.6", ls=":"),
                  "last_value": dict(color="tab:orange", ls="--"),
                  "linear_ar": dict(color="tab:green", ls="-."),
                  "seasonal_naive": dict(color="tab:purple", ls="--")}
MODEL_STYLE = dict(color="tab:blue", lw=1.8)
FLOOR_BELOW_MODEL = 0.01  # forecast axis floor, relative to the model's smallest RMSE
PER_PANEL = 100  # held-out points per predictions panel
TRUTH_STYLE = dict(color="black", lw=1.0)


def _columns(rows, name):
    return np.array([r[name] for r in rows], dtype=float)


def _finite(x, y):
    """(x, y) where y is finite: evaluations every k epochs leave NaN rows between."""
    keep = np.isfinite(y)
    return x[keep], y[keep]


def _channels(rows):
    """Channel suffixes present in a predictions-like CSV: [""] or ["_0", "_1", ...]."""
    return [""] if "truth" in rows[0] else sorted(k[5:] for k in rows[0] if k.startswith("truth_"))


def draw_loss(run: Path, summary: dict):
    rows = runs.read_csv(run / "metrics.csv")
    ep = _columns(rows, "epoch")
    fig, (a1, a2) = subplots(1, 2, figsize=(11, 4))
    a1.plot(*_finite(ep, _columns(rows, "train_loss")), label="train")
    a1.plot(*_finite(ep, _columns(rows, "val_loss")), label="held out")
    a1.set(yscale="log", xlabel="epoch (0 = init)", ylabel="objective",
           title=f"{summary['label']}: training objective")
    model_rmse = np.concatenate([_columns(rows, "train_rmse"), _columns(rows, "val_rmse")])
    a2.plot(*_finite(ep, _columns(rows, "train_rmse")), label="model, train", color="tab:cyan",
            lw=1)
    a2.plot(*_finite(ep, _columns(rows, "val_rmse")), label="model, held out", **MODEL_STYLE)
    for name, value in summary["rmse"].items():
        if name in BASELINE_STYLE:
            a2.axhline(value, label=f"{name} (held out): {value:.3g}", **BASELINE_STYLE[name])
    bottom = 0.3 * np.min(model_rmse[np.isfinite(model_rmse) & (model_rmse > 0)])
    a2.set(yscale="log", xlabel="epoch (0 = init)", ylabel="RMSE of the next value",
           title="one-step RMSE vs baselines (axis cut below the model)",
           ylim=(bottom, None))
    for ax in (a1, a2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _chunks(n: int, per_panel: int = PER_PANEL) -> list:
    """Index ranges splitting n points into panels of at most ``per_panel`` (as even as can be),
    so a long held-out stretch stays readable."""
    k = max(1, -(-n // per_panel))
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:])]


def draw_predictions(run: Path, summary: dict):
    rows = runs.read_csv(run / "predictions.csv")
    chans = _channels(rows)
    names = channel_names(summary.get("series"), len(chans))
    parts = _chunks(len(rows))
    n = len(chans) * len(parts)
    fig, axes = subplots(n, 1, figsize=(11, 2.3 + 2.2 * n), squeeze=False)
    idx = _columns(rows, "index")
    r = summary["rmse"]
    panels = [(c, p) for c in range(len(chans)) for p in parts]
    for ax, (c, part) in zip(axes[:, 0], panels):
        sfx, sl = chans[c], slice(part.start, part.stop)
        ax.plot(idx[sl], _columns(rows, f"truth{sfx}")[sl], label="truth", **TRUTH_STYLE)
        ax.plot(idx[sl], _columns(rows, f"model{sfx}")[sl],
                label=f"model (RMSE {fmt(r['model'])})", **MODEL_STYLE)
        for name in ("last_value", "linear_ar", "seasonal_naive"):
            if f"{name}{sfx}" in rows[0]:
                ax.plot(idx[sl], _columns(rows, f"{name}{sfx}")[sl],
                        label=f"{name} ({fmt(r[name])})", **BASELINE_STYLE[name])
        ax.set(ylabel=names[c], xlim=(idx[sl][0] - 0.5, idx[sl][-1] + 0.5))
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel("series index of the predicted value")
    axes[0, 0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    split = f", in {len(parts)} panels of ≤ {PER_PANEL} points" if len(parts) > 1 else ""
    suptitle(fig, f"{summary['label']}: one-step-ahead predictions on held-out windows "
                  f"(zero predictor's RMSE: {r['zero']:.3f}){split}")
    return fig


def draw_forecast(run: Path, summary: dict):
    ex = runs.read_csv(run / "forecast_example.csv")
    hz = runs.read_csv(run / "forecast.csv")
    series = runs.read_csv(run / "series.csv")
    sfx = _channels(ex)[0]
    fig, (a1, a2) = subplots(1, 2, figsize=(12, 4))
    start = int(ex[0]["index"])
    seq_len = summary.get("seq_len", summary.get("window"))  # "window" before the rename
    hist = [s for s in series if start - 2 * seq_len <= s["index"] < start]
    value_key = "value" + sfx if sfx else "value"
    a1.plot(_columns(hist, "index"), _columns(hist, value_key), color="0.4", lw=1,
            label="history (true)")
    idx = _columns(ex, "index")
    a1.plot(idx, _columns(ex, f"truth{sfx}"), label="truth", **TRUTH_STYLE)
    a1.plot(idx, _columns(ex, f"model{sfx}"), label="model, closed loop", **MODEL_STYLE)
    for name in ("linear_ar", "last_value", "seasonal_naive"):
        if f"{name}{sfx}" in ex[0]:
            a1.plot(idx, _columns(ex, f"{name}{sfx}"), label=name, **BASELINE_STYLE[name])
    a1.axvline(start - 0.5, color="0.5", lw=0.8)
    name = channel_names(summary.get("series"), len(_channels(ex)))[0]
    a1.set(xlabel="series index", ylabel=name,
           title=f"{summary['label']}: closed-loop forecast, {len(ex)} steps")
    h = _columns(hz, "horizon")
    model = _columns(hz, "model")
    a2.plot(h, model, label="model", **MODEL_STYLE)
    floor = FLOOR_BELOW_MODEL * np.min(model[np.isfinite(model) & (model > 0)], initial=np.inf)
    below = []
    for name, style in BASELINE_STYLE.items():
        if name in hz[0]:
            v = _columns(hz, name)
            line, = a2.plot(h, v, label=name, **style)
            if np.isfinite(floor) and np.nanmin(v) < floor:
                below.append(f"{name} (down to {np.nanmin(v):.1e}; v on the floor)")
                low = v < floor
                a2.plot(h[low], np.full(low.sum(), floor), ls="none", marker="v", ms=5,
                        markevery=max(1, low.sum() // 12), color=line.get_color(),
                        clip_on=False)
    a2.set(yscale="log", xlabel="horizon (steps fed back)", ylabel="RMSE",
           title=f"RMSE vs horizon over {summary['forecast']['starts']} start windows")
    if np.isfinite(floor):
        a2.set_ylim(bottom=floor)
    if below:
        a2.text(0.02, 0.06, f"axis cut at {FLOOR_BELOW_MODEL:g} x the model's best RMSE; below "
                f"it: {', '.join(below)}", transform=a2.transAxes, fontsize=7, va="bottom")
    for ax in (a1, a2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def draw_grad_steps(run: Path, summary: dict):
    rows = runs.read_csv(run / "grad_steps.csv")
    t = _columns(rows, "t")
    fig, ax = subplots(figsize=(7, 4))
    notes = []
    for key, label in (("init", "at init"), ("final", "after training")):
        g = _columns(rows, key)
        ax.plot(t, np.where(g > 0, g, np.nan), marker=".", ms=3, label=label)
        zero = t[g == 0]
        if len(zero):
            notes.append(f"{label}: exactly 0 at t <= {int(zero.max())}")
    ax.set(yscale="log", xlabel="time step t of the window", xlim=(0.5, t.max() + 0.5),
           ylabel=f"mean {carry_grad_label(summary.get('cell'))}  (full BPTT)",
           title=f"{summary['label']}: gradient of the loss w.r.t. each step's state")
    if notes:
        ax.text(0.02, 0.04, "\n".join(notes) + "\n(underflow: saturated units)",
                transform=ax.transAxes, fontsize=8, va="bottom")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def draw_all(run_dir) -> list[Path]:
    """Draws every figure of a run directory from its saved files; returns the PNG paths."""
    run = Path(run_dir)
    summary = json.loads((run / "summary.json").read_text())
    if (run / "config.json").is_file():  # the cell names the carry in grad_steps' label
        cfg = json.loads((run / "config.json").read_text()).get("config", {})
        summary = {"cell": cfg.get("cell"), "series": cfg.get("series"), **summary}
    out = []
    for name, fn in (("loss", draw_loss), ("predictions", draw_predictions),
                     ("forecast", draw_forecast), ("grad_steps", draw_grad_steps)):
        out.append(plotting.save(fn(run, summary), run / f"{name}.png"))
    return out


if __name__ == "__main__":
    for path in draw_all(sys.argv[1]):
        print(path)
