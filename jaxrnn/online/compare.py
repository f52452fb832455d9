"""Estimators against the exact gradient: cosine, relative error, bias and variance over N draws.

For a problem (``jaxrnn.grad.gradcheck.make_problem``) with exact gradient g* (the manual BPTT)
and estimates g_1..g_N (N independent keys; N = 1 for a deterministic estimator), over the
whole flattened gradient (cell and readout)::

    cos  = mean_n  g_n·g* / (|g_n| |g*|)            alignment
    rel  = mean_n  |g_n - g*| / |g*|                 error of one estimate
    bias = |ḡ - g*| / |g*|,  ḡ = mean_n g_n           (includes the noise of the mean)
    var  = mean_n |g_n - ḡ|² / |g*|²                 relative total variance of one estimate
    floor = sqrt(var / N)                            the bias an unbiased estimator shows at N

An unbiased estimator has bias ≈ floor; a biased one has bias ≫ floor. Every estimator gets the
readout's gradient exactly, which inflates whole-gradient alignment, so each row also has
``cell``: the same statistics over the cell's params only (what the estimators approximate).
"""
from __future__ import annotations

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxrnn.grad.gradcheck import manual_grads
from jaxrnn.online.registry import resolve, supports

EXACT_TOL = {"float64": 1e-10, "float32": 1e-4}  # rtrl_jac vs manual BPTT (max-abs relative)


def _flat(tree):
    return np.asarray(ravel_pytree(tree)[0], np.float64)


def draws(problem, name: str, samples: int, key) -> np.ndarray:
    """(N, |θ|) flattened estimates (N = samples if stochastic, else 1)."""
    fn, stochastic = resolve(name)
    kwargs = dict(window=problem.window, anchor=problem.anchor)
    keys = jax.random.split(key, samples) if stochastic else [None]
    return np.stack([_flat(fn(*problem[:6], key=k, **kwargs)) for k in keys])


def summarize(g: np.ndarray, exact: np.ndarray) -> dict:
    """The module docstring's statistics of draws g (N, |θ|) against ``exact`` (|θ|,)."""
    norm = np.linalg.norm(exact)
    mean = g.mean(0)
    var = float(np.mean(np.sum((g - mean) ** 2, -1)) / norm ** 2)
    return {"N": int(g.shape[0]),
            "cos": float(np.mean(g @ exact / (np.linalg.norm(g, axis=1) * norm))),
            "rel": float(np.mean(np.linalg.norm(g - exact, axis=1)) / norm),
            "bias": float(np.linalg.norm(mean - exact) / norm),
            "var": var, "floor": float(np.sqrt(var / g.shape[0]))}


def compare_estimators(problem, names, samples: int = 100, seed: int = 0,
                       dtype: str = "float64") -> dict:
    """{name: summary row} for each estimator that supports the problem's cell, plus
    {"skipped": {name: why}}; ``rtrl_jac``'s row also has ``max_rel`` (max-abs relative error vs
    the manual BPTT) and ``ok`` (within ``EXACT_TOL[dtype]``)."""
    exact_tree = manual_grads(*problem[:6], window=problem.window, anchor=problem.anchor)
    exact = _flat(exact_tree)
    n_cell = _flat(exact_tree["cell"]).size  # ravel order: "cell" leaves before "readout"
    rows, skipped = {}, {}
    key = jax.random.PRNGKey(seed)
    for name in names:
        resolve(name)
        if not supports(name, problem.cell.name):
            skipped[name] = f"{name} is defined for the vanilla RNN only"
            continue
        key, sub = jax.random.split(key)
        g = draws(problem, name, samples, sub)
        rows[name] = summarize(g, exact)
        rows[name]["cell"] = summarize(g[:, :n_cell], exact[:n_cell])
        if name == "rtrl_jac":
            rel = float(np.max(np.abs(g[0] - exact)) / np.max(np.abs(exact)))
            rows[name].update(max_rel=rel, ok=rel <= EXACT_TOL[dtype])
    return {"rows": rows, "skipped": skipped}


def format_estimators(result: dict, samples: int) -> str:
    """The estimator table: one row per estimator."""
    lines = [f"online estimators vs the exact gradient (manual BPTT), whole gradient; "
             f"stochastic ones over N={samples} draws",
             f"{'estimator':<11}{'N':>6}{'cosine':>10}{'rel err':>10}{'bias':>10}"
             f"{'floor':>10}{'variance':>11}{'cell cos':>10}{'cell rel':>10}"]
    for name, r in result["rows"].items():
        lines.append(f"{name:<11}{r['N']:>6}{r['cos']:>10.4f}{r['rel']:>10.3g}{r['bias']:>10.3g}"
                     f"{r['floor']:>10.3g}{r['var']:>11.3g}{r['cell']['cos']:>10.4f}"
                     f"{r['cell']['rel']:>10.3g}")
    lines.append("bias = |mean - exact| / |exact|; floor = sqrt(variance / N), the bias an "
                 "unbiased estimator shows at this N; cell cos/rel: the cell's params only (the "
                 "readout's gradient is exact in every estimator)")
    ex = result["rows"].get("rtrl_jac")
    if ex:
        lines.append(f"rtrl_jac max relative error {ex['max_rel']:.2e}: "
                     f"{'ok' if ex['ok'] else 'MISMATCH'}")
    for name, why in result["skipped"].items():
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)
