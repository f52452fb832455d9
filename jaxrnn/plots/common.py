"""Figure helpers: take arrays, return a matplotlib ``Figure``, never call ``show()``.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``), not pyplot: no
global figure state and no backend to choose, so nothing switches the backend on import and
figures render on machines without a display. ``save`` writes the PNG (Agg, through the
figure's own canvas).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.figure import Figure

from jaxrnn.io import runs


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=(7, 4), squeeze: bool = True,
             sharey: bool = False, height_ratios=None):
    """``(fig, axes)`` as ``pyplot.subplots`` with constrained layout, without pyplot state."""
    fig = Figure(figsize=figsize, constrained_layout=True)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, sharey=sharey,
                             height_ratios=height_ratios)


def legend_below(ax, legend_ax, **kwargs) -> None:
    """``ax``'s legend drawn in ``legend_ax`` (an axis-less row below it), so it hides no data."""
    legend_ax.axis("off")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        legend = legend_ax.legend(handles, labels, loc="upper center", **kwargs)
        legend.set_in_layout(False)  # the row is sized for it; the layout need not move axes


def suptitle(fig, text: str, *, fontsize: float = 11):
    """A figure title wrapped to the figure's width (a long title is not cut at both sides)."""
    width_in = fig.get_size_inches()[0]
    chars = max(20, int(width_in * 72 / (0.55 * fontsize)))  # about 0.55 em per character
    return fig.suptitle(textwrap.fill(text, chars), fontsize=fontsize)


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
