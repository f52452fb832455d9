"""Benchmark: N seeds of a sine preset as one vmapped program vs N sequential runs of the same code.

Both sides run ``jaxrnn.sweep_sine``'s training program for the same configs and seeds: once as
``jit(vmap(train))`` over the N runs (the sweep runner, ``run_sharded``), and once as
``jit(train)`` called N times one after another. Compilation is timed apart and excluded from the
ratio (each side compiles once); the results of both sides are checked to agree. Usage::

    python scripts/bench_sweep.py                      # 32 seeds of "vlasov", 5 epochs
    python scripts/bench_sweep.py --preset adam-rnn --epochs 20 --seeds 32

Prints one line per side and the ratio (sequential time / vmapped time) from the same run.
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

from jaxrnn.config import from_preset
from jaxrnn.runs import versions
from jaxrnn.sweep import init_params, run_sharded
from jaxrnn.sweep_spec import Run
from jaxrnn.sweep_tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="vlasov")
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    task = get_task("sine")
    runs = [Run(s, {}, s, from_preset(task.presets, args.preset,
                                      {"epochs": args.epochs, "seed": s,
                                       "numpy_init_seed": -1}))
            for s in range(args.seeds)]
    program = task.make_program(runs[0].config)
    params = init_params(task, program, runs)
    hp = {k: np.stack([program.hparams(r.config)[k] for r in runs])
          for k in program.hparams(runs[0].config)}
    keys = np.stack([np.asarray(jax.random.PRNGKey(r.seed)) for r in runs])

    vmapped, timing = run_sharded(program.train, (params, hp, keys))

    one = jax.jit(program.train)
    pick = [jax.tree_util.tree_map(lambda a, i=i: a[i], (params, hp, keys))
            for i in range(len(runs))]
    t0 = time.perf_counter()
    compiled = one.lower(*pick[0]).compile()
    seq_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    outs = [jax.block_until_ready(compiled(*p)) for p in pick]
    seq_run = time.perf_counter() - t0
    name = "final:val_loss"
    sequential = np.array([o[name] for o in outs])
    agree = np.allclose(sequential, vmapped[name], rtol=1e-4, equal_nan=True)
    v = versions()
    print(f"device: {v['device_count']} x {v['device_kind']} ({v['platform']}), "
          f"{os.cpu_count()} CPU cores, jax {v['jax']}; load average "
          f"{os.getloadavg()[0]:.1f} (the machine may be shared: timings are noisy)")
    print(f"{args.seeds} runs of {args.preset!r}, {args.epochs} epochs each")
    print(f"vmapped   : compile {timing['compile_s']:.2f} s, run {timing['run_s']:.3f} s")
    print(f"sequential: compile {seq_compile:.2f} s, run {seq_run:.3f} s "
          f"({seq_run / len(runs) * 1e3:.1f} ms per run)")
    print(f"results agree (rtol 1e-4): {agree}")
    print(f"speed-up (sequential run / vmapped run): {seq_run / timing['run_s']:.1f}x; "
          f"including compilation: {(seq_run + seq_compile) / (timing['run_s'] + timing['compile_s']):.1f}x")


if __name__ == "__main__":
    main()
