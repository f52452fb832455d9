"""What each of jaxrnn's optimisations buys: interleaved A/B timings of the full training step.

    python scripts/bench_ablate.py [--sizes small,medium,large]

Each row times jaxrnn's training step (forward, backward, Adam; scripts/bench.py's sizes and
data) against the same step with one optimisation undone, in interleaved rounds in one process,
and prints the ratio (> 1: the optimisation helps):

- ``projection``: int inputs gather rows of ``W_xᵀ`` (jaxrnn) vs the vmapped per-example column
  gather of ``W_x`` vs the one-hot matmul;
- ``fused gates``: one (4H, H) recurrent matmul per step (jaxrnn) vs four per-gate (H, H) ones
  (LSTM);
- ``unroll``: ``lax.scan(unroll=1)`` (jaxrnn's CPU default) vs unroll 4 and full unroll;
- ``rnn backward``: ``unroll(backward="fused")`` (the RNN's hand-written backward pass, which
  forms ``dW_hh`` after the loop) vs ``lax.scan``'s own transpose.

The allocator setting is measured across processes by scripts/bench_malloc.py, and
``jax.checkpoint`` by scripts/bench.py's memory table.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import bench_peers  # noqa: E402

V = 65


def _column_gather(fused, xs, project):
    import jax

    return jax.vmap(project, (None, 0))(fused, xs)


def _one_hot_matmul(fused, xs, project):
    import jax

    return jax.vmap(project, (None, 0))(fused, jax.nn.one_hot(xs, fused["W_x"].shape[1],
                                                                dtype=fused["W_x"].dtype))


def _lstm_per_gate(fused, carry, px):
    import jax
    import jax.numpy as jnp

    from jaxrnn.cells import LSTMCarry

    W = jnp.split(fused["W_h"], 4)
    x_i, x_f, x_g, x_o = jnp.split(px, 4)
    i = jax.nn.sigmoid(x_i + W[0] @ carry.h)
    f = jax.nn.sigmoid(x_f + W[1] @ carry.h)
    g = jnp.tanh(x_g + W[2] @ carry.h)
    o = jax.nn.sigmoid(x_o + W[3] @ carry.h)
    c = f * carry.c + i * g
    h = o * jnp.tanh(c)
    return LSTMCarry(h, c), h


def _step(cell, size, *, project=None, recur=None, unroll=1, backward="scan"):
    """bench_peers.jaxrnn_step with the projection or the LSTM recurrence swapped out."""
    from jaxrnn import cells

    U = importlib.import_module("jaxrnn.unroll")
    H, B, T = bench.SIZES[size]
    saved = U._project_all, cells.get_cell
    try:
        if project is not None:
            U._project_all = project
        if recur is not None:
            swapped = cells.get_cell(cell)._replace(recur=recur)
            cells.get_cell = lambda name, activation="tanh": swapped
        return bench_peers.jaxrnn_step(cell, H, T, B, V, unroll=unroll, backward=backward)
    finally:
        U._project_all, cells.get_cell = saved


def ablations(cells_, sizes):
    """(name, cell, size, build): build() -> {label: step}, jaxrnn's own choice first."""
    for size in sizes:
        for cell in cells_:
            yield "projection", cell, size, lambda cell=cell, size=size: {
                "row gather": _step(cell, size),
                "column gather": _step(cell, size, project=_column_gather),
                "one-hot matmul": _step(cell, size, project=_one_hot_matmul)}
        yield "fused gates", "lstm", size, lambda size=size: {
            "fused": _step("lstm", size), "per gate": _step("lstm", size, recur=_lstm_per_gate)}
        if "rnn" in cells_:
            yield "rnn backward", "rnn", size, lambda size=size: {
                "fused": _step("rnn", size, backward="fused"), "scan": _step("rnn", size)}
        for cell in cells_:
            T = bench.SIZES[size][2]
            yield "unroll", cell, size, lambda cell=cell, size=size, T=T: {
                "unroll 1": _step(cell, size), "unroll 4": _step(cell, size, unroll=4),
                f"unroll {T}": _step(cell, size, unroll=T)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=lambda s: s.split(","), default=list(bench.SIZES))
    p.add_argument("--cells", type=lambda s: s.split(","), default=list(bench.GATES))
    p.add_argument("--only", type=lambda s: s.split(","), default=None,
                   help="only these optimisations, e.g. 'rnn backward,projection'")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.4)
    args = p.parse_args(argv)
    from jaxrnn.io.malloc import keep_freed_memory

    keep_freed_memory()
    print("| optimisation | cell | size | variants chars/s (jaxrnn's first) | jaxrnn / each other |")
    print("|---|---|---|---|---|")
    for name, cell, size, build in ablations(args.cells, args.sizes):
        if args.only and name not in args.only:
            continue
        runners = build()
        H, B, T = bench.SIZES[size]
        sec = bench.time_interleaved(runners, args.rounds, args.min_time)
        first, *others = sec
        rates = ", ".join(f"{k} {T * B / s:,.0f}" for k, s in sec.items())
        ratios = ", ".join(f"{sec[k] / sec[first]:.2f} ({k})" for k in others)
        print(f"| {name} | {cell} | {size} | {rates} | {ratios} |", flush=True)


if __name__ == "__main__":
    main()
