"""The gradient-flow figure: ``jaxrnn.grad.diagnostics.gradient_flow``'s metrics (as saved in
``gradient_flow.json``), four panels with one line per recurrent-weight scale."""
from __future__ import annotations

import numpy as np

from jaxrnn.plots.common import subplots
from jaxrnn.plots.labels import carry_grad_label


def plot_gradient_flow(metrics: dict, title: str = ""):
    """Figure of ``gradient_flow``'s metrics: four panels, one line per recurrent scale."""
    fig, axes = subplots(2, 2, figsize=(11, 7.5))
    for run in metrics["runs"]:
        label = f"W_h x {run['scale']:g}"
        t = np.arange(1, len(run["grad_norms"]) + 1)
        g = np.asarray(run["grad_norms"], float)
        zeros = int(np.sum(g == 0))  # underflow: not drawable on the log axis, so said
        axes[0, 0].semilogy(t, np.where(g > 0, g, np.nan), marker=".", label=label + (
            f": exactly 0 at {zeros} of {len(g)} steps (not drawn)" if zeros else ""))
        line, = axes[0, 1].semilogy(t, run["jacobian_norm"], marker=".", label=label)
        axes[0, 1].semilogy(t, run["jacobian_min_sv"], ls=":", color=line.get_color())
        tr = run["truncation"]
        axes[1, 0].plot(tr["window"], tr["cosine"], marker=".", label=label)
        rel = np.asarray(tr["rel_error"])
        axes[1, 1].semilogy(tr["window"], np.where(rel > 0, rel, np.nan), marker=".",
                            label=label)  # exactly 0 (k >= T: nothing cut) is left out
    grad = carry_grad_label(metrics.get("settings", {}).get("cell", "rnn"))
    axes[0, 0].set(title=f"{grad} (full BPTT)", xlabel="step t", ylabel="norm")
    axes[0, 1].set(title="||ds_t/ds_{t-1}||_2 (solid), smallest singular value (dotted)",
                   xlabel="step t", ylabel="singular value")
    axes[1, 0].set(title="truncated vs full gradient: cosine similarity",
                   xlabel="window k", ylabel="cosine")
    axes[1, 1].set(title="truncated vs full gradient: ||g_k - g|| / ||g|| (0 not drawn)",
                   xlabel="window k", ylabel="relative error")
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig
