"""Figures of character-model runs, drawn from metrics.csv rows (redrawable without training)."""
from __future__ import annotations

import math

from jaxrnn.plots.common import subplots


def _col(rows, key):
    return [float(r[key]) if r.get(key) not in (None, "") else math.nan for r in rows]


def _bits_axis(ax):
    right = ax.secondary_yaxis("right", functions=(lambda n: n / math.log(2),
                                                   lambda b: b * math.log(2)))
    right.set_ylabel("bits / character")


def loss_curves(rows: list[dict], *, title: str = "", smooth_decay: float = 0.999):
    """Train (per logging interval), smoothed and validation loss in nats/char against epochs.

    Args: rows with ``epoch``, ``train_loss``, ``smooth_loss`` and (some) ``val_loss`` values;
      smooth_decay: d of the smoothing, for the legend.
    """
    fig, ax = subplots(figsize=(7, 4))
    epoch = _col(rows, "epoch")
    ax.plot(epoch, _col(rows, "train_loss"), lw=0.8, alpha=0.6, label="train (interval mean)")
    ax.plot(epoch, _col(rows, "smooth_loss"), lw=1.5, label=f"train (smoothed, {smooth_decay})")
    val = [(e, v) for e, v in zip(epoch, _col(rows, "val_loss")) if not math.isnan(v)]
    if val:
        ax.plot(*zip(*val), "o-", ms=3, label="validation")
    ax.set(title=title, xlabel="epoch", ylabel="nats / character")
    ax.grid(True, alpha=0.3)
    ax.legend()
    _bits_axis(ax)
    return fig


def val_against_time(runs: dict, *, target: float | None = None, title: str = ""):
    """Validation loss (nats/char) against training wall-clock minutes, one line per run.

    Args: runs: label -> metrics rows (``elapsed_s``, ``val_loss``); target: a dashed line.
    """
    fig, ax = subplots(figsize=(7, 4))
    for label, rows in runs.items():
        pts = [(t / 60, v) for t, v in zip(_col(rows, "elapsed_s"), _col(rows, "val_loss"))
               if not math.isnan(v)]
        ax.plot(*zip(*pts), "o-", ms=3, label=label)
    if target is not None:
        ax.axhline(target, ls="--", color="gray", lw=1, label=f"target {target}")
    ax.set(title=title, xlabel="training wall-clock (minutes)", ylabel="validation nats / char")
    ax.grid(True, alpha=0.3)
    ax.legend()
    _bits_axis(ax)
    return fig
