"""Figure helpers: take arrays, return a matplotlib ``Figure``, never call ``show()``.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), not pyplot: no
global figure state and no backend to choose, so nothing switches the backend on import and
figures render on machines without a display. ``save`` writes the PNG (Agg, through the
figure's own canvas).
"""
from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from jaxrnn.io import runs


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=(7, 4), squeeze: bool = True):
    """``(fig, axes)`` as ``pyplot.subplots`` with constrained layout, without pyplot state."""
    fig = Figure(figsize=figsize, constrained_layout=True)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def line_plot(x, series: dict, *, title="", xlabel="", ylabel="", logy=False, styles=None):
    """One axis with a line per entry of ``series`` (label -> y values over ``x``)."""
    fig, ax = subplots(figsize=(7, 4))
    for label, y in series.items():
        ax.plot(x, y, label=label, **(styles or {}).get(label, {}))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return fig


def save(fig, path) -> Path:
    """Saves ``fig`` as PNG at ``path`` (parents created; only on the writing process of a
    multi-host run, ``runs.is_writer``); returns the path."""
    path = Path(path)
    if not runs.is_writer():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
