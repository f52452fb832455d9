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


def train_per_eval_interval(rows: list[dict]) -> list[tuple]:
    """``[(epoch, mean train loss)]`` at each row with a validation loss: the training loss
    averaged over the steps since the previous evaluation, so it is comparable with the
    validation loss drawn at the same epoch (an EMA of the loss lags behind it).

    Each row's ``train_loss`` is the mean over the steps since the row before (weight: the
    step difference; the first row counts from step 0); rows after the last evaluation are
    not averaged into any point.
    """
    out, total, steps, prev = [], 0.0, 0, 0
    for r in rows:
        n = int(r["step"]) - prev
        prev = int(r["step"])
        train = _col([r], "train_loss")[0]
        if n > 0 and not math.isnan(train):
            total, steps = total + n * train, steps + n
        if not math.isnan(_col([r], "val_loss")[0]):
            out.append((float(r["epoch"]), total / steps if steps else math.nan))
            total, steps = 0.0, 0
    return out


def loss_curves(rows: list[dict], *, title: str = ""):
    """Train and validation loss in nats/char against epochs: the training loss averaged over
    each evaluation interval (``train_per_eval_interval``) next to the validation loss at the
    interval's end, and faintly the mean of each logging interval when logs are more frequent.

    Args: rows with ``step``, ``epoch``, ``train_loss`` and (some) ``val_loss`` values.
    """
    fig, ax = subplots(figsize=(7, 4))
    epoch = _col(rows, "epoch")
    if any(math.isnan(v) for v in _col(rows, "val_loss")):  # else the same as the next line
        ax.plot(epoch, _col(rows, "train_loss"), lw=0.8, alpha=0.35, color="tab:blue",
                label="train, mean of each logging interval")
    train = train_per_eval_interval(rows)
    if train:
        ax.plot(*zip(*train), "s-", ms=3, color="tab:blue",
                label="train, mean over each evaluation interval")
    val = [(e, v) for e, v in zip(epoch, _col(rows, "val_loss")) if not math.isnan(v)]
    if val:
        ax.plot(*zip(*val), "o-", ms=3, color="tab:orange",
                label="validation, at the interval's end")
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
