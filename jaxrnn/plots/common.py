"""Figure helpers: take arrays, return a matplotlib Figure, never call ``show()``.

The Agg backend is selected on import, so figures render on machines without a display.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def line_plot(x, series: dict, *, title="", xlabel="", ylabel="", logy=False, styles=None):
    """One axis with a line per entry of ``series`` (label -> y values over ``x``)."""
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
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
    """Saves ``fig`` as PNG at ``path`` (parents created) and closes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
