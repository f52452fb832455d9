"""Figures of character-model runs, drawn from ``metrics.csv`` rows (redrawable without training)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _col(rows, key):
    return [float(r[key]) if r.get(key) not in (None, "") else math.nan for r in rows]


def loss_curves(rows: list[dict], *, title: str = "") -> "plt.Figure":
    """Train (per logging interval), smoothed and validation loss in nats/char against epochs.

    Args: rows with ``epoch``, ``train_loss``, ``smooth_loss`` and (some) ``val_loss`` values.
    """
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    epoch = _col(rows, "epoch")
    ax.plot(epoch, _col(rows, "train_loss"), lw=0.8, alpha=0.6, label="train (interval mean)")
    ax.plot(epoch, _col(rows, "smooth_loss"), lw=1.5, label="train (smoothed, 0.999)")
    val = [(e, v) for e, v in zip(epoch, _col(rows, "val_loss")) if not math.isnan(v)]
    if val:
        ax.plot(*zip(*val), "o-", ms=3, label="validation")
    ax.set(title=title, xlabel="epoch", ylabel="nats / character")
    ax.grid(True, alpha=0.3)
    ax.legend()
    right = ax.secondary_yaxis("right", functions=(lambda n: n / math.log(2),
                                                   lambda b: b * math.log(2)))
    right.set_ylabel("bits / character")
    return fig
