"""Wall time of parallel-in-time evaluation against the sequential scan, for T from 1k to 100k.

    python scripts/bench_deer.py                       # rnn H=16 B=1 float32, T = 1k,10k,100k
    python scripts/bench_deer.py --lengths 1000 --methods deer,quasi-deer,elk
    python scripts/bench_deer.py --cell gru --hidden 32 --lengths 1000,30000 --methods deer

Times the forward evaluation ``jax.jit(unroll)`` (``lax.scan``) and
``jax.jit(unroll_parallel, method=m)`` from a zero guess to the default tolerance (100 ε) on the
default device (CPU here, a GPU when one is present: the same command), median seconds of
interleaved rounds (``bench.time_interleaved``), after checking each result against the scan.
Prints a Markdown table: seconds, iterations, and scan/method (> 1: the parallel method is
faster). The parallel methods do O(T S³) (DEER, ELK) or O(T S) (quasi-DEER) work per iteration
against the scan's O(T S²) once, so they can win only where the device has parallel width
the sequential scan leaves idle, which a 2-core CPU does not have. ELK's Kalman filter and
smoother are associative scans too (``jaxrnn.parallel.elk``), with a larger constant than DEER's.
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

from jaxrnn import get_cell, unroll  # noqa: E402
from jaxrnn.parallel import METHODS, unroll_parallel  # noqa: E402


def runners(cell, params, xs, methods):
    """{name: (step, sync)} and the iteration counts, each result checked against the scan."""
    scan = jax.jit(unroll)
    out = {"scan": scan(cell, params, xs)}
    runs = {"scan": (lambda: out.__setitem__("scan", scan(cell, params, xs)),
                     lambda: jax.block_until_ready(out["scan"]))}
    iterations = {"scan": 1}
    for m in methods:
        solve = jax.jit(functools.partial(unroll_parallel, method=m, max_iters=xs.shape[0]))
        ys, _, info = solve(cell, params, xs)
        err = float(jnp.max(jnp.abs(ys - out["scan"][0])))
        iterations[m] = int(jnp.max(info.iterations))
        print(f"  {m}: {iterations[m]} iterations, max|ys - scan| {err:.1e}", file=sys.stderr)
        runs[m] = (lambda s=solve, k=m: out.__setitem__(k, s(cell, params, xs)),
                   lambda k=m: jax.block_until_ready(out[k]))
    return runs, iterations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="rnn", choices=("rnn", "lstm", "gru"))
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--lengths", default="1000,10000,100000")
    parser.add_argument("--methods", default="deer,quasi-deer",
                        help=f"some of {','.join(METHODS)} (elk: the costliest per iteration)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per round")
    args = parser.parse_args(argv)
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    methods = args.methods.split(",")
    cell = get_cell(args.cell)
    params = cell.init(jax.random.PRNGKey(0), 1, args.hidden, dtype=jnp.dtype(args.dtype))
    print(f"{args.cell} H={args.hidden} B={args.batch} {args.dtype} on "
          f"{jax.devices()[0].device_kind} ({jax.default_backend()}); median of {args.rounds} "
          f"interleaved rounds")
    print("| T | scan s | " + " | ".join(f"{m} s (iters) | scan/{m}" for m in methods) + " |")
    print("|---|---|" + "---|---|" * len(methods))
    for T in (int(v) for v in args.lengths.split(",")):
        xs = jax.random.normal(jax.random.PRNGKey(1), (T, args.batch, 1), jnp.dtype(args.dtype))
        runs, iterations = runners(cell, params, xs, methods)
        times = bench.time_interleaved(runs, args.rounds, args.min_time)
        cells = [f"{times[m]:.3g} ({iterations[m]}) | {times['scan'] / times[m]:.2f}"
                 for m in methods]
        print(f"| {T} | {times['scan']:.3g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
