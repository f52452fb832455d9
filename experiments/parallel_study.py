"""Parallel-in-time evaluation, measured: exactness, and iterations vs T and vs chaos.

1. Exactness: max |ys - scan| of ``unroll_parallel`` per cell x method x dtype (H=8, T=64, B=4,
   converged to the default tolerance, 100 ε).
2. Iterations: a tanh RNN (H=16, D=1, W_hh = g N(0, 1/H), inputs N(0, 0.5²)) with the recurrent
   scale g across the edge of chaos; for each g the largest Lyapunov exponent λ_1 along a
   T=2000 trajectory (``largest_lyapunov``), and for each method and T the iterations from a
   zero guess to a residual of 1e-8 (float64), capped at T. Gonzalez et al. (2025) predict
   iterations ~ log T when λ_1 < 0 and ~ T when λ_1 > 0. ``--elk-max-T`` caps the T at which ELK
   runs (its iterations are the costliest: 13-32x DEER's on a CPU, and it may need T of them).

Usage: ``python experiments/parallel_study.py [--out experiments/parallel_results]
[--lengths 100,300,1000] [--scales 0.5,...]``; writes ``exactness.md``, ``iterations.csv``,
``iterations.md``, ``iterations.png``, ``lyapunov.png``; prints the tables.
"""
from __future__ import annotations

import argparse
import csv
import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrnn import get_cell, unroll
from jaxrnn.parallel import METHODS, largest_lyapunov, trajectory_jacobians, unroll_parallel
from jaxrnn.plots.common import save
from jaxrnn.plots.parallel import plot_iterations, plot_lyapunov

jax.config.update("jax_enable_x64", True)
H, D, TOL, LLE_T = 16, 1, 1e-8, 2000


def exactness(T=64, B=4, Hx=8) -> list:
    """Rows (cell, method, dtype, max|ys - scan|, iterations max) on random problems."""
    rows = []
    for name in ("rnn", "lstm", "gru"):
        for dtype in (jnp.float64, jnp.float32):
            cell = get_cell(name)
            params = cell.init(jax.random.PRNGKey(0), 3, Hx, dtype=dtype)
            xs = jax.random.normal(jax.random.PRNGKey(1), (T, B, 3), dtype)
            ys, _ = jax.jit(unroll)(cell, params, xs)
            for method in METHODS:
                run = jax.jit(functools.partial(unroll_parallel, method=method, max_iters=400))
                yp, _, info = run(cell, params, xs)
                rows.append(dict(cell=name, method=method, dtype=jnp.dtype(dtype).name,
                                 err=float(jnp.max(jnp.abs(yp - ys))),
                                 iterations=int(jnp.max(info.iterations))))
    return rows


def rnn_params(scale, seed=0):
    k_x, k_h = jax.random.split(jax.random.PRNGKey(seed))
    return {"W_xh": jax.random.normal(k_x, (H, D)), "b_h": jnp.zeros(H),
            "W_hh": scale * jax.random.normal(k_h, (H, H)) / jnp.sqrt(H)}


def inputs(T, seed=1):
    return 0.5 * jax.random.normal(jax.random.PRNGKey(seed), (T, D))


@functools.lru_cache(maxsize=None)
def solver(method, T):
    """One compiled solve per (method, T), shared across the W_hh scales."""
    return jax.jit(functools.partial(unroll_parallel, get_cell("rnn"), method=method, tol=TOL,
                                     max_iters=T))


def iterations(scales, lengths, elk_max_T) -> tuple:
    """(rows, running λ_1 per scale): iterations of each method per (g, T); ELK only up to
    ``elk_max_T`` (its iterations are the costliest: T of them at T=1000 take minutes on a CPU)."""
    jac = jax.jit(trajectory_jacobians, static_argnums=0)
    rows, running = [], {}
    for scale in scales:
        params = rnn_params(scale)
        lle, run = largest_lyapunov(jac(get_cell("rnn"), params, inputs(LLE_T)))
        running[f"g={scale:g}"] = np.asarray(run)
        for T in lengths:
            for method in (m for m in METHODS if m != "elk" or T <= elk_max_T):
                t0 = time.perf_counter()
                _, _, info = jax.block_until_ready(solver(method, T)(params, inputs(T)))
                rows.append(dict(scale=scale, lle=float(lle), T=T, method=method,
                                 iterations=int(info.iterations),
                                 residual=float(info.residual),
                                 converged=bool(info.residual <= TOL),
                                 seconds=time.perf_counter() - t0))
                print(rows[-1], flush=True)
    return rows, running


def exactness_table(rows) -> str:
    lines = ["| cell | method | float64 max abs err | float32 max abs err | iterations (f64/f32) |",
             "|---|---|---|---|---|"]
    for name in ("rnn", "lstm", "gru"):
        for method in METHODS:
            r64, r32 = (next(r for r in rows if (r["cell"], r["method"], r["dtype"]) ==
                             (name, method, dt)) for dt in ("float64", "float32"))
            lines.append(f"| {name} | {method} | {r64['err']:.1e} | {r32['err']:.1e} | "
                         f"{r64['iterations']}/{r32['iterations']} |")
    return "\n".join(lines)


def iterations_table(rows, scales, lengths) -> str:
    head = "| g | λ_1 | " + " | ".join(f"{m} T={T}" for m in METHODS for T in lengths) + " |"
    lines = [head, "|" + "---|" * (2 + len(METHODS) * len(lengths))]
    for scale in scales:
        sel = {(r["method"], r["T"]): r for r in rows if r["scale"] == scale}
        cells = [("-" if (m, T) not in sel else f"{sel[m, T]['iterations']}"
                  + ("" if sel[m, T]["converged"] else "✗")) for m in METHODS for T in lengths]
        lle = sel[METHODS[0], lengths[0]]["lle"]
        lines.append(f"| {scale:g} | {lle:+.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="experiments/parallel_results")
    parser.add_argument("--lengths", default="100,300,1000")
    parser.add_argument("--scales", default="0.5,0.8,1.0,1.2,1.5,2.0,3.0")
    parser.add_argument("--elk-max-T", type=int, default=1000)
    parser.add_argument("--skip-exactness", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lengths = [int(v) for v in args.lengths.split(",")]
    scales = [float(v) for v in args.scales.split(",")]
    if not args.skip_exactness:
        table = exactness_table(exactness())
        (out / "exactness.md").write_text(table + "\n")
        print(table, flush=True)
    rows, running = iterations(scales, lengths, args.elk_max_T)
    with open(out / "iterations.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = iterations_table(rows, scales, lengths)
    note = "(✗: not converged to 1e-8 within T iterations; -: not run)"
    (out / "iterations.md").write_text(f"{table}\n{note}\n")
    print(table)
    save(plot_iterations(rows, METHODS, lengths), out / "iterations.png")
    save(plot_lyapunov(running), out / "lyapunov.png")


if __name__ == "__main__":
    main()
