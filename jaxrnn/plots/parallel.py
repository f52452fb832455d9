"""Figures of the parallel-in-time study (``experiments/parallel_study.py``): iterations to
converge against the largest Lyapunov exponent and against T, and the running estimate of the
largest exponent along a trajectory. Arrays in, ``Figure`` out."""
from __future__ import annotations

import numpy as np

from jaxrnn.plots.common import subplots


def plot_iterations(rows: list, methods, lengths):
    """Iterations vs λ_1 (left, one line per method and T) and vs T (right, one line per method
    and W_hh scale). rows: dicts with method, T, scale, lle, iterations, converged."""
    fig, (left, right) = subplots(1, 2, figsize=(12, 4.5))
    markers = dict(zip(methods, "o^s"))
    for method in methods:
        for T in lengths:
            sel = sorted((r for r in rows if r["method"] == method and r["T"] == T),
                         key=lambda r: r["lle"])
            it = [r["iterations"] if r["converged"] else np.nan for r in sel]
            left.semilogy([r["lle"] for r in sel], it, marker=markers[method],
                          label=f"{method}, T={T}")
    scales = sorted({r["scale"] for r in rows})
    for method in methods:
        for scale in scales[::2]:
            sel = sorted((r for r in rows if r["method"] == method and r["scale"] == scale),
                         key=lambda r: r["T"])
            it = [r["iterations"] if r["converged"] else np.nan for r in sel]
            right.loglog([r["T"] for r in sel], it, marker=markers[method],
                         label=f"{method}, g={scale:g}")
    t = np.asarray(sorted(lengths), float)
    right.loglog(t, t, "k:", label="iterations = T")
    left.axvline(0.0, color="k", lw=0.8)
    left.set(title="iterations to converge vs largest Lyapunov exponent (unconverged: gap)",
             xlabel="λ_1 (per step)", ylabel="iterations")
    right.set(title="iterations vs T", xlabel="T", ylabel="iterations")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    return fig


def plot_lyapunov(running: dict):
    """Running estimate of λ_1 along the trajectory, one line per label (e.g. W_hh scale)."""
    fig, ax = subplots(figsize=(7, 4))
    for label, values in running.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set(title="largest Lyapunov exponent, running estimate", xlabel="step t",
           ylabel="(1/t) Σ log ||J_u v||")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig
